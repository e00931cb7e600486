#!/usr/bin/python3
"""Sendmail (Debian's sendmail-bin and sendmail-cf, unpacked by deploy/install-deps
--test into /opt/dane-relay-test/sendmail because Postfix holds Debian's MTA slot)
is the legacy MTA, configured with deploy/mta/sendmail.mc exactly as the README
tells a user: the snippet pasted into a site .mc before its MAILER lines, the .cf
built with m4. One message per lab scenario goes through it to dane-relay, which
delivers with DANE to the lab's sinks. Runs inside the lab (root).

Sendmail runs in its own mount and UTS namespaces (unshare): a qualified host name
and a private /etc/hosts (else it looks its name up in DNS and sleeps a minute), a
private /etc/resolv.conf (any stray lookup stays on loopback), and a private /dev
whose /dev/log is a socket of this test, so its syslog lines are read here."""
import os
import re
import signal
import socket
import subprocess
import time
import unittest

import relaylab
import scenarios

ROOT = os.environ.get("DR_SENDMAIL", "/opt/dane-relay-test/sendmail")
SENDMAIL = os.path.join(ROOT, "usr/libexec/sendmail/sendmail")
CF_DIR = os.path.join(ROOT, "usr/share/sendmail/cf")
SNIPPET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../deploy/mta/sendmail.mc")
HOSTNAME = "legacy-sendmail.relay.test"
EXPECTED = scenarios.DELIVERY  # every lab scenario

# A site's sendmail.mc: this instance's own paths, then the snippet, then the mailers.
SITE_MC = """divert(-1)
The lab's Sendmail: private paths and files only.
divert(0)dnl
OSTYPE(`linux')dnl
define(`confDOMAIN_NAME', `{host}')dnl
define(`QUEUE_DIR', `{d}/mqueue')dnl
define(`confPID_FILE', `{d}/sendmail.pid')dnl
define(`STATUS_FILE', `{d}/statistics')dnl
define(`ALIAS_FILE', `{d}/aliases')dnl
define(`HELP_FILE', `{d}/helpfile')dnl
define(`confSERVICE_SWITCH_FILE', `{d}/service.switch')dnl
define(`confHOSTS_FILE', `{d}/hosts')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
{snippet}MAILER(`local')dnl
MAILER(`smtp')dnl
"""

# Runs "$@" in the namespaces unshare made: own host name, /etc/hosts, resolv.conf, /dev.
WRAPPER = r"""set -e
d=$1; shift
hostname {host}
mount --bind "$d/hosts" /etc/hosts
mount --bind "$d/resolv.conf" /etc/resolv.conf
for n in null zero random urandom; do
    : > "$d/dev/$n"; mount --bind "/dev/$n" "$d/dev/$n"
done
mount --bind "$d/dev" /dev
exec "$@"
"""


class SendmailSender(unittest.TestCase):
    def setUp(self):
        self.lab = relaylab.lab()
        self.relay = relaylab.Relay(backoff="1h")
        self.addCleanup(self.relay.stop)
        self.dir = os.path.join(self.relay.dir, "sendmail")
        for sub in ("mqueue", "dev"):
            os.makedirs(os.path.join(self.dir, sub), mode=0o700)
        files = {"hosts": f"127.0.0.1 {HOSTNAME} localhost\n::1 {HOSTNAME} localhost\n",
                 "resolv.conf": "nameserver 127.0.0.1\n",
                 "service.switch": "hosts files\naliases files\n",
                 "aliases": "", "helpfile": ""}
        for name, text in files.items():
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)
        self.syslog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(self.syslog.close)
        self.syslog.bind(os.path.join(self.dir, "dev", "log"))
        self.syslog.setblocking(False)
        self.log_lines = []
        self.cf = self.build_cf()

    def tearDown(self):
        # Every Sendmail run was in the foreground: none of them is left (no daemon, no
        # background queue runner) in this lab's network namespace. (By executable: a
        # Sendmail daemon rewrites its command line.)
        netns, left = os.readlink("/proc/self/ns/net"), []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if (os.readlink(f"/proc/{pid}/exe") == SENDMAIL and
                        os.readlink(f"/proc/{pid}/ns/net") == netns):
                    left.append(pid)
            except OSError:
                pass
        for pid in left:  # ours (this namespace): ended, so that the next test starts clean
            os.kill(int(pid), signal.SIGKILL)
        self.assertEqual(left, [], "Sendmail processes left behind")

    def build_cf(self):
        with open(SNIPPET) as f:
            snippet = f.read()
        mc = os.path.join(self.dir, "sendmail.mc")
        with open(mc, "w") as f:
            f.write(SITE_MC.format(host=HOSTNAME, d=self.dir, snippet=snippet))
        p = subprocess.run(["m4", f"-D_CF_DIR_={CF_DIR}/", os.path.join(CF_DIR, "m4/cf.m4"), mc],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual((p.returncode, p.stderr), (0, ""), "m4 builds sendmail.cf")
        cf = os.path.join(self.dir, "sendmail.cf")
        with open(cf, "w") as f:
            f.write(p.stdout)
        return cf

    def sendmail(self, *args, message=""):
        cmd = ["unshare", "--mount", "--uts", "--propagation", "private", "sh", "-c",
               WRAPPER.format(host=HOSTNAME), "sh", self.dir, SENDMAIL, "-C", self.cf, *args]
        p = subprocess.run(cmd, input=message, capture_output=True, text=True, timeout=120)
        self.read_syslog()
        return p

    def read_syslog(self):
        while True:
            try:
                data = self.syslog.recv(65536)
            except BlockingIOError:
                return
            self.log_lines.append(data.decode(errors="replace").rstrip("\n\0"))

    def test_sendmail_relays_through_dane_relay(self):
        self.assertEqual(set(self.lab["domains"]), set(EXPECTED), "every scenario is sent to")
        for domain in EXPECTED:
            # -Am: as the MTA (not the submission program); -odi: deliver before returning.
            p = self.sendmail("-Am", "-odi", "-f", "legacy@relay.test", f"user@{domain}",
                              message=f"Subject: sendmail to {domain}\n\nvia Sendmail\n")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        log = "\n".join(self.log_lines)
        # Sendmail handed every message to us through the relay mailer, and logged our reply.
        handed = {}
        for line in self.log_lines:
            m = re.search(r"sendmail\[\d+\]: \w+: to=user@([^,]+), .*mailer=relay, .*"
                          r"relay=\[127\.0\.0\.1\] \[127\.0\.0\.1\], dsn=2\.0\.0, "
                          r"stat=Sent \(Ok: queued as ([0-9A-Z]+)\)$", line)
            if m:
                self.assertNotIn(m.group(1), handed, log)
                handed[m.group(1)] = m.group(2)
        self.assertEqual(sorted(handed), sorted(EXPECTED), log)
        self.assertEqual(os.listdir(os.path.join(self.dir, "mqueue")), [], "nothing left queued")
        p = self.sendmail("-bp")
        self.assertIn("Total requests: 0", p.stdout, p.stdout + p.stderr)
        for domain, queue_id in handed.items():
            # The ID Sendmail logged is the one our log gives this recipient.
            self.relay.wait_for(rf"dane-relay/smtp\[\d+\]: {queue_id}: "
                                rf"to=<user@{re.escape(domain)}>")
        relaylab.check_scenario_outcomes(self, self.relay, self.lab, EXPECTED, "legacy@relay.test")

    def test_only_mail_for_other_domains_goes_to_dane_relay(self):
        # -bv: how Sendmail would route each address, without sending anything.
        p = self.sendmail("-bv", "user@ee-good.test", f"root@{HOSTNAME}")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(sorted(p.stdout.splitlines()), sorted([
            "user@ee-good.test... deliverable: mailer relay, host [127.0.0.1], "
            "user user@ee-good.test",
            f"root@{HOSTNAME}... deliverable: mailer local, user root"]), p.stdout)

    def test_starttls_to_a_relay_with_a_certificate(self):
        # A dane-relay with [tls] (for remote MTAs' AUTH) offers STARTTLS on this hop too:
        # Sendmail takes it, cannot verify the self-signed certificate, and sends anyway.
        self.relay.stop()
        cert, key = (os.path.join(self.relay.dir, n) for n in ("cert.pem", "key.pem"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=relay.test", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=60)
        self.relay.write_conf(extra=f'[tls]\ncert = "{cert}"\nkey = "{key}"\n')
        self.relay.start()
        rcpt = "tls@ee-good.test"
        p = self.sendmail("-Am", "-odi", "-f", "legacy@relay.test", rcpt,
                          message="Subject: over STARTTLS\n\nvia Sendmail\n")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        log = "\n".join(self.log_lines)
        self.assertRegex(log, r"STARTTLS=client, relay=\[127\.0\.0\.1\], version=TLSv1\.[23], "
                              r"verify=FAIL, ")
        self.assertRegex(log, rf"to={rcpt}, .*mailer=relay, .*dsn=2\.0\.0, "
                              r"stat=Sent \(Ok: queued as [0-9A-Z]+\)")
        self.relay.wait_for(rf"to=<{rcpt}>.*status=sent")

    def test_relay_down_sendmail_queues_then_delivers(self):
        # dane-relay stopped: the hop defers (it never bounces), the message stays in
        # Sendmail's queue, and its next queue run hands it over.
        self.relay.stop()
        rcpt = "later@ee-good.test"  # not user@: the other test counts what the sinks got
        p = self.sendmail("-Am", "-odi", "-f", "legacy@relay.test", rcpt,
                          message="Subject: while dane-relay is down\n\nvia Sendmail\n")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        log = "\n".join(self.log_lines)
        self.assertRegex(log, rf"to={rcpt}, .*mailer=relay, .*dsn=4\.4\.1, "
                              r"stat=Deferred: Connection refused by \[127\.0\.0\.1\]")
        self.assertNotEqual(os.listdir(os.path.join(self.dir, "mqueue")), [])
        self.relay.start()
        p = self.sendmail("-qf")  # one queue run, in the foreground
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        log = "\n".join(self.log_lines)
        self.assertRegex(log, rf"to={rcpt}, .*mailer=relay, .*dsn=2\.0\.0, "
                              r"stat=Sent \(Ok: queued as [0-9A-Z]+\)")
        self.assertEqual(os.listdir(os.path.join(self.dir, "mqueue")), [], "nothing left queued")
        self.relay.wait_for(rf"to=<{rcpt}>.*status=sent")
        deadline = time.monotonic() + 30  # the sink records a connection when it closes
        while not relaylab.received(self.lab, rcpt) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(len(relaylab.received(self.lab, rcpt)), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)

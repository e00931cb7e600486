#!/usr/bin/python3
"""A real Postfix (Debian's, a private instance started by the test) is the
legacy MTA: it relays everything to dane-relay (relayhost = [127.0.0.1]:10025),
which delivers with DANE to the lab's sinks. Asserts per scenario what the
sinks got, dane-relay's verdicts, and that Postfix saw our "queued as" reply.
Runs inside the lab (root: Postfix's master needs it)."""
import os
import re
import subprocess
import time
import unittest

import relaylab
import scenarios

EXPECTED = scenarios.DELIVERY  # every lab scenario

MAIN_CF = """compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = legacy-postfix
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
myhostname = legacy.relay.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
relayhost = [127.0.0.1]:10025
smtp_tls_security_level = none
smtp_dns_support_level = disabled
biff = no
"""

MASTER_CF = """2525      inet  n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class PostfixSender(unittest.TestCase):
    def setUp(self):
        self.lab = relaylab.lab()
        self.relay = relaylab.Relay(backoff="1h")
        self.addCleanup(self.relay.stop)
        self.dir = self.relay.dir
        os.chmod(self.dir, 0o755)
        self.log = self.relay.log
        # Postfix
        pf = os.path.join(self.dir, "postfix")
        for sub in ("etc", "queue", "data"):
            os.makedirs(os.path.join(pf, sub))
        subprocess.run(["chown", "postfix", os.path.join(pf, "data")], check=True)
        with open(os.path.join(pf, "etc", "main.cf"), "w") as f:
            f.write(MAIN_CF.format(d=pf))
        with open(os.path.join(pf, "etc", "master.cf"), "w") as f:
            f.write(MASTER_CF)
        self.pf = pf
        subprocess.run(["postfix", "-c", os.path.join(pf, "etc"), "start"], check=True,
                       capture_output=True)
        self.addCleanup(subprocess.run, ["postfix", "-c", os.path.join(pf, "etc"), "stop"],
                        capture_output=True)
        for _ in range(100):
            if subprocess.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/2525"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.1)

    def wait_lines(self, path, pattern, count, timeout=60):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        found = []
        while time.monotonic() < deadline:
            if os.path.exists(path):
                with open(path) as f:
                    found = [l for l in f if rx.search(l)]
                if len(found) >= count:
                    return found
            time.sleep(0.2)
        self.fail(f"only {len(found)} of {count} lines matching {pattern} in {path}")

    def test_postfix_relays_through_dane_relay(self):
        self.assertEqual(set(self.lab["domains"]), set(EXPECTED), "every scenario is sent to")
        for domain in EXPECTED:
            p = subprocess.run(["swaks", "--server", "127.0.0.1:2525", "--from",
                                "legacy@relay.test", "--to", f"user@{domain}", "--silent", "2"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # Postfix handed every message to us and logged our queue ID.
        pf_lines = self.wait_lines(os.path.join(self.pf, "maillog"),
                                   r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:10025, .*status=sent "
                                   r"\(250 2\.0\.0 Ok: queued as [0-9A-Z]{10,16}\)", len(EXPECTED))
        self.assertEqual(len(pf_lines), len(EXPECTED))
        for domain in EXPECTED:
            self.relay.wait_for(rf"to=<user@{re.escape(domain)}>")
        relaylab.check_scenario_outcomes(self, self.relay, self.lab, EXPECTED, "legacy@relay.test")

if __name__ == "__main__":
    unittest.main(verbosity=2)

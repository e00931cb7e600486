#!/usr/bin/python3
"""A real Postfix (Debian's, a private instance started by the test) is the
legacy MTA: it relays everything to dane-relay (relayhost = [127.0.0.1]:10025),
which delivers with DANE to the lab's sinks. Asserts per scenario what the
sinks got, dane-relay's verdicts, and that Postfix saw our "queued as" reply.
Runs inside the lab (root: Postfix's master needs it)."""
import json
import os
import re
import subprocess
import time
import unittest

import relaylab
import scenarios
from check_scenarios_test import EXPECTED as CHECK  # the TLS level of each scenario's host

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
        self.check_report_of_postfix_log(len(pf_lines))
        self.check_report_of_our_log()

    def report(self, log):
        p = subprocess.run([relaylab.BINARY, "report", "--json", log], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def pflogsumm(self, log, name):
        p = subprocess.run(["pflogsumm", f"--syslog-name={name}", log], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return {label: int(m.group(1)) if (m := re.search(rf"^\s*(\d+)\s+{label}\b", p.stdout,
                                                          re.M)) else 0
                for label in ("delivered", "deferred", "bounced")}

    def check_report_of_postfix_log(self, relayed):
        # SPEC §11: report reads Postfix's own log. This Postfix relays in plaintext
        # (smtp_tls_security_level = none) to dane-relay, and pflogsumm agrees on the counts.
        log = os.path.join(self.pf, "maillog")
        got = self.report(log)
        self.assertEqual(got["connections"], {})
        self.assertEqual(got["deliveries"]["sent"], {"plaintext": relayed})
        self.assertEqual(got["mx_hosts"]["127.0.0.1"]["sent"], {"plaintext": relayed})
        for domain in EXPECTED:
            self.assertEqual(got["domains"][domain]["sent"], {"plaintext": 1}, domain)
        self.assertEqual(self.pflogsumm(log, "legacy-postfix")["delivered"], relayed)

    def check_report_of_our_log(self):
        # Every scenario once: its status from scenarios.DELIVERY, the TLS level its host
        # gets (check_scenarios_test: Verified for DANE, Trusted for half-dane, Untrusted
        # for opportunistic TLS), DANE failures marked as such.
        got = self.report(self.log)
        for domain, (status, dsn) in EXPECTED.items():
            d = got["domains"][domain]
            if status == "sent":
                self.assertEqual(d["sent"], {CHECK[domain][2]: 1}, domain)
            else:
                self.assertEqual((d["sent"], d[status]), ({}, 1), domain)
        sent = {}
        for domain, (status, _) in EXPECTED.items():
            if status == "sent":
                sent[CHECK[domain][2]] = sent.get(CHECK[domain][2], 0) + 1
        ours = {k: v for k, v in got["deliveries"]["sent"].items()}
        notices = got["domains"].get("relay.test", {"sent": {}})["sent"]
        for level, n in notices.items():
            ours[level] -= n
        self.assertEqual({k: v for k, v in ours.items() if v}, sent)
        dane_deferred = sum(f["deferred"] for f in got["failures"].values() if f["dane"])
        self.assertEqual(dane_deferred, sum(1 for status, dsn in EXPECTED.values()
                                            if status == "deferred" and dsn.startswith("4.7.")))
        self.assertEqual(sum(f["deferred"] for f in got["failures"].values()),
                         got["deliveries"]["deferred"])
        self.assertGreaterEqual(sum(got["connections"].values()), sum(sent.values()))
        # (pflogsumm 1.1.5 cannot read delivery lines with the tls= field, on by default;
        # lab_serve referees our log with pflogsumm, the field turned off.)

if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""Exim (Debian's binary, unpacked by deploy/install-deps --test into
/opt/dane-relay-test/exim because Postfix holds Debian's MTA slot) is the
legacy MTA: a manualroute smarthost router sends everything to dane-relay,
which delivers with DANE to the lab's sinks. Runs inside the lab (root)."""
import os
import re
import subprocess
import unittest

import relaylab
import scenarios

EXIM_ROOT = os.environ.get("DR_EXIM", "/opt/dane-relay-test/exim")
EXIM = os.path.join(EXIM_ROOT, "usr/sbin/exim4")
EXPECTED = scenarios.DELIVERY  # every lab scenario

CONFIG = """exim_path = {exim}
primary_hostname = legacy-exim.relay.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
trusted_users = root
begin routers
dane_relay:
  driver = manualroute
  domains = *
  transport = to_dane_relay
  route_list = * 127.0.0.1::10025 byname
  self = send
  no_more
begin transports
to_dane_relay:
  driver = smtp
  hosts_avoid_tls = *
begin retry
* * F,1h,5m
"""


class EximSender(unittest.TestCase):
    def setUp(self):
        self.lab = relaylab.lab()
        self.relay = relaylab.Relay(backoff="1h")
        self.addCleanup(self.relay.stop)
        self.dir = os.path.join(self.relay.dir, "exim")
        for sub in ("spool", "log"):
            os.makedirs(os.path.join(self.dir, sub))
        os.chmod(self.relay.dir, 0o755)
        subprocess.run(["chown", "-R", "Debian-exim", self.dir], check=True)
        self.conf = os.path.join(self.dir, "exim.conf")
        with open(self.conf, "w") as f:
            f.write(CONFIG.format(exim=EXIM, d=self.dir))

    def send(self, rcpt):
        # -odf: Exim delivers in the foreground, so its attempt is over when this returns.
        msg = f"Subject: exim to {rcpt}\n\nvia Exim\n"
        return subprocess.run([EXIM, "-C", self.conf, "-odf", "-f", "legacy@relay.test", rcpt],
                              input=msg, capture_output=True, text=True, timeout=60)

    def test_exim_relays_through_dane_relay(self):
        self.assertEqual(set(self.lab["domains"]), set(EXPECTED), "every scenario is sent to")
        for domain in EXPECTED:
            p = self.send(f"user@{domain}")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(os.path.join(self.dir, "log", "mainlog")) as f:
            exim_log = f.read()
        handed = re.findall(r"=> user@(\S+) R=dane_relay T=to_dane_relay H=127\.0\.0\.1 "
                            r"\[127\.0\.0\.1\]\S*\s.*?C=\"250 2\.0\.0 Ok: queued as [0-9A-Z]+\"",
                            exim_log)
        self.assertEqual(sorted(handed), sorted(EXPECTED), exim_log)
        for domain in EXPECTED:
            self.relay.wait_for(rf"to=<user@{re.escape(domain)}>")
        relaylab.check_scenario_outcomes(self, self.relay, self.lab, EXPECTED, "legacy@relay.test")

if __name__ == "__main__":
    unittest.main(verbosity=2)

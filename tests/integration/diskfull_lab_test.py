#!/usr/bin/python3
"""SPEC §3/§4: when the spool's file system is full the relay answers
452 4.3.1, leaves nothing half-written, keeps what it had, and accepts again
once there is space. The spool is a small tmpfs mounted by the test (root)."""
import json
import os
import smtplib
import subprocess
import unittest

import relaylab


class DiskFull(unittest.TestCase):
    def setUp(self):
        self.relay = relaylab.Relay(backoff="1h", start=False)
        self.spool = os.path.join(self.relay.dir, "fs")
        os.mkdir(self.spool)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", self.spool], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", self.spool])
        self.relay.write_conf(spool=os.path.join(self.spool, "q"))
        self.addCleanup(lambda: self.relay.proc.poll() is None and self.relay.stop())

    def send(self, n, size):
        body = f"Subject: fill {n}\r\n\r\n" + ("y" * 998 + "\r\n") * (size // 1000)
        # no-starttls.test defers (DANE without STARTTLS), so mail stays queued.
        with smtplib.SMTP("127.0.0.1", 10025, timeout=30) as s:
            s.sendmail("fill@relay.test", [f"u{n}@no-starttls.test"], body)

    def test_full_spool_says_452_and_recovers(self):
        self.relay.start()
        filler = os.path.join(self.spool, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (6 * 1024 * 1024))
        accepted, refused = 0, None
        for n in range(40):
            try:
                self.send(n, 1024 * 1024)
                accepted += 1
            except smtplib.SMTPDataError as e:
                refused = e
                break
            except smtplib.SMTPResponseException as e:
                refused = e
                break
        self.assertIsNotNone(refused, "the spool never filled up")
        self.assertEqual(refused.smtp_code, 452)
        self.assertIn(b"4.3.1", refused.smtp_error)
        self.assertGreater(accepted, 0)
        self.assertEqual(os.listdir(os.path.join(self.spool, "q", "incoming")), [],
                         "nothing half-written is left behind")
        os.unlink(filler)
        self.send(99, 100 * 1024)  # space is back: accepted again
        self.assertEqual(self.relay.stop(), 0)
        # Every accepted message is still there and parses (queue list reads them all).
        out = subprocess.run([relaylab.BINARY, "queue", "-c", self.relay.conf, "list", "--json"],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        ids = [json.loads(line)["queue_id"] for line in out.stdout.splitlines() if line.strip()]
        self.assertEqual(len(ids), accepted + 1, out.stdout[:500])
        corrupt = os.path.join(self.spool, "q", "corrupt")
        self.assertEqual(os.listdir(corrupt) if os.path.isdir(corrupt) else [], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)

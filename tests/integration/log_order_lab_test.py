#!/usr/bin/python3
"""The compliance log read in order (SPEC §6 "Order and integrity"), through
the real daemon in the lab: several messages to every scenario domain of
scenarios.py, injected at once over concurrent SMTP connections, so that the
relay runs many sessions side by side and reuses connections. Then, reading
the log top to bottom like an auditor:

- every delivery line carries Postfix 3.11's tls= field (on by default);
- a delivery line that went out over TLS comes after the TLS line of its
  session: for each relay, the TLS lines seen so far are at least the
  sessions that have delivered so far (a session's first message has no
  conn_use=, later ones conn_use=N);
- tls= agrees with the level of that TLS line (dane: Verified or Trusted,
  encrypt and may: Untrusted or Anonymous; may/none: no TLS at all);
- each domain's verdict is the one scenarios.py expects.
"""
import concurrent.futures
import re
import smtplib
import time
import unittest

from relaylab import Relay
from scenarios import DELIVERY

PER_DOMAIN = 4
TLS_LINE = re.compile(r"dane-relay/smtp\[\d+\]: (Verified|Trusted|Untrusted|Anonymous) TLS "
                      r"connection established to (\S+): TLSv")
DELIVERY_LINE = re.compile(
    r"dane-relay/smtp\[\d+\]: (?P<qid>[0-9A-Z]+): to=<(?P<rcpt>[^>]*)>, relay=(?P<relay>\S+), "
    r"(conn_use=(?P<conn_use>\d+), )?delay=[\d.]+, delays=[\d./]+, (tls=(?P<tls>[^,]*), )?"
    r"dsn=(?P<dsn>[\d.]+), status=(?P<status>\w+) ")
# tls= value -> TLS levels its connection may show (None: no TLS line for it).
LEVELS = {"dane": {"Verified", "Trusted"}, "verify": {"Verified"},
          "encrypt": {"Untrusted", "Anonymous"}, "may": {"Untrusted", "Anonymous"}}


def send(rcpt):
    with smtplib.SMTP("127.0.0.1", 10025, timeout=60) as s:
        s.sendmail("sender@relay.test", [rcpt],
                   f"From: sender@relay.test\r\nTo: {rcpt}\r\nSubject: order\r\n\r\nhello\r\n")


class LogOrder(unittest.TestCase):
    def test_tls_line_precedes_its_deliveries_and_tls_field_agrees(self):
        relay = Relay(backoff="1h")
        rcpts = [f"u{i}@{d}" for i in range(PER_DOMAIN) for d in DELIVERY]
        try:
            with concurrent.futures.ThreadPoolExecutor(24) as pool:
                list(pool.map(send, rcpts))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                done = {m.group("rcpt") for l in relay.lines() if (m := DELIVERY_LINE.search(l))}
                if done >= set(rcpts):
                    break
                relay.check_running()
                time.sleep(0.2)
        finally:
            self.assertEqual(relay.stop(), 0)
        self.check_log(relay.lines(), rcpts)

    def check_log(self, lines, rcpts):
        tls_seen = {}   # relay -> TLS lines so far
        level_of = {}   # relay -> level of its latest TLS line
        sessions = {}   # relay -> sessions that delivered so far
        verdicts = {}
        checked = 0
        for n, line in enumerate(lines):
            if m := TLS_LINE.search(line):
                tls_seen[m.group(2)] = tls_seen.get(m.group(2), 0) + 1
                level_of[m.group(2)] = m.group(1)
                continue
            d = DELIVERY_LINE.search(line)
            if not d:
                continue
            where = f"line {n}: {line}"
            relay, tls, status = d.group("relay"), d.group("tls"), d.group("status")
            verdicts.setdefault(d.group("rcpt"), (status, d.group("dsn")))
            self.assertIsNotNone(tls, "no tls= field: " + where)
            if relay == "none":
                self.assertTrue(tls.endswith("?"), where)  # no host: level undecided
                continue
            self.assertIn(tls.split("/")[0], {"dane", "verify", "encrypt", "may", "none"}, where)
            if status != "sent":
                continue
            if d.group("conn_use") is None:
                sessions[relay] = sessions.get(relay, 0) + 1
            if tls in ("may/none", "none"):
                continue
            checked += 1
            self.assertGreaterEqual(tls_seen.get(relay, 0), sessions[relay],
                                    "delivery line before its session's TLS line: " + where)
            self.assertIn(level_of[relay], LEVELS[tls], where)
        self.assertGreater(checked, len(rcpts) // 2, "most mail went out over TLS")
        for rcpt in rcpts:
            with self.subTest(rcpt=rcpt):
                self.assertEqual(verdicts.get(rcpt), DELIVERY[rcpt.split("@")[1]])


if __name__ == "__main__":
    unittest.main()

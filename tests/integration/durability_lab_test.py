#!/usr/bin/python3
"""SPEC §4 durability: the relay is killed with SIGKILL several times while
1000 messages are injected and delivered, and restarted each time. In the end
every message that got a 250 reaches its sink at least once and at most twice
(only a recipient in flight at a kill may be delivered again); none is lost.
Runs inside the lab (tests/lab/lab run -- ...)."""
import os
import random
import re
import signal
import smtplib
import sys
import threading
import time
import unittest

import relaylab

MESSAGES = int(os.environ.get("DURABILITY_MESSAGES", "1000"))
KILLS = 5
DOMAINS = ["ee-good.test", "ta-good.test", "ee-301.test", "ee-312.test", "rollover.test",
           "two-equal.test", "v6only.test", "cname-mx.test", "no-mx.test", "ee-expired.test"]


class Durability(unittest.TestCase):
    def setUp(self):
        self.lab = relaylab.lab()
        self.relay = relaylab.Relay(backoff="1s")

    def inject(self, numbers, accepted):
        """Like an MTA: retry each message until it got 250."""
        for n in numbers:
            rcpt = f"user{n}@{DOMAINS[n % len(DOMAINS)]}"
            msg = f"Subject: durability {n}\r\nMessage-ID: <dur{n}@relay.test>\r\n\r\nmessage {n}\r\n"
            while True:
                try:
                    with smtplib.SMTP("127.0.0.1", 10025, timeout=10) as s:
                        s.sendmail("durable@relay.test", [rcpt], msg)
                    accepted[n] = rcpt
                    break
                except (OSError, smtplib.SMTPException):
                    time.sleep(0.05)

    def delivered(self):
        """n -> {queue ID -> deliveries}: the relay's Received: header names the
        queue ID, which tells a redelivery (same ID) from a message that the
        injector sent twice because a kill hit before its 250 (new ID)."""
        counts = {}
        for sink in self.lab["sinks"]:
            for m in (m for r in relaylab.sink_records(self.lab, sink) for m in r["messages"]):
                if not m.get("accepted"):
                    continue
                self.assertTrue(m["tls"], "DANE hosts only get TLS")
                with open(m["body_file"], errors="replace") as b:
                    qid = re.search(r"\bid ([0-9A-Z]{10,16})\b", b.read()).group(1)
                for r in m["rcpt_to"]:
                    mm = re.match(r"user(\d+)@", r)
                    if mm:
                        per = counts.setdefault(int(mm.group(1)), {})
                        per[qid] = per.get(qid, 0) + 1
        return counts

    def test_sigkill_during_delivery_loses_nothing(self):
        accepted = {}
        threads = [threading.Thread(target=self.inject, args=(range(k, MESSAGES, 10), accepted))
                   for k in range(10)]
        for t in threads:
            t.start()
        rnd = random.Random(1)
        for _ in range(KILLS):
            time.sleep(rnd.uniform(0.3, 0.9))
            self.relay.stop(signal.SIGKILL)
            self.relay.start()
        for t in threads:
            t.join()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            counts = self.delivered()
            if all(counts.get(n) for n in accepted):
                break
            time.sleep(0.5)
        self.assertEqual(self.relay.stop(), 0)
        counts = self.delivered()
        self.assertEqual(len(accepted), MESSAGES)
        lost = [n for n in accepted if not counts.get(n)]
        more = [(n, q) for n, per in counts.items() for q, c in per.items() if c > 2]
        dups = sum(1 for per in counts.values() for c in per.values() if c == 2)
        resent = sum(1 for per in counts.values() if len(per) > 1)
        sys.stderr.write(f"{MESSAGES} messages, {KILLS} SIGKILLs: lost {len(lost)}, "
                         f"queued message delivered twice {dups}, more than twice {len(more)}; "
                         f"injected twice (kill before the 250) {resent}\n")
        self.assertEqual(lost, [], "messages that got 250 must not be lost")
        self.assertEqual(more, [], "at most one extra delivery per in-flight recipient")


if __name__ == "__main__":
    unittest.main(verbosity=2)

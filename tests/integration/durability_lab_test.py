#!/usr/bin/python3
"""SPEC §4 durability: the relay is killed with SIGKILL several times while
1000 messages are injected and delivered, and restarted each time. In the end
every message that got a 250 reaches its sink at least once and none is lost.
A recipient is delivered again only across a kill (the window between the
remote 250 and our status write): each relay process delivers a queued
message at most once, so no message is delivered more than kills + 1 times.
Runs inside the lab (tests/lab/lab run -- ...)."""
import bisect
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
        self.starts = [time.time()]  # before each process was spawned
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
        """n -> {queue ID -> [process of each delivery]}: the relay's Received:
        header names the queue ID, which tells a redelivery (same ID) from a
        message that the injector sent twice because a kill hit before its 250
        (new ID). A delivery belongs to the process that opened its connection:
        the sink accepted it after that process was spawned and before it was
        killed, since the process then read the sink's greeting."""
        counts = {}
        for sink in self.lab["sinks"]:
            for r in relaylab.sink_records(self.lab, sink):
                process = bisect.bisect_right(self.starts, r["start"]) - 1
                for m in r["messages"]:
                    self.count(counts, m, process)
        return counts

    def count(self, counts, m, process):
        if m.get("accepted"):
            self.assertTrue(m["tls"], "DANE hosts only get TLS")
            with open(m["body_file"], errors="replace") as b:
                qid = re.search(r"\bid ([0-9A-Z]{10,16})\b", b.read()).group(1)
            for r in m["rcpt_to"]:
                mm = re.match(r"user(\d+)@", r)
                if mm:
                    counts.setdefault(int(mm.group(1)), {}).setdefault(qid, []).append(process)

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
            self.starts.append(time.time())
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
        again = [(n, q, p) for n, per in counts.items() for q, p in per.items()
                 if len(set(p)) < len(p)]
        dups = sum(1 for per in counts.values() for p in per.values() if len(p) == 2)
        more = sum(1 for per in counts.values() for p in per.values() if len(p) > 2)
        resent = sum(1 for per in counts.values() if len(per) > 1)
        sys.stderr.write(f"{MESSAGES} messages, {KILLS} SIGKILLs: lost {len(lost)}, "
                         f"queued message delivered twice {dups}, more than twice {more}, "
                         f"twice by one process {len(again)}; "
                         f"injected twice (kill before the 250) {resent}\n")
        self.assertEqual(lost, [], "messages that got 250 must not be lost")
        self.assertEqual(again, [], "(message, queue ID, processes): one process delivered "
                         "a queued message twice; only a kill may cause a redelivery")


if __name__ == "__main__":
    unittest.main(verbosity=2)

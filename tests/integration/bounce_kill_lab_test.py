#!/usr/bin/python3
"""SPEC §4, nothing lost: bounce notices survive SIGKILL. Messages to the lab's
null-MX domain (null-mx.test, RFC 7505) bounce at once; each sender is at
ee-good.test, whose sink receives the notices. The relay is killed with SIGKILL
at random moments while messages are injected, bounced and their notices queued
and delivered, and restarted each time. In the end every message that got a
250 has had its notice delivered at least once (a kill between queueing the
notice and marking it in the original's journal may send a second one).
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

MESSAGES = int(os.environ.get("BOUNCE_KILL_MESSAGES", "300"))
KILLS = 6


class BounceKill(unittest.TestCase):
    def setUp(self):
        self.lab = relaylab.lab()
        self.relay = relaylab.Relay(backoff="1s")

    def inject(self, numbers, accepted):
        """Like an MTA: retry each message until it got 250."""
        for n in numbers:
            msg = (f"Subject: bounce {n}\r\nMessage-ID: <bk{n}@relay.test>\r\n\r\n"
                   f"message {n}\r\n")
            while True:
                try:
                    with smtplib.SMTP("127.0.0.1", 10025, timeout=10) as s:
                        s.sendmail(f"sender{n}@ee-good.test", [f"user{n}@null-mx.test"], msg)
                    accepted.add(n)
                    break
                except (OSError, smtplib.SMTPException):
                    time.sleep(0.05)

    def notices(self):
        """n -> notices received for sender n (any sink, MAIL FROM:<>)."""
        counts = {}
        for sink in self.lab["sinks"]:
            for rec in relaylab.sink_records(self.lab, sink):
                for m in rec["messages"]:
                    if not m.get("accepted"):
                        continue
                    for r in m["rcpt_to"]:
                        mm = re.match(r"sender(\d+)@ee-good\.test$", r)
                        if mm:
                            self.assertEqual(m.get("mail_from"), "", "notices use the null sender")
                            n = int(mm.group(1))
                            counts[n] = counts.get(n, 0) + 1
        return counts

    def test_sigkill_never_loses_a_notice(self):
        accepted = set()
        threads = [threading.Thread(target=self.inject, args=(range(k, MESSAGES, 6), accepted))
                   for k in range(6)]
        for t in threads:
            t.start()
        rnd = random.Random(int(os.environ.get("BOUNCE_KILL_SEED", "7")))
        for _ in range(KILLS):
            time.sleep(rnd.uniform(0.2, 0.8))
            self.relay.stop(signal.SIGKILL)
            self.relay.start()
        for t in threads:
            t.join()
        # One more kill once everything is in, while bounces and notices are in flight.
        time.sleep(rnd.uniform(0.0, 0.3))
        self.relay.stop(signal.SIGKILL)
        self.relay.start()
        queue = os.path.join(self.relay.options["spool"], "queue")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            counts = self.notices()
            if all(counts.get(n) for n in accepted) and not os.listdir(queue):
                break
            time.sleep(0.5)
        self.assertEqual(self.relay.stop(), 0)
        counts = self.notices()
        self.assertEqual(len(accepted), MESSAGES)
        lost = sorted(n for n in accepted if not counts.get(n))
        dups = sum(1 for c in counts.values() if c > 1)
        sys.stderr.write(f"{MESSAGES} bounced messages, {KILLS + 1} SIGKILLs: notices lost "
                         f"{len(lost)}, received more than once {dups} "
                         f"(most copies {max(counts.values(), default=0)})\n")
        self.assertEqual(lost, [], "every bounced message's sender gets a notice")
        self.assertEqual(os.listdir(queue), [], "every message and notice was removed")


if __name__ == "__main__":
    unittest.main(verbosity=2)

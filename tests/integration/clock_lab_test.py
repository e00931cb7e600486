#!/usr/bin/python3
"""Issue 8 with the real daemon in the lab, its wall clock stepped mid-run by
Debian's libfaketime (FAKETIME_TIMESTAMP_FILE, re-read on every call; the
monotonic clock stays real):
- a recipient already delivered is not delivered again by a stale retry entry
  (a `queue release` of a message that is not held, then `queue flush`), and
  repeated release/flush requests send nothing twice, and a release of a
  message that is not held adds no retry, also when the step comes while the
  deferral's journal write is in flight (held by the fault shim, DR_FAULT_SHIM);
- a clock step backwards does not starve a deferred recipient: retries wait
  on steady time, so it is retried after its backoff, not hours later.
Runs inside the lab (tests/lab/lab run -- ...)."""
import os
import re
import signal
import subprocess
import threading
import time
import unittest

import relaylab
from relaylab import BINARY

FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
# ee-good.test "down": the policy table sends it to a port where nothing listens.
DOWN = '[policy.domains]\n"ee-good.test" = { level = "dane", nexthop = "[mx.ee-good.test]:2526" }\n'


class Clock(unittest.TestCase):
    def setUp(self):
        self.lab = relaylab.lab()

    def relay(self, faults=False, **kw):
        """A relay whose wall clock is the real one shifted by what step() writes; with
        `faults`, the fault shim too, its flag files in relay.dir."""
        relay = relaylab.Relay(start=False, extra=DOWN, **kw)
        self.clock = os.path.join(relay.dir, "faketime")
        self.step("+0")
        relay.env = {"LD_PRELOAD": FAKETIME, "FAKETIME_TIMESTAMP_FILE": self.clock,
                     "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        if faults:
            relay.env["LD_PRELOAD"] += " " + os.environ["DR_FAULT_SHIM"]
            relay.env["DR_FAULT_FLAGS"] = relay.dir
            relay.env["DR_FAULT_QUEUE"] = os.path.join(relay.options["spool"], "queue")
        relay.start()
        self.addCleanup(lambda: relay.proc.poll() is None and relay.stop())
        return relay

    def step(self, offset):
        """Sets the daemon's wall clock to the real one plus `offset` ("-3h", "+2h")."""
        with open(self.clock + ".new", "w") as f:
            f.write(offset + "\n")
        os.rename(self.clock + ".new", self.clock)

    def queue(self, relay, *args):
        p = subprocess.run([BINARY, "queue", "-c", relay.conf, *args], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def send(self, *rcpts):
        p = subprocess.run(["swaks", "--server", "127.0.0.1:10025", "--from", "sender@relay.test",
                            "--to", ",".join(rcpts), "--h-Subject", "clock test"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def up(self, relay):
        """ee-good.test reachable again: SIGHUP with the DOWN entry removed."""
        reloads = sum("reload -- version" in l for l in relay.lines())
        relay.write_conf(extra="")
        relay.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while sum("reload -- version" in l for l in relay.lines()) <= reloads:
            self.assertLess(time.monotonic(), deadline, "no reload line")
            time.sleep(0.05)

    def tries(self, relay, rcpt, status=None):
        rx = re.compile(r"to=<" + re.escape(rcpt) + r">.*status=" + (status or r"\w+"))
        return [l for l in relay.lines() if rx.search(l)]

    def wait_tries(self, relay, rcpt, n, status=None, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.tries(relay, rcpt, status)) < n:
            relay.check_running()
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {n} {status or ''} lines for <{rcpt}>:\n" +
                                     "\n".join(relay.lines()))
            time.sleep(0.1)

    def test_release_and_flush_do_not_resend_a_delivered_recipient(self):
        # Two recipients, both deferred (ee-good.test down, no-starttls.test always defers),
        # waiting an hour. Then ee-good.test comes up and the wall clock jumps 2h forward:
        # a `release` finds both due by the spool's times and delivers one@ while its steady
        # retry entry is still waiting. `flush` makes that stale entry due: one@ must not
        # get a second copy (deliver_batch checks the current status), however often
        # release and flush are asked for.
        relay = self.relay(backoff="1h", lifetime="5d")
        one, two = "one@ee-good.test", "two@no-starttls.test"
        self.send(one, two)
        self.wait_tries(relay, one, 1, "deferred")
        self.wait_tries(relay, two, 1, "deferred")
        qid = self.tries(relay, one)[0].split(": ")[1]
        self.up(relay)
        self.step("+2h")
        for _ in range(3):
            self.assertEqual(self.queue(relay, "release", qid), f"{qid}: released\n")
        self.wait_tries(relay, one, 1, "sent")
        self.wait_tries(relay, two, 2)
        for n in range(3):
            self.queue(relay, "flush")
            self.queue(relay, "release", qid)
            self.wait_tries(relay, two, 3 + n)  # each flush retried two@ at once
        time.sleep(2)  # a duplicate of one@ would have been sent by now
        self.assertEqual(len(self.tries(relay, one, "sent")), 1, "\n".join(relay.lines()))
        self.assertEqual(len(relaylab.received(self.lab, one)), 1)
        self.assertIn(qid, self.queue(relay, "list"))  # still queued for two@

    def test_release_of_a_message_not_held_adds_no_retry(self):
        # Deferred for 20s; the wall clock jumps 15s forward and the message, not held, is
        # released: it already waits, so nothing is added. A second entry (counted from the
        # stepped clock: due 5s after the deferral) would be an extra attempt.
        relay = self.relay(backoff="20s", lifetime="5d")
        rcpt = "early@ee-good.test"
        self.send(rcpt)
        self.wait_tries(relay, rcpt, 1, "deferred")
        deferred = time.monotonic()
        qid = self.tries(relay, rcpt)[0].split(": ")[1]
        self.step("+15")
        for _ in range(3):
            self.assertEqual(self.queue(relay, "release", qid), f"{qid}: released\n")
        time.sleep(max(0, deferred + 12 - time.monotonic()))
        self.assertEqual(len(self.tries(relay, rcpt)), 1, "\n".join(relay.lines()))
        self.wait_tries(relay, rcpt, 2, timeout=30)  # the retry on its own schedule

    def test_a_step_while_the_deferral_is_written_adds_no_retry(self):
        # As above, but the deferral's journal write is held (fdatasync waits on a flag)
        # while the clock steps and the releases come (they wait behind that write). The
        # retry is counted from the end of the attempt, not from the stepped clock once the
        # write is done: that gave a retry 5s after the deferral (lab_clock failed so in CI
        # when a slow fsync put the step inside the write).
        relay = self.relay(faults=True, backoff="20s", lifetime="5d")
        hold, holding = (os.path.join(relay.dir, f) for f in ("hold-fdatasync", "holding"))
        open(hold, "w").close()
        rcpt = "held@ee-good.test"
        self.send(rcpt)
        self.wait_tries(relay, rcpt, 1, "deferred")
        deferred = time.monotonic()
        qid = self.tries(relay, rcpt)[0].split(": ")[1]
        while not os.path.exists(holding):
            self.assertLess(time.monotonic(), deferred + 10, "the journal write was not held")
            time.sleep(0.01)
        self.step("+15")
        replies = []
        releases = threading.Thread(
            target=lambda: replies.extend(self.queue(relay, "release", qid) for _ in range(3)))
        releases.start()
        time.sleep(1.5)
        os.unlink(hold)
        releases.join(timeout=60)
        self.assertEqual(replies, [f"{qid}: released\n"] * 3)
        time.sleep(max(0, deferred + 12 - time.monotonic()))
        self.assertEqual(len(self.tries(relay, rcpt)), 1, "\n".join(relay.lines()))
        self.wait_tries(relay, rcpt, 2, timeout=30)

    def test_clock_step_backwards_does_not_starve_a_retry(self):
        # Deferred with a 5s backoff, then the wall clock steps 3h back and the destination
        # comes up: the retry comes after about 5s of real time. Waiting on wall time,
        # it would wait 3h more.
        relay = self.relay(backoff="5s", max_backoff="5s", lifetime="5d")
        rcpt = "back@ee-good.test"
        self.send(rcpt)
        self.wait_tries(relay, rcpt, 1, "deferred")
        self.step("-3h")
        self.up(relay)
        start = time.monotonic()
        self.wait_tries(relay, rcpt, 1, "sent", timeout=30)
        print(f"retry after the step back came {time.monotonic() - start:.1f}s later")
        # The relay logs "sent" after the 250 to DATA; the sink writes its record when the
        # connection closes, a moment later.
        deadline = time.monotonic() + 10
        while not relaylab.received(self.lab, rcpt) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(len(relaylab.received(self.lab, rcpt)), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""Postfix's in_flow_delay ([server] in_flow_delay, relay/queue/in_flow.hpp) with the
real daemon in the lab: while the queue's attempts do not end (a destination that
accepts TCP and never speaks), new messages are let in at once only while tokens last
(max_connections of them), then each waits in_flow_delay and is still accepted (a 250,
nothing lost); with in_flow_delay = 0 none waits. A destination whose attempts end
gives the tokens back: mail to it is not held up. Runs inside the lab
(tests/lab/lab run -- ...)."""
import smtplib
import socket
import threading
import time
import unittest

import relaylab

SILENT = 2630
DELAY = 2
TOKENS = 3
POLICY = f"""[policy.domains]
"silent.test" = {{ level = "none", nexthop = "[127.0.0.1]:{SILENT}" }}
[smtp]
helo_timeout = "10s"
"""


class Silent:
    """Accepts connections and never says a word (the relay gives up after its
    helo_timeout, 10s: longer than the sends below take, short enough for a quick stop)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", SILENT))
        self.sock.listen(64)
        self.held = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


class InFlow(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lab = relaylab.lab()
        cls.silent = Silent()

    @classmethod
    def tearDownClass(cls):
        cls.silent.close()

    def relay(self, delay):
        relay = relaylab.Relay(extra=POLICY, server=f'max_connections = {TOKENS}\n'
                                                    f'in_flow_delay = "{delay}s"')
        self.addCleanup(relay.stop)
        return relay

    def send_timed(self, rcpt, n):
        """Sends n messages on one session; the seconds each took from MAIL to the 250."""
        took = []
        with smtplib.SMTP("127.0.0.1", 10025, timeout=60) as s:
            for i in range(n):
                t0 = time.monotonic()
                refused = s.sendmail("sender@relay.test", [rcpt],
                                     f"Subject: flow {i}\r\nMessage-ID: <flow{i}@x>\r\n\r\nbody\r\n")
                self.assertEqual(refused, {})
                took.append(time.monotonic() - t0)
        return took

    def test_messages_wait_once_the_tokens_are_gone_and_are_still_accepted(self):
        relay = self.relay(DELAY)
        took = self.send_timed("a@silent.test", TOKENS + 2)
        print("seconds per message:", " ".join(f"{t:.2f}" for t in took))
        # One token per message while they last; the attempts hang, so none comes back.
        self.assertTrue(all(t < DELAY for t in took[:TOKENS]), took)
        self.assertTrue(all(t >= DELAY for t in took[TOKENS:]), took)
        queued = [l for l in relay.lines() if "message-id=<flow" in l]
        self.assertEqual(len(queued), TOKENS + 2, "\n".join(relay.lines()))

    def test_zero_turns_it_off(self):
        self.relay(0)
        took = self.send_timed("b@silent.test", TOKENS + 2)
        print("seconds per message:", " ".join(f"{t:.2f}" for t in took))
        self.assertTrue(all(t < DELAY for t in took), took)

    def test_attempts_that_end_give_the_tokens_back(self):
        relay = self.relay(DELAY)
        took = []
        for i in range(3 * TOKENS):
            took += self.send_timed("flow@ee-good.test", 1)
            deadline = time.monotonic() + 30
            while sum("to=<flow@ee-good.test>" in l and "status=sent" in l
                      for l in relay.lines()) <= i:
                self.assertLess(time.monotonic(), deadline, "\n".join(relay.lines()))
                time.sleep(0.05)
        print("seconds per message:", " ".join(f"{t:.2f}" for t in took))
        self.assertTrue(all(t < DELAY for t in took), took)


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""Delay notices (Postfix's delay_warning_time, here 3s): mail to rcpt-tempfail.test (its
sink answers every RCPT with 451 4.3.0) stays deferred; once it has been queued that long,
its sender (at ee-good.test, whose sink takes the notices) gets exactly one RFC 3464
"Action: delayed" notice, headers only, for the recipients whose NOTIFY is absent or
includes DELAY; NOTIFY=FAILURE, NOTIFY=NEVER and the null sender get none; later attempts
and a restart of the relay send no second one (the mark is in the queue file).
Expectations: RFC 3464, RFC 6522, RFC 3461 §4.1, Postfix's bounce(8) "sender delay
notification" and its delay_warning_time. Runs inside the lab (tests/lab/lab run -- ...)."""
import email
import email.policy
import re
import smtplib
import time
import unittest

import relaylab

TEMPFAIL = "rcpt-tempfail.test"


def send(sender, rcpts, subject):
    """rcpts: [(address, NOTIFY or None)]. Returns the queue ID from the 250 reply."""
    msg = (f"From: <{sender or 'postmaster@relay.test'}>\r\nSubject: {subject}\r\n"
           f"Message-ID: <{subject.replace(' ', '.')}@test>\r\n\r\nsecret body {subject}\r\n")
    with smtplib.SMTP("127.0.0.1", 10025, timeout=30) as s:
        s.ehlo("client.test")
        code, _ = s.mail(sender)
        assert code == 250, code
        for addr, notify in rcpts:
            code, reply = s.rcpt(addr, [f"NOTIFY={notify}"] if notify else [])
            assert code == 250, (code, reply)
        code, reply = s.data(msg)
        assert code == 250, (code, reply)
        return re.search(rb"queued as ([0-9A-Z]+)", reply).group(1).decode()


class DelayNotice(unittest.TestCase):
    def setUp(self):
        self.lab = relaylab.lab()
        self.relay = relaylab.Relay(backoff="1s", queue='delay_warning_time = "3s"')

    def tearDown(self):
        if self.relay.proc.poll() is None:
            self.relay.stop()

    def notices_to(self, rcpt):
        return [m for sink in self.lab["sinks"] for r in relaylab.sink_records(self.lab, sink)
                for m in r["messages"] if m.get("accepted") and rcpt in m["rcpt_to"]]

    def attempts(self, rcpt):
        return sum(1 for l in self.relay.lines()
                   if re.search(rf"to=<{re.escape(rcpt)}>.*status=deferred", l))

    def check_notice(self, m):
        self.assertEqual(m["mail_from"], "", "notices use the null sender")
        with open(m["body_file"], "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "delivery-status")
        self.assertIn("MAILER-DAEMON@relay.test", msg["From"])
        self.assertEqual(msg["Subject"], "Delayed Mail (still being retried)")
        parts = msg.get_payload()
        self.assertEqual([p.get_content_type() for p in parts],
                         ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        fields = parts[1].get_payload()  # per-message fields, then one block per recipient
        self.assertEqual(fields[0]["Reporting-MTA"], "dns; relay.test")
        recipients = {f["Final-Recipient"]: f for f in fields[1:]}
        self.assertEqual(set(recipients),
                         {f"rfc822; absent@{TEMPFAIL}", f"rfc822; delay@{TEMPFAIL}"})
        for r in recipients.values():
            self.assertEqual(r["Action"], "delayed")
            self.assertRegex(r["Status"], r"^4\.\d{1,3}\.\d{1,3}$")
            self.assertEqual(r["Status"], "4.3.0")  # what the sink said
            self.assertIn("451 4.3.0", r["Diagnostic-Code"])
            self.assertIsNotNone(r["Will-Retry-Until"])
        returned = parts[2].get_content()  # headers only, as Postfix's delay warnings
        self.assertIn("Subject: delay 1", returned)
        self.assertNotIn("secret body", returned)
        self.assertIn("delayed", parts[0].get_content())

    def test_one_notice_per_message_also_across_a_restart(self):
        t0 = time.monotonic()
        ids = {
            "notify": send("sender1@ee-good.test", [(f"absent@{TEMPFAIL}", None),
                                                    (f"delay@{TEMPFAIL}", "DELAY,FAILURE"),
                                                    (f"failure@{TEMPFAIL}", "FAILURE")],
                           "delay 1"),
            "failure": send("sender2@ee-good.test", [(f"only-failure@{TEMPFAIL}", "FAILURE")],
                            "delay 2"),
            "never": send("sender3@ee-good.test", [(f"never@{TEMPFAIL}", "NEVER")], "delay 3"),
            "null": send("", [(f"null@{TEMPFAIL}", None)], "delay 4"),
        }
        line = self.relay.wait_for(rf"{ids['notify']}: sender delay notification: [0-9A-Z]+",
                                   timeout=60)
        # Logged by the bounce role, as Postfix's bounce daemon logs it.
        self.assertRegex(line, r"dane-relay/bounce\[\d+\]: ")
        self.assertGreaterEqual(time.monotonic() - t0, 3.0, "not before delay_warning_time")
        notice_id = line.rsplit(" ", 1)[1]
        self.relay.wait_for(rf"{notice_id}: to=<sender1@ee-good\.test>.*status=sent")
        self.relay.wait_for(rf"{ids['failure']}: no delay notification: NOTIFY says none")
        self.relay.wait_for(rf"{ids['never']}: no delay notification: NOTIFY says none")
        self.relay.wait_for(rf"{ids['null']}: no delay notification: null sender")
        # More attempts in this run, then a restart and more attempts: no second notice.
        seen = self.attempts(f"absent@{TEMPFAIL}")
        while self.attempts(f"absent@{TEMPFAIL}") < seen + 2:
            time.sleep(0.2)
            self.relay.check_running()
        self.assertEqual(self.relay.stop(), 0)
        self.relay.start()
        seen = self.attempts(f"absent@{TEMPFAIL}")
        deadline = time.monotonic() + 60
        while self.attempts(f"absent@{TEMPFAIL}") < seen + 2:
            self.assertLess(time.monotonic(), deadline, "no attempts after the restart")
            time.sleep(0.2)
            self.relay.check_running()
        self.relay.stop()
        self.assertEqual(sum("sender delay notification" in l for l in self.relay.lines()), 1)
        got = self.notices_to("sender1@ee-good.test")
        self.assertEqual(len(got), 1, got)
        self.check_notice(got[0])
        for sender in ("sender2@ee-good.test", "sender3@ee-good.test"):
            self.assertEqual(self.notices_to(sender), [], sender)
        print(f"\ntook {time.monotonic() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    relaylab.lab()  # inside `lab run`
    unittest.main(verbosity=2)

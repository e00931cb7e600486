#!/usr/bin/python3
"""SPEC §4 under faults, with the real daemon in the lab and an LD_PRELOAD shim
(fault_shim.cpp, DR_FAULT_SHIM) that fails calls while a flag file exists:
- a journal write that fails (fdatasync ENOSPC) after a delivery does not make
  the relay deliver again every minimal_backoff: one copy, then the state is
  written once the disk is back; a restart before that write delivers it once
  more (the SPEC §4 window), not more;
- a message whose recipients are all delivered is removed with no journal
  write at all;
- a body that cannot be read (EMFILE) is retried, not forgotten;
- a body damaged on disk (CRC) is bounced to its sender and moved to corrupt/;
- a body unreadable until maximal_queue_lifetime bounces, the sender is told
  without the content, and the message is removed.
Runs inside the lab (tests/lab/lab run -- ...)."""
import glob
import os
import smtplib
import time
import unittest

import relaylab

DOWN = '[policy.domains]\n"ee-good.test" = { level = "dane", nexthop = "[mx.ee-good.test]:2526" }\n'


class Faults(unittest.TestCase):
    def setUp(self):
        self.lab = relaylab.lab()

    def relay(self, **kw):
        relay = relaylab.Relay(start=False, **kw)
        self.flags = relay.dir
        queue = os.path.join(relay.options["spool"], "queue")
        env = {"LD_PRELOAD": os.environ["DR_FAULT_SHIM"], "DR_FAULT_FLAGS": self.flags,
               "DR_FAULT_QUEUE": queue}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            relay.start()
        finally:
            for k, v in old.items():
                if v is None:
                    del os.environ[k]
                else:
                    os.environ[k] = v
        self.addCleanup(lambda: relay.proc.poll() is None and relay.stop())
        return relay, queue

    def flag(self, name, on):
        path = os.path.join(self.flags, name)
        if on:
            open(path, "w").close()
        elif os.path.exists(path):
            os.unlink(path)

    def send(self, sender, rcpt, n):
        with smtplib.SMTP("127.0.0.1", 10025, timeout=30) as s:
            s.sendmail(sender, rcpt if isinstance(rcpt, list) else [rcpt], f"Subject: fault {n}\r\nMessage-ID: <f{n}@x>\r\n\r\nbody {n}\r\n")

    def count(self, rcpt):
        return len(relaylab.received(self.lab, rcpt))

    def test_failed_status_write_is_not_a_redelivery_loop(self):
        # A second recipient that keeps deferring (no-starttls.test) keeps the message queued,
        # so the "delivered" state of the first one has to be written.
        relay, queue = self.relay()
        self.flag("fail-fdatasync", True)
        rcpt = "once@ee-good.test"
        self.send("s@relay.test", [rcpt, "stay@no-starttls.test"], 1)
        relay.wait_for(r"to=<once@ee-good\.test>.*status=sent")
        relay.wait_for(r"cannot update queue file")
        time.sleep(6)  # minimal_backoff is 1s: the old code delivered every second or two
        copies_while_failing = self.count(rcpt)
        self.flag("fail-fdatasync", False)
        time.sleep(4)  # written again after minimal_backoff
        self.assertEqual(relay.stop(), 0)
        relay.start()  # had the state not been written, the restart would deliver it again
        time.sleep(4)
        print(f"\ncopies while the journal failed: {copies_while_failing}, in all: "
              f"{self.count(rcpt)}")
        self.assertEqual(copies_while_failing, 1)
        self.assertEqual(self.count(rcpt), 1, "written once the disk is back")
        self.assertEqual(len(os.listdir(queue)), 1, "still queued for stay@no-starttls.test")

    def test_final_message_is_removed_without_a_status_write(self):
        # Every recipient delivered, no notice owed: the removal records it; the journal write
        # that would fail is never needed (no "cannot update queue file", no second copy).
        relay, queue = self.relay()
        self.flag("fail-fdatasync", True)
        rcpt = "gone@ee-good.test"
        self.send("s@relay.test", rcpt, 5)
        relay.wait_for(r"to=<gone@ee-good\.test>.*status=sent")
        relay.wait_for(r": removed")
        time.sleep(2)
        self.assertEqual(os.listdir(queue), [])
        self.assertEqual(self.count(rcpt), 1)
        self.assertNotRegex("\n".join(relay.lines()), r"cannot update queue file")

    def test_restart_while_a_state_is_unsaved_sends_one_extra_copy(self):
        # A second recipient that keeps deferring (no-starttls.test) keeps the message queued,
        # so the unsaved "delivered" of the first one matters at the restart. (A message whose
        # recipients are all final is simply removed: no write needed.)
        relay, queue = self.relay()
        self.flag("fail-fdatasync", True)
        rcpt = "restart@ee-good.test"
        self.send("s@relay.test", [rcpt, "stay@no-starttls.test"], 4)
        relay.wait_for(r"to=<restart@ee-good\.test>.*status=sent")
        relay.wait_for(r"cannot update queue file")
        time.sleep(3)
        self.assertEqual(self.count(rcpt), 1, "not delivered again while running")
        self.assertEqual(relay.stop(), 0, "a clean stop with a state still unsaved")
        self.flag("fail-fdatasync", False)
        relay.start()  # the delivered state never reached the disk: delivered once more
        deadline = time.monotonic() + 30
        while self.count(rcpt) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)
        print(f"\ncopies after a restart with the state unsaved: {self.count(rcpt)}")
        self.assertEqual(self.count(rcpt), 2, "one extra copy after the restart, no more")

    def test_unreadable_body_is_retried(self):
        relay, queue = self.relay()
        self.flag("fail-read", True)
        rcpt = "later@ee-good.test"
        self.send("s@relay.test", rcpt, 2)
        relay.wait_for(r"cannot read queue file: Too many open files")
        time.sleep(2)
        self.assertEqual(self.count(rcpt), 0)
        self.assertEqual(len(os.listdir(queue)), 1, "still queued")
        self.flag("fail-read", False)
        relay.wait_for(r"to=<later@ee-good\.test>.*status=sent", timeout=30)
        self.assertEqual(self.count(rcpt), 1)

    def test_body_unreadable_until_its_lifetime_ends(self):
        # The body never becomes readable: past maximal_queue_lifetime the recipient bounces
        # and the sender gets a notice without the content (which cannot be read) while the
        # fault lasts, and the message is removed; nothing is retried forever.
        relay, queue = self.relay(lifetime="4s")
        sender, rcpt = "unread@ta-good.test", "never@ee-good.test"
        self.flag("fail-read", True)
        self.send(sender, rcpt, 5)
        [path] = glob.glob(os.path.join(queue, "*"))
        qid = os.path.basename(path)
        notice = relay.wait_for(rf"{qid}: sender non-delivery notification: [0-9A-Z]+",
                                timeout=30).rsplit(" ", 1)[1]
        relay.wait_for(rf"{qid}: cannot read queue file: .*; notice sent without the content")
        relay.wait_for(rf"{qid}: removed")
        self.assertEqual(os.listdir(queue), [notice], "the original removed, its notice queued")
        self.flag("fail-read", False)  # the notice's own body can be read now
        relay.wait_for(rf"{notice}: to=<unread@ta-good\.test>, .*status=sent", timeout=30)
        # The sink writes its record when the connection closes, after our "sent" line.
        deadline = time.monotonic() + 10
        while not relaylab.received(self.lab, sender) and time.monotonic() < deadline:
            time.sleep(0.1)
        [got] = relaylab.received(self.lab, sender)
        self.assertEqual(got["mail_from"], "")
        with open(got["body_file"], errors="replace") as f:
            body = f.read()
        self.assertIn("Final-Recipient: rfc822; never@ee-good.test", body)
        self.assertIn("Status: 4.3.0", body)
        self.assertNotIn("body 5", body)
        self.assertEqual(self.count(rcpt), 0)

    def test_damaged_body_goes_to_corrupt_and_the_sender_is_told(self):
        relay, queue = self.relay(extra=DOWN)
        sender, rcpt = "owner@ta-good.test", "damaged@ee-good.test"
        self.send(sender, rcpt, 3)
        relay.wait_for(r"to=<damaged@ee-good\.test>.*status=deferred")
        self.assertEqual(relay.stop(), 0)
        [path] = glob.glob(os.path.join(queue, "*"))
        qid = os.path.basename(path)
        with open(path, "r+b") as f:
            data = f.read()
            pos = data.index(b"body 3")
            f.seek(pos)
            f.write(b"BODY")
        relay.start()
        relay.wait_for(rf"{qid}: cannot read queue file: corrupt queue file", timeout=30)
        relay.wait_for(rf"{qid}: queue file damaged, moved to corrupt/", timeout=30)
        corrupt = os.path.join(relay.options["spool"], "corrupt")
        self.assertEqual(os.listdir(corrupt), [qid])
        deadline = time.monotonic() + 30
        while not relaylab.received(self.lab, sender) and time.monotonic() < deadline:
            time.sleep(0.2)
        [notice] = relaylab.received(self.lab, sender)
        self.assertEqual(notice["mail_from"], "")
        with open(notice["body_file"], errors="replace") as f:
            body = f.read()
        self.assertIn("Final-Recipient: rfc822; damaged@ee-good.test", body)
        self.assertIn("Status: 5.3.0", body)
        self.assertEqual(self.count(rcpt), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

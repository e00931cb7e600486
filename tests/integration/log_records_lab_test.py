#!/usr/bin/python3
"""Records the compliance log must not leave out (SPEC §6), through the real
daemon in the lab: at start-up, a queue file whose envelope is unreadable is
moved to corrupt/ and a torn last journal record is cut off; both are logged
as qmgr warnings naming the queue ID, and the daemon still starts and keeps
the intact message queued. (Remote-MTA and Diagnostic-Code in notices are in
serve_lab_test.py's bounce test.)"""
import os
import re
import unittest

from relaylab import Relay
from serve_lab_test import swaks

CORRUPT_ID = "0000000000ZZZZ"


class RecoveryIsLogged(unittest.TestCase):
    def test_corrupt_and_torn_queue_files_are_logged(self):
        relay = Relay(backoff="1h")
        try:
            self.assertEqual(swaks("torn@no-starttls.test").returncode, 0)
            line = relay.wait_for(r"to=<torn@no-starttls\.test>.*status=deferred")
            qid = re.search(r": ([0-9A-Z]{14}): to=", line).group(1)
        finally:
            self.assertEqual(relay.stop(), 0)
        queue = os.path.join(relay.options["spool"], "queue")
        with open(os.path.join(queue, qid), "ab") as f:  # a crash in the middle of a record
            f.write(b"S 00000000000000ff 0badc0de\n1 delivered 1 0 2.0.0 ")
        with open(os.path.join(queue, CORRUPT_ID), "wb") as f:
            f.write(b"DRSPOOL1\nnot a queue file\n")
        before = len(relay.lines())
        relay.start()
        try:
            relay.wait_for(r"daemon started .* 1 queued message")
        finally:
            self.assertEqual(relay.stop(), 0)
        new = relay.lines()[before:]
        prefix = r"dane-relay/qmgr\[\d+\]: warning: "
        self.assertTrue(any(re.search(prefix + CORRUPT_ID + r": corrupt queue file \(envelope "
                                      r"unreadable\): moved to .*/corrupt/" + CORRUPT_ID, l)
                            for l in new), "\n".join(new))
        self.assertTrue(any(re.search(prefix + qid + r": torn journal record at the end of "
                                      r"the queue file cut off", l) for l in new), "\n".join(new))
        self.assertTrue(os.path.exists(os.path.join(relay.options["spool"], "corrupt",
                                                    CORRUPT_ID)))
        # The warnings come before the daemon says it started, like Postfix's start-up checks.
        started = [i for i, l in enumerate(new) if "daemon started" in l][0]
        warnings = [i for i, l in enumerate(new) if "warning: " in l]
        self.assertTrue(warnings and max(warnings) < started, "\n".join(new))


if __name__ == "__main__":
    unittest.main()

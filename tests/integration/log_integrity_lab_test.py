#!/usr/bin/python3
"""Nobody forges lines in the compliance log (SPEC §6 "Order and integrity"),
through the real daemon in the lab. A raw SMTP client hands the relay hostile
values in every field that reaches the log: the EHLO name, MAIL FROM, RCPT TO,
ORCPT and ENVID (xtext, decoded to raw CR/LF), the Message-ID header; a test
sink (a [host]:port next hop) answers with control bytes, a multi-line reply
that smuggles a fake log record, and a reply of 9000 bytes. Then every line of
the log file must be one well-formed record: the syslog-like prefix with the
`dane-relay/<role>[pid]: ` program, no control characters or invalid UTF-8,
and a forged record only ever inside a line, behind the '?' that replaced
the CR or LF which was to start it. Over-long replies are cut to 1000 bytes."""
import re
import socket
import socketserver
import threading
import time
import unittest

from relaylab import Relay

SINK_PORT = 2625
FORGED = "Jan  1 00:00:00 relay.test dane-relay/smtp[1]: FORGED: to=<x@y>, status=sent"
PREFIX = (rb"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d relay\.test "
          rb"dane-relay/(smtpd|cleanup|qmgr|smtp|bounce|master)\[\d+\]: ")
LONG = "L" * 3000


def xtext(s):
    return "".join(c if 33 <= ord(c) <= 126 and c not in "+=" else f"+{ord(c):02X}" for c in s)


class HostileSink(socketserver.StreamRequestHandler):
    """Plain SMTP; RCPT to reject* gets a hostile 550, DATA a hostile 250."""

    def say(self, text):
        self.wfile.write(text.encode("latin-1") + b"\r\n")

    def handle(self):
        self.say("220 sink.test ESMTP \x1b[2J")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.say("250-sink.test\r\n250 8BITMIME")
            elif verb == b"RCPT" and b"reject" in line:
                self.say(f"550-5.1.1 no such user\x1b]0;pwned\x07\r\n550-5.1.1 \r{FORGED}\r\n"
                         f"550-5.1.1 {LONG}\r\n550-5.1.1 {LONG}\r\n550 5.1.1 {LONG}")
            elif verb == b"DATA":
                self.say("354 go")
                while (l := self.rfile.readline()) not in (b".\r\n", b""):
                    pass
                self.say(f"250-2.0.0 ok\x08\x7f\xc2\x85\xe2\x80\xa8\xff\r\n250 2.0.0 {LONG}")
            elif verb == b"QUIT":
                self.say("221 bye")
                return
            else:
                self.say("250 ok")


def read_reply(f):
    while (r := f.readline()) and r[3:4] == b"-":
        pass
    return r


def transaction(ehlo, mail, rcpts, message_id):
    """One SMTP session with the relay: each command waits for its reply."""
    body = [b"From: a@relay.test", b"Message-ID: " + message_id, b"Subject: x", b"", b"hello"]
    with socket.create_connection(("127.0.0.1", 10025), timeout=30) as s:
        f = s.makefile("rb")
        read_reply(f)
        for cmd in [b"EHLO " + ehlo, b"MAIL FROM:" + mail] + [b"RCPT TO:" + r for r in rcpts]:
            s.sendall(cmd + b"\r\n")
            read_reply(f)
        s.sendall(b"DATA\r\n")
        if read_reply(f).startswith(b"354"):
            s.sendall(b"\r\n".join(body) + b"\r\n.\r\n")
            read_reply(f)
        s.sendall(b"QUIT\r\n")
        read_reply(f)


class LogIntegrity(unittest.TestCase):
    def test_hostile_values_never_split_or_forge_a_line(self):
        server = socketserver.ThreadingTCPServer(("127.0.0.1", SINK_PORT), HostileSink)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        extra = ('[policy.domains]\n"hostile.test" = { level = "may", nexthop = '
                 f'"[127.0.0.1]:{SINK_PORT}" }}\n')
        relay = Relay(extra=extra, backoff="1h")
        crlf = "\r\n" + FORGED
        try:
            # xtext-decoded CR/LF in ORCPT and ENVID; control bytes in EHLO, Message-ID.
            transaction(b"evil\x1b[31m.test",
                        b"<sender@relay.test> ENVID=" + xtext("env" + crlf).encode(),
                        [b"<ok@hostile.test> NOTIFY=FAILURE ORCPT=rfc822;" +
                         xtext("orig" + crlf).encode(),
                         b"<reject@hostile.test> ORCPT=rfc822;" + xtext("o2" + crlf).encode()],
                        b"<id\x1b]0;t\x07\x7f\xc2\x85@x>")
            # Raw bytes in the addresses themselves (the server may refuse some).
            transaction(b"h\xff\xfe.test", b"<s\x7f\x1b@relay.test>",
                        [b"<u\x1b[1m@hostile.test>", b"<\xe2\x80\xa8@hostile.test>"],
                        b"<plain@x>")
            relay.wait_for(r"to=<ok@hostile.test>.*status=sent")
            relay.wait_for(r"to=<reject@hostile.test>.*status=bounced")
            time.sleep(1)  # the notice and its lines
        finally:
            self.assertEqual(relay.stop(), 0)
            server.shutdown()
        with open(relay.log, "rb") as f:
            data = f.read()
        self.assertTrue(data.endswith(b"\n"))
        lines = data[:-1].split(b"\n")
        for n, line in enumerate(lines):
            with self.subTest(line=n):
                self.assertRegex(line, PREFIX)
                text = line.decode("utf-8")  # raises on invalid UTF-8
                self.assertFalse(any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or
                                     c in "\u2028\u2029" for c in text), repr(line))
                for m in re.finditer(r"Jan  1 00:00:00 relay\.test dane-relay/smtp\[1\]: ", text):
                    self.assertEqual(text[m.start() - 1], "?", text)
                self.assertLess(len(line), 1500, "an over-long reply was cut")
        log = data.decode()
        sent = [l for l in log.splitlines() if "to=<ok@hostile.test>" in l and "status=sent" in l]
        self.assertEqual(len(sent), 1, log)
        self.assertIn("orig_to=<orig??Jan  1 00:00:00 relay.test dane-relay/smtp[1]: FORGED", sent[0])
        self.assertIn("(250 2.0.0 ok????? LLL", sent[0])
        self.assertTrue(sent[0].endswith("L...)"), sent[0])
        reply = sent[0][sent[0].index("(250 2.0.0 ok"):]
        self.assertTrue(900 < len(reply) <= 1000 + 2, len(reply))  # 1000 bytes at most
        bounced = [l for l in log.splitlines() if "to=<reject@hostile.test>" in l]
        self.assertEqual(len(bounced), 1, log)
        self.assertIn("no such user?]0;pwned?", bounced[0])
        self.assertIn("message-id=<id?]0;t???@x>", log)


if __name__ == "__main__":
    unittest.main()

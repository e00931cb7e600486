#!/usr/bin/python3
"""AUTH for remote MTAs (SPEC §3) end to end inside the lab: a real swaks logs in with
PLAIN and LOGIN over STARTTLS from 127.0.0.2, outside allowed_clients, and its mail is
relayed with DANE; a wrong password gets Postfix's 535 and its log line; AUTH before
STARTTLS gets 530; the fourth failure on a connection gets 421 and the connection ends;
refused clients queue nothing; a wrong users file stops the start (file:line) and a SIGHUP
with one keeps the old table. Hashes are made here with crypt(3) (sha512-crypt through
`openssl passwd -6`, yescrypt through libcrypt's crypt_gensalt)."""
import base64
import ctypes
import os
import signal
import smtplib
import subprocess
import time
import unittest

import relaylab
from relaylab import BINARY, Relay

CLIENT = "127.0.0.2"  # loopback, but outside allowed_clients = 127.0.0.1/32
FAIL_535 = "535 5.7.8 Error: authentication failed: authentication failure"

_libcrypt = ctypes.CDLL("libcrypt.so.1")
_libcrypt.crypt_gensalt.restype = ctypes.c_char_p
_libcrypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
_libcrypt.crypt.restype = ctypes.c_char_p
_libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]


def yescrypt(password):
    setting = _libcrypt.crypt_gensalt(b"$y$", 0, None, 0)
    return _libcrypt.crypt(password.encode(), setting).decode()


def sha512(password):
    return subprocess.run(["openssl", "passwd", "-6", password], capture_output=True, text=True,
                          check=True).stdout.strip()


def swaks(to, *extra):
    return subprocess.run(["swaks", "--server", "127.0.0.1:10025", "--local-interface", CLIENT,
                           "--from", "sender@relay.test", "--to", to, "--timeout", "30", *extra],
                          capture_output=True, text=True, timeout=90)


def plain(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def tls_session():
    """smtplib from CLIENT, after STARTTLS and a second EHLO."""
    return relaylab.starttls_session(CLIENT)


class AuthLab(unittest.TestCase):
    def auth_relay(self, users, start=True):
        """A relay with [tls] and auth_users = the given "user:hash" lines."""
        relay = Relay(start=False)
        cert, key = relaylab.server_cert(relay.dir)
        relay.users = os.path.join(relay.dir, "users")
        with open(relay.users, "w") as f:
            f.write(users)
        relay.write_conf(server=f'auth_users = "{relay.users}"',
                         extra=f'[tls]\ncert = "{cert}"\nkey = "{key}"\n')
        if start:
            relay.start()
        return relay

    def queued_from_client(self, relay):
        return [l for l in relay.lines() if f"client=localhost[{CLIENT}]" in l]

    def test_logins_relay_from_a_non_allowed_address(self):
        relay = self.auth_relay(f"# test users\nalice:{sha512('alice pw')}\n\n"
                                f"bob:{yescrypt('bob pw')}\n")
        try:
            relay.wait_for(r"AUTH PLAIN LOGIN after STARTTLS for 2 user\(s\)")
            p = swaks("plain@ee-good.test", "--tls", "--auth", "PLAIN", "--auth-user", "alice",
                      "--auth-password", "alice pw")
            self.assertEqual(p.returncode, 0, p.stdout)
            self.assertIn("235 2.7.0 Authentication successful", p.stdout)
            p = swaks("login@ee-good.test", "--tls", "--auth", "LOGIN", "--auth-user", "bob",
                      "--auth-password", "bob pw")
            self.assertEqual(p.returncode, 0, p.stdout)
            relay.wait_for(rf"client=localhost\[{CLIENT}\], sasl_method=PLAIN, "
                           r"sasl_username=alice$")
            relay.wait_for(rf"client=localhost\[{CLIENT}\], sasl_method=LOGIN, sasl_username=bob$")
            relay.wait_for(r"to=<plain@ee-good\.test>.*status=sent")
            relay.wait_for(r"to=<login@ee-good\.test>.*status=sent")
        finally:
            self.assertEqual(relay.stop(), 0)
        got = relaylab.received(relaylab.lab(), "plain@ee-good.test")
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0]["tls"])

    def test_refusals_queue_nothing(self):
        relay = self.auth_relay(f"alice:{yescrypt('right')}\n")
        try:
            # A wrong password: Postfix's reply and warning.
            p = swaks("bad@ee-good.test", "--tls", "--auth", "LOGIN", "--auth-user", "alice",
                      "--auth-password", "wrong")
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(FAIL_535, p.stdout)
            relay.wait_for(rf"dane-relay/smtpd\[\d+\]: warning: localhost\[{CLIENT}\]: SASL LOGIN "
                           r"authentication failed: authentication failure$")
            # An unknown user fails the same way.
            p = swaks("bad@ee-good.test", "--tls", "--auth", "PLAIN", "--auth-user", "mallory",
                      "--auth-password", "right")
            self.assertIn(FAIL_535, p.stdout)
            # Without STARTTLS: AUTH not offered, and refused when sent anyway.
            with smtplib.SMTP("127.0.0.1", 10025, timeout=30, source_address=(CLIENT, 0)) as s:
                s.ehlo("client.test")
                self.assertFalse(s.has_extn("auth"))
                self.assertTrue(s.has_extn("starttls"))
                code, text = s.docmd("AUTH", "PLAIN " + plain("alice", "right"))
                self.assertEqual((code, text), (530, b"5.7.0 Must issue a STARTTLS command first"))
            # Not authenticated, over TLS: relay access denied.
            p = swaks("noauth@ee-good.test", "--tls")
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("554 5.7.1 <noauth@ee-good.test>: Relay access denied", p.stdout)
            # Three failures get 535, the fourth 421 and the end of the connection.
            s = tls_session()
            self.assertTrue(s.has_extn("auth"))
            self.assertEqual(s.esmtp_features["auth"].split(), ["PLAIN", "LOGIN"])
            for _ in range(3):
                code, text = s.docmd("AUTH", "PLAIN " + plain("alice", "guess"))
                self.assertEqual(f"{code} {text.decode()}", FAIL_535)
            code, text = s.docmd("AUTH", "PLAIN " + plain("alice", "guess"))
            self.assertEqual(code, 421, text)
            self.assertIn(b"4.7.0", text)
            with self.assertRaises(smtplib.SMTPServerDisconnected):
                s.noop()
            s.close()
            time.sleep(0.5)
            self.assertEqual(self.queued_from_client(relay), [], "nothing queued")
            self.assertEqual(os.listdir(os.path.join(relay.dir, "spool", "queue")), [])
            warnings = [l for l in relay.lines() if "authentication failed" in l]
            self.assertEqual(len(warnings), 6, "\n".join(warnings))
            self.assertEqual(sum("SASL PLAIN" in l for l in warnings), 5)
        finally:
            self.assertEqual(relay.stop(), 0)

    def test_wrong_users_file_stops_the_start(self):
        relay = self.auth_relay(f"alice:{sha512('pw')}\nbob\n:{sha512('pw')}\ncarol:secret\n",
                                start=False)
        p = subprocess.run([BINARY, "serve", "-c", relay.conf], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"{relay.users}:2: no ':' (a line is user:hash)", p.stderr)
        self.assertIn(f"{relay.users}:3: empty user name", p.stderr)
        self.assertIn(f"{relay.users}:4: a legacy crypt(3) method", p.stderr)
        self.assertFalse(any("daemon started" in l for l in relay.lines()))

    def test_sighup_rereads_the_users_file(self):
        relay = self.auth_relay(f"alice:{sha512('one')}\n")
        try:
            with open(relay.users, "w") as f:
                f.write(f"alice:{sha512('one')}\ncarol:{yescrypt('two')}\n")
            relay.proc.send_signal(signal.SIGHUP)
            relay.wait_for(r"reload -- version")
            p = swaks("carol@ee-good.test", "--tls", "--auth", "PLAIN", "--auth-user", "carol",
                      "--auth-password", "two")
            self.assertEqual(p.returncode, 0, p.stdout)
            # A broken file on SIGHUP: refused with file:line, the old table stays.
            with open(relay.users, "w") as f:
                f.write("carol\n")
            relay.proc.send_signal(signal.SIGHUP)
            relay.wait_for(rf"configuration not reloaded, keeping the old one: {relay.users}:1: "
                           r"no ':'")
            p = swaks("carol2@ee-good.test", "--tls", "--auth", "LOGIN", "--auth-user", "carol",
                      "--auth-password", "two")
            self.assertEqual(p.returncode, 0, p.stdout)
        finally:
            self.assertEqual(relay.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/env python3
"""`dane-relay config check` as a command (SPEC §8, §9): besides the TOML itself it reads the
files the configuration names, as `serve` does at start, so that a config it calls OK is one
the daemon starts with. A [tls] certificate and key made here with openssl, an auth_users file
with hashes made by `openssl passwd -6`; every broken variant must exit 1 and name the problem
(a users file's every wrong line as "file:line: reason"); usage errors exit 2. No sockets.

Run: DANE_RELAY=build/relay/dane-relay tests/relay/config_cli_test.py
"""
import os
import subprocess
import tempfile
import unittest

BINARY = os.environ.get("DANE_RELAY", "build/relay/dane-relay")


def openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True,
                          check=True, timeout=60).stdout


def make_cert(d, name):
    """A self-signed EC certificate and its key, as d/name.crt and d/name.key."""
    crt, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=relay.example.test")
    return crt, key


class ConfigCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.crt, cls.key = make_cert(cls.dir, "relay")
        cls.other_crt, cls.other_key = make_cert(cls.dir, "other")
        cls.hash = openssl("passwd", "-6", "-stdin", stdin="secret\n").strip()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def config(self, name, cert=None, key=None, users=None):
        cert, key = cert or self.crt, key or self.key
        text = '[tls]\ncert = "%s"\nkey = "%s"\n' % (cert, key)
        if users is not None:
            text = '[server]\nauth_users = "%s"\n' % users + text
        return self.write(name, text)

    def check(self, path):
        r = subprocess.run([BINARY, "config", "check", "-c", path], capture_output=True,
                           text=True, timeout=60)
        return r.returncode, r.stdout, r.stderr

    def test_good_files_are_ok(self):
        users = self.write("users.good", "# who may AUTH\nmta1:%s\n\nmta2:%s\n" % (self.hash, self.hash))
        path = self.config("good.toml", users=users)
        self.assertEqual(self.check(path), (0, path + ": OK\n", ""))

    def test_every_wrong_users_line_is_named(self):
        users = self.write("users.bad", "mta1:%s\nnocolon\nmta2:%s\nmta3:secret\n"
                           % (self.hash, self.hash))
        rc, out, err = self.check(self.config("badusers.toml", users=users))
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        lines = err.splitlines()
        self.assertEqual(len(lines), 2, err)
        self.assertTrue(lines[0].startswith(users + ":2: "), err)
        self.assertTrue(lines[1].startswith(users + ":4: "), err)

    def test_missing_users_file(self):
        users = os.path.join(self.dir, "no-such-users")
        rc, out, err = self.check(self.config("nousers.toml", users=users))
        self.assertEqual((rc, out), (1, ""))
        self.assertIn(users + ": cannot open: No such file or directory", err)

    def test_key_of_another_certificate(self):
        rc, out, err = self.check(self.config("mismatch.toml", key=self.other_key))
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("cannot load [tls] certificate or key", err)

    def test_certificate_that_is_not_pem(self):
        junk = self.write("junk.crt", "this is not a certificate\n")
        rc, out, err = self.check(self.config("junkcert.toml", cert=junk))
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("cannot load [tls] certificate or key", err)

    def test_key_where_the_certificate_should_be(self):
        rc, out, err = self.check(self.config("swapped.toml", cert=self.key, key=self.crt))
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("cannot load [tls] certificate or key", err)

    def test_toml_error_names_file_line_column(self):
        path = self.write("syntax.toml", "[server]\nlisten = [\n")
        rc, out, err = self.check(path)
        self.assertEqual((rc, out), (1, ""))
        self.assertRegex(err, "^" + path + r":\d+:\d+: ")

    def test_usage(self):
        for args in (["config"], ["config", "check", "extra"], ["config", "verify"],
                     ["config", "check", "-c"]):
            r = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage: dane-relay config check", r.stderr, args)
        r = subprocess.run([BINARY, "config", "--help"], capture_output=True, text=True, timeout=60)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertIn("usage: dane-relay config check", r.stdout)


if __name__ == "__main__":
    unittest.main()

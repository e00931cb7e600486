#!/usr/bin/python3
"""Which MTA-STS policy applies (relay/queue/sts_policies.hpp), end to end in the lab:
the `_mta-sts.ee-good.test` TXT record (id lab20261203) through the validating resolver,
mta-sts.ee-good.test (127.0.4.1 in lab DNS) served here over HTTPS by a certificate under
a test CA that only the probe trusts, and the on-disk cache. Expected outcomes from RFC 8461
§3.3 and §5.1: a new id (or nothing cached) fetches and caches; the same id uses the cache
without fetching; a failed fetch or a bad policy never replaces a cached one, and without a
cache there is no policy, with the TLSRPT failure type (RFC 8460 §4.3.2.1).
Runs inside the lab (tests/lab/lab run -- ...)."""
import http.server
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dane"))
from sts_fetch_test import Certs  # noqa: E402

PROBE = os.environ["STS_POLICY_PROBE"]
DOMAIN = "ee-good.test"
ADDRESS, PORT = "127.0.4.1", 8443
POLICY = "version: STSv1\nmode: enforce\nmx: mx.ee-good.test\nmax_age: 86400\n"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        srv = self.server
        srv.paths.append(self.path)
        body = srv.body.encode()
        self.send_response(srv.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class StsPolicy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="sts-policy.")
        cls.certs = Certs(cls.tmp.name)
        crt, key = cls.certs.leaf("policy", f"mta-sts.{DOMAIN}")
        srv = http.server.ThreadingHTTPServer((ADDRESS, PORT), Handler)
        srv.daemon_threads = True
        srv.paths, srv.body, srv.status = [], POLICY, 200
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        cls.srv = srv

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()
        cls.tmp.cleanup()

    def setUp(self):
        self.cache = tempfile.mkdtemp(dir=self.tmp.name)
        self.srv.paths.clear()
        self.srv.body, self.srv.status = POLICY, 200

    def find(self, domain=DOMAIN, calls=1):
        p = subprocess.run([PROBE, domain, self.cache, self.certs.ca, str(PORT), str(calls)],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
                    for line in p.stdout.splitlines())

    def cached_file(self):
        return os.path.join(self.cache, DOMAIN)

    def test_new_id_fetches_and_caches_then_the_cache_serves(self):
        r = self.find()
        self.assertEqual(r["policy"], "enforce 86400 mx.ee-good.test", r)
        self.assertEqual((r["fetched"], r["failure"]), ("yes", ""), r)
        self.assertEqual(self.srv.paths, ["/.well-known/mta-sts.txt"])
        with open(self.cached_file()) as f:
            self.assertIn("id: lab20261203\n", f.read())
        self.srv.status = 500  # the host is broken now: the cache must not need it
        r = self.find()
        self.assertEqual((r["policy"], r["fetched"]), ("enforce 86400 mx.ee-good.test", "no"), r)
        self.assertEqual(len(self.srv.paths), 1)  # no second request

    def test_concurrent_finds_share_one_fetch(self):
        r = self.find(calls=8)  # parallel deliveries to one domain, nothing cached yet
        self.assertEqual((r["policy"], r["fetches"], r["agree"]),
                         ("enforce 86400 mx.ee-good.test", "1", "yes"), r)
        self.assertEqual(self.srv.paths, ["/.well-known/mta-sts.txt"])

    def test_no_cache_and_a_failed_fetch_is_no_policy(self):
        self.srv.status = 404
        r = self.find()
        self.assertEqual((r["policy"], r["fetched"]), ("none", "yes"), r)
        self.assertEqual(r["failure"], "sts-policy-fetch-error", r)
        self.assertFalse(os.path.exists(self.cached_file()))

    def test_no_record_is_no_policy_and_no_fetch(self):
        r = self.find("ee-301.test")  # no _mta-sts record (securely NXDOMAIN)
        self.assertEqual((r["policy"], r["fetched"], r["failure"]), ("none", "no", ""), r)
        self.assertEqual(r["why"], "NXDOMAIN", r)
        self.assertEqual(self.srv.paths, [])

    def test_a_bad_policy_under_a_new_id_keeps_the_cached_one(self):
        self.find()
        with open(self.cached_file()) as f:
            text = f.read()
        with open(self.cached_file(), "w") as f:  # cached under an older id
            f.write(text.replace("id: lab20261203\n", "id: old1\n"))
        self.srv.body = "version: STSv1\nmode: sometimes\nmx: mx.ee-good.test\nmax_age: 86400\n"
        r = self.find()
        self.assertEqual((r["policy"], r["fetched"]), ("enforce 86400 mx.ee-good.test", "yes"), r)
        self.assertEqual(r["failure"], "sts-policy-invalid", r)
        with open(self.cached_file()) as f:
            self.assertIn("id: old1\n", f.read())  # not replaced by the bad one


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""The MTA-STS policy fetch (dane/sts_fetch.hpp) against real HTTPS servers.

Each case is a Python HTTPS server on 127.0.0.1 with a certificate made here by openssl,
under a test CA that only the probe trusts (CA_FILE). The expected outcome of each comes
from RFC 8461 §3.3: HTTPS with a certificate valid for mta-sts.<domain> (PKIX), no
redirects, a 200 of media type text/plain, and a size and time limit (64 KB, one minute;
the probe passes a short one). Failures of the certificate are "webpki_error" (TLSRPT
sts-webpki-invalid), the rest "fetch_error" (sts-policy-fetch-error).
"""
import http.server
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

PROBE = os.environ.get("STS_FETCH_PROBE", "build/tests/dane/sts_fetch_probe")
POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx.good.test\r\nmx: *.good.test\r\nmax_age: 86400\r\n"

CA_CNF = """[ca]
default_ca = test
[test]
database = {d}/index.txt
new_certs_dir = {d}
serial = {d}/serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
"""


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


class Certs:
    """A test CA, leaves under it (valid or expired) and one self-signed leaf."""

    def __init__(self, d):
        self.d = d
        with open(f"{d}/ca.cnf", "w") as f:
            f.write(CA_CNF.format(d=d))
        open(f"{d}/index.txt", "w").close()
        with open(f"{d}/serial", "w") as f:
            f.write("01\n")
        self.ca = f"{d}/ca.crt"
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", f"{d}/ca.key", "-out", self.ca, "-days", "30",
                "-subj", "/CN=sts test CA")

    def leaf(self, tag, name, start="-1d", end="+30d", self_signed=False):
        key, csr, crt = (f"{self.d}/{tag}.{x}" for x in ("key", "csr", "crt"))
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", csr, "-subj", f"/CN={name}",
                "-addext", f"subjectAltName=DNS:{name}")
        if self_signed:
            openssl("req", "-x509", "-key", key, "-in", csr, "-out", crt, "-days", "30",
                    "-copy_extensions", "copy")
        else:
            stamp = lambda days: time.strftime(  # noqa: E731
                "%Y%m%d%H%M%SZ", time.gmtime(time.time() + int(days[:-1]) * 86400))
            openssl("ca", "-batch", "-config", f"{self.d}/ca.cnf", "-cert", self.ca,
                    "-keyfile", f"{self.d}/ca.key", "-in", csr, "-out", crt, "-notext",
                    "-startdate", stamp(start), "-enddate", stamp(end))
        return crt, key


def handler_for(status, body, ctype, headers=()):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.server.paths.append(self.path)
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            for k, v in headers:
                self.send_header(k, v)
            if body is not None:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body if body is not None else b"x" * 100000)  # no length: to close

        def log_message(self, *a):
            pass
    return H


def serve(crt, key, handler):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    srv.paths = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class StsFetch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="sts-fetch.")
        cls.certs = Certs(cls.tmp.name)
        cls.servers = []

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.shutdown()
            s.server_close()
        cls.tmp.cleanup()

    def fetch(self, domain, port, cert=None, status=200, body=POLICY.encode(),
              ctype="text/plain", headers=(), timeout_ms=5000):
        crt, key = cert or self.certs.leaf(domain, f"mta-sts.{domain}")
        srv = serve(crt, key, handler_for(status, body, ctype, headers)) if port is None else None
        if srv:
            self.servers.append(srv)
            port = srv.server_address[1]
        t = time.monotonic()
        p = subprocess.run([PROBE, domain, self.certs.ca, "127.0.0.1", str(port), str(timeout_ms)],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = dict(line.split(": ", 1) for line in p.stdout.splitlines())
        out["seconds"] = time.monotonic() - t
        out["paths"] = srv.paths if srv else []
        return out

    def test_good_policy(self):
        r = self.fetch("good.test", None, ctype="text/plain; charset=utf-8")
        self.assertEqual(r["kind"], "body", r)
        self.assertEqual(r["policy"], "enforce 86400 mx.good.test *.good.test")
        self.assertEqual(r["paths"], ["/.well-known/mta-sts.txt"])

    def test_redirect_is_not_followed(self):
        r = self.fetch("redirect.test", None, status=302, body=b"",
                       headers=[("Location", "https://mta-sts.good.test/.well-known/mta-sts.txt")])
        self.assertEqual(r["kind"], "fetch_error", r)
        self.assertIn("HTTP 302: redirects are not followed", r["why"])
        self.assertEqual(len(r["paths"]), 1)  # one request, no second one

    def test_not_found(self):
        r = self.fetch("missing.test", None, status=404, body=b"no")
        self.assertEqual((r["kind"], r["why"].split(": ")[-1]), ("fetch_error", "HTTP 404"))

    def test_wrong_media_type(self):
        r = self.fetch("html.test", None, ctype="text/html")
        self.assertEqual(r["kind"], "fetch_error", r)
        self.assertIn("media type text/html is not text/plain", r["why"])
        r = self.fetch("notype.test", None, ctype=None)
        self.assertIn("media type (none) is not text/plain", r["why"])

    def test_oversize(self):
        big = POLICY.encode() + b"#" * 70000
        r = self.fetch("big.test", None, body=big)  # with a Content-Length
        self.assertEqual(r["kind"], "fetch_error", r)
        self.assertIn("larger than 65536 bytes", r["why"])
        r = self.fetch("stream.test", None, body=None)  # no length: cut while reading
        self.assertIn("larger than 65536 bytes", r["why"])

    def test_malformed_policy_is_fetched_but_invalid(self):
        r = self.fetch("bad.test", None, body=b"version: STSv1\nmode: enforce\nmax_age: 1\n")
        self.assertEqual(r["kind"], "body", r)
        self.assertEqual(r["invalid"], "no mx")

    def test_certificate_for_another_name(self):
        r = self.fetch("wrongname.test", None,
                       cert=self.certs.leaf("other", "mta-sts.other.test"))
        self.assertEqual(r["kind"], "webpki_error", r)

    def test_expired_certificate(self):
        r = self.fetch("expired.test", None,
                       cert=self.certs.leaf("old", "mta-sts.expired.test", "-10d", "-1d"))
        self.assertEqual(r["kind"], "webpki_error", r)
        self.assertIn("expired", r["why"])

    def test_untrusted_certificate(self):
        r = self.fetch("selfsigned.test", None,
                       cert=self.certs.leaf("self", "mta-sts.selfsigned.test", self_signed=True))
        self.assertEqual(r["kind"], "webpki_error", r)

    def test_a_silent_server_times_out(self):
        with socket.socket() as s:  # listens, never answers the TLS handshake
            s.bind(("127.0.0.1", 0))
            s.listen()
            r = self.fetch("silent.test", s.getsockname()[1], timeout_ms=1500)
        self.assertEqual(r["kind"], "fetch_error", r)
        self.assertLess(r["seconds"], 10)

    def test_nothing_listening(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again: connections are refused
        r = self.fetch("refused.test", port)
        self.assertEqual(r["kind"], "fetch_error", r)


if __name__ == "__main__":
    unittest.main(verbosity=2)

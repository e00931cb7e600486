#!/usr/bin/python3
"""A TLSRPT report POSTed to an https: rua (relay/tlsrpt/post.hpp) against real HTTPS servers
on 127.0.0.1, with certificates from sts_fetch_test.py's test CA, which only the probe trusts.

Expected outcomes, from RFC 8460 §5.3.1: the body is the gzip'd JSON report with Content-Type
application/tlsrpt+gzip, sent by POST over HTTPS with a certificate valid for the URL's host;
a "200 OK" or other 2xx is delivered; anything else is not. Where the RFC is silent (redirects,
a certificate that does not verify), the policy fetch's rules apply (RFC 8461 §3.3: no
redirects, PKIX), as mox does for its report submissions.
"""
import gzip
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dane"))
from sts_fetch_test import Certs, serve  # noqa: E402

PROBE = os.environ.get("TLSRPT_POST_PROBE", "build/tests/relay/tlsrpt_post_probe")
REPORT = {"organization-name": "Lab", "date-range": {"start-datetime": "2026-12-03T00:00:00Z",
                                                      "end-datetime": "2026-12-03T23:59:59Z"},
          "contact-info": "postmaster@relay.test", "report-id": "r1", "policies": []}


def receiver(status, headers=()):
    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.server.paths.append((self.path, self.headers.get("Content-Type"), body))
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass
    return H


class TlsrptPost(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="tlsrpt-post.")
        cls.certs = Certs(cls.tmp.name)
        cls.report = os.path.join(cls.tmp.name, "report.json")
        with open(cls.report, "w") as f:
            json.dump(REPORT, f)
        cls.servers = []

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.shutdown()
            s.server_close()
        cls.tmp.cleanup()

    def post(self, host, status=200, cert=None, headers=(), url=None, port=None):
        crt, key = cert or self.certs.leaf(host, host)
        srv = None
        if port is None:
            srv = serve(crt, key, receiver(status, headers))
            self.servers.append(srv)
            port = srv.server_address[1]
        url = url or f"https://{host}/v1/tlsrpt"
        p = subprocess.run([PROBE, url, self.certs.ca, "127.0.0.1", str(port), self.report],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = dict(line.split(": ", 1) for line in p.stdout.splitlines())
        out["got"] = srv.paths if srv else []
        return out

    def test_the_report_is_posted_gzipd_as_application_tlsrpt_gzip(self):
        r = self.post("reports.good.test")
        self.assertEqual((r["delivered"], r["text"]), ("yes", "HTTP 200"))
        ((path, ctype, body),) = r["got"]
        self.assertEqual((path, ctype), ("/v1/tlsrpt", "application/tlsrpt+gzip"))
        self.assertEqual(json.loads(gzip.decompress(body)), REPORT)

    def test_any_2xx_is_delivered(self):
        for status in (201, 202, 204):
            self.assertEqual(self.post("reports.good.test", status)["delivered"], "yes", status)

    def test_an_error_status_is_not_delivered(self):
        for status in (400, 404, 413, 500, 503):
            r = self.post("reports.good.test", status)
            self.assertEqual((r["delivered"], r["text"]), ("no", f"HTTP {status}"))

    def test_a_redirect_is_not_followed(self):
        r = self.post("reports.good.test", 307,
                      headers=[("Location", "https://reports.good.test/elsewhere")])
        self.assertEqual((r["delivered"], r["text"]),
                         ("no", "HTTP 307: redirects are not followed"))
        self.assertEqual(len(r["got"]), 1)

    def test_a_certificate_for_another_name_or_untrusted_is_refused(self):
        for cert in (self.certs.leaf("other", "other.good.test"),
                     self.certs.leaf("selfs", "reports.good.test", self_signed=True),
                     self.certs.leaf("old", "reports.good.test", "-10d", "-1d")):
            r = self.post("reports.good.test", cert=cert)
            self.assertEqual(r["delivered"], "no", r)
            self.assertTrue(r["text"].startswith("certificate not trusted: "), r)
            self.assertEqual(r["got"], [])  # nothing was posted

    def test_only_https_urls(self):
        for url in ("http://reports.good.test/", "ftp://reports.good.test/", "https:///x",
                    "not a url"):
            r = self.post("reports.good.test", url=url)
            self.assertEqual(r["delivered"], "no", url)
            self.assertEqual(r["got"], [], url)

    def test_nothing_listening_or_a_silent_server(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.assertEqual(self.post("reports.good.test", port=port)["delivered"], "no")
        with socket.socket() as s:  # listens, never answers: the time limit ends it
            s.bind(("127.0.0.1", 0))
            s.listen()
            r = self.post("reports.good.test", port=s.getsockname()[1])
        self.assertEqual(r["delivered"], "no")
        self.assertIn("timed out", r["text"])


if __name__ == "__main__":
    unittest.main(verbosity=2)

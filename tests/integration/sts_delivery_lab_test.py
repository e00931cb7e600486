#!/usr/bin/python3
"""MTA-STS (RFC 8461) in delivery, end to end in the lab: `dane-relay serve` with the lab CA as
its only PKIX trust ([tls] ca_file), the lab's unsigned sts-*.test domains (labgen.py
STS_DOMAINS: `_mta-sts` TXT id lab1, mta-sts.<domain> at 127.0.4.1), and the policies served
here over HTTPS on 127.0.4.1:443 with the lab's policy-host certificate.

Expected outcomes, from RFC 8461 unless said otherwise:
- enforce: only MX hosts matching the policy (§4.1), only over TLS verified for the MX name
  (§4.2), otherwise deferred (§5; 4.7.5 as Postfix's TLS policy failures). Logged "Verified
  TLS connection established", `tls=sts` in the delivery line (our name for the policy that
  applied, as Postfix 3.11's tls= names the level);
- testing: delivered as without a policy (§5);
- DANE wins (§2): a domain with usable TLSA is delivered by DANE, its policy not fetched;
- a cached policy outlives an outage of the policy host and a restart (§5.1, §3.3);
- no cached policy and a failed fetch or a bad policy: no policy (§5.1), with a warning naming
  the TLSRPT result type (RFC 8460 §4.3.2.1);
- a bad policy under a new id never replaces a valid cached one (§3.3), whatever is wrong:
  syntax, size, redirect, media type;
- a new id fetches the new policy, which then applies (§3.3).
Runs inside the lab (tests/lab/lab run -- ...)."""
import gzip
import http.server
import json
import os
import re
import smtplib
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import relaylab
from relaylab import BINARY, Relay, sink_records

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "relay"))
import tlsrpt_mail_check  # noqa: E402
import tlsrpt_schema_check  # noqa: E402

LAB = relaylab.lab()
STS = LAB["sts"]
PORT = 443

DELIVERY = re.compile(r"dane-relay/smtp\[\d+\]: \w+: to=<(?P<rcpt>[^>]+)>, relay=(?P<relay>\S+), "
                      r".*tls=(?P<tls>\S+), dsn=(?P<dsn>[\d.]+), status=(?P<status>\w+) "
                      r"\((?P<text>.*)\)$")


def policy(mode, *mx, max_age=86400):
    return "version: STSv1\nmode: %s\n%smax_age: %d\n" % (
        mode, "".join(f"mx: {m}\n" for m in mx), max_age)


DEFAULTS = {
    "sts-enforce.test": policy("enforce", "mx.sts-enforce.test"),
    "sts-mismatch.test": policy("enforce", "mx.elsewhere.test", "*.other.test"),
    "sts-badcert.test": policy("enforce", "mx.sts-badcert.test"),
    "sts-testing.test": policy("testing", "mx.sts-testing.test"),
    # If MTA-STS overrode DANE, this policy would refuse ee-good.test's only MX host.
    "ee-good.test": policy("enforce", "mx.nowhere.test"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        srv = self.server
        domain = self.headers.get("Host", "").split(":")[0].removeprefix("mta-sts.")
        srv.requests.append((domain, self.path))
        status, ctype, body, extra = srv.answers.get(domain, (404, "text/plain", "", {}))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (ConnectionError, ssl.SSLError):
            pass  # the client stopped reading (the oversize policy): what it should do

    def do_POST(self):
        """A TLSRPT report (RFC 8460 §5.3.1): kept, answered with srv.post_status."""
        srv = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        srv.posts.append({"host": self.headers.get("Host"), "path": self.path,
                          "type": self.headers.get("Content-Type"), "body": body})
        self.send_response(srv.post_status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def serve_policies():
    srv = http.server.ThreadingHTTPServer((STS["address"], PORT), Handler)
    srv.daemon_threads = True
    srv.requests, srv.answers, srv.posts, srv.post_status = [], {}, [], 200
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(STS["cert"], STS["key"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def send(rcpt):
    with smtplib.SMTP("127.0.0.1", 10025, timeout=30) as s:
        s.sendmail("sender@relay.test", [rcpt],
                   f"From: sender@relay.test\r\nTo: {rcpt}\r\nSubject: sts\r\n\r\nhello\r\n")


class StsDelivery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = serve_policies()

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()

    def setUp(self):
        self.srv.requests.clear()
        self.answer_all()
        self.relays = []

    def tearDown(self):
        for r in self.relays:
            if r.proc and r.proc.poll() is None:
                r.stop()

    def answer_all(self, **changes):
        self.srv.answers = {d: (200, "text/plain", p, {}) for d, p in DEFAULTS.items()}
        self.srv.answers.update(changes)

    def relay(self, spool=None, backoff="1h"):
        extra = f'[tls]\nca_file = "{STS["ca"]}"\n'
        r = Relay(extra=extra, spool=spool, backoff=backoff)
        self.relays.append(r)
        return r

    def verdict(self, relay, rcpt, n=1, timeout=60):
        """The n-th delivery line for rcpt (parsed), and its index in the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [(i, m) for i, m in ((i, DELIVERY.search(l)) for i, l in
                                         enumerate(relay.lines())) if m and m["rcpt"] == rcpt]
            if len(found) >= n:
                return found[n - 1][1].groupdict(), found[n - 1][0]
            relay.check_running()
            time.sleep(0.1)
        raise AssertionError(f"no delivery line {n} for {rcpt}:\n" + "\n".join(relay.lines()))

    def messages_at(self, domain, *rcpts):
        """What the domain's sink accepted for these recipients (the lab outlives a test)."""
        sink = STS["domains"][domain]["sink"]
        return [m for rec in sink_records(LAB, sink) for m in rec["messages"]
                if m.get("accepted") and set(m["rcpt_to"]) & set(rcpts)]

    def fetches(self, domain):
        return [r for r in self.srv.requests if r[0] == domain]

    def warnings(self, relay, domain):
        return [l for l in relay.lines() if f"warning: MTA-STS policy for {domain}: " in l]

    def test_enforce_delivers_over_tls_verified_for_the_mx_name(self):
        r = self.relay()
        send("a@sts-enforce.test")
        v, at = self.verdict(r, "a@sts-enforce.test")
        self.assertEqual((v["status"], v["dsn"], v["tls"]), ("sent", "2.0.0", "sts"), v)
        tls = [l for l in r.lines()[:at] if "TLS connection established to mx.sts-enforce" in l]
        self.assertEqual(len(tls), 1, r.lines())
        self.assertIn("Verified TLS connection established to mx.sts-enforce.test[", tls[0])
        got = self.messages_at("sts-enforce.test", "a@sts-enforce.test")
        self.assertEqual([m["rcpt_to"] for m in got], [["a@sts-enforce.test"]])
        self.assertEqual(self.fetches("sts-enforce.test"),
                         [("sts-enforce.test", "/.well-known/mta-sts.txt")])
        with open(os.path.join(r.options["spool"], "sts", "sts-enforce.test")) as f:
            self.assertIn("id: lab1\n", f.read())  # cached on disk, in the spool

    def test_enforce_never_connects_to_an_mx_host_outside_the_policy(self):
        r = self.relay()
        send("b@sts-mismatch.test")
        v, _ = self.verdict(r, "b@sts-mismatch.test")
        self.assertEqual((v["status"], v["dsn"]), ("deferred", "4.7.5"), v)
        self.assertIn("MX host mx.sts-mismatch.test does not match the MTA-STS policy", v["text"])
        self.assertEqual(sink_records(LAB, STS["domains"]["sts-mismatch.test"]["sink"]), [])

    def test_enforce_defers_when_the_certificate_is_not_trusted(self):
        r = self.relay()
        send("c@sts-badcert.test")
        v, _ = self.verdict(r, "c@sts-badcert.test")
        self.assertEqual((v["status"], v["dsn"]), ("deferred", "4.7.5"), v)
        self.assertIn("Server certificate not trusted", v["text"])
        self.assertEqual(self.messages_at("sts-badcert.test", "c@sts-badcert.test"), [])

    def test_testing_mode_delivers_as_without_a_policy(self):
        r = self.relay()
        send("d@sts-testing.test")
        v, _ = self.verdict(r, "d@sts-testing.test")
        self.assertEqual((v["status"], v["tls"]), ("sent", "may"), v)
        self.assertEqual(len(self.messages_at("sts-testing.test", "d@sts-testing.test")), 1)
        self.assertEqual(len(self.fetches("sts-testing.test")), 1)  # it was looked at

    def test_dane_wins_and_its_policy_is_not_even_fetched(self):
        r = self.relay()
        send("e@ee-good.test")
        v, _ = self.verdict(r, "e@ee-good.test")
        self.assertEqual((v["status"], v["tls"]), ("sent", "dane"), v)
        self.assertEqual(self.fetches("ee-good.test"), [])

    def test_a_cached_policy_outlives_a_restart_and_an_outage_of_the_policy_host(self):
        r = self.relay()
        send("f@sts-badcert.test")
        v, _ = self.verdict(r, "f@sts-badcert.test")
        self.assertEqual(v["status"], "deferred", v)
        r.stop()
        self.srv.answers = {}  # the policy host answers 404 to everything now
        self.srv.requests.clear()
        r2 = self.relay(spool=r.options["spool"])
        send("g@sts-badcert.test")
        v, _ = self.verdict(r2, "g@sts-badcert.test")
        self.assertEqual((v["status"], v["dsn"]), ("deferred", "4.7.5"), v)
        self.assertEqual(self.messages_at("sts-badcert.test", "f@sts-badcert.test",
                                          "g@sts-badcert.test"), [])
        self.assertEqual(self.srv.requests, [])  # same id, fresh cache: no fetch needed

    def test_no_cache_and_a_failed_fetch_is_no_policy_with_a_warning(self):
        self.answer_all(**{"sts-badcert.test": (503, "text/plain", "busy", {})})
        r = self.relay()
        send("h@sts-badcert.test")
        v, at = self.verdict(r, "h@sts-badcert.test")
        self.assertEqual((v["status"], v["tls"]), ("sent", "may"), v)
        w = self.warnings(r, "sts-badcert.test")
        self.assertEqual(len(w), 1, r.lines())
        self.assertIn("sts-badcert.test: sts-policy-fetch-error: ", w[0])
        self.assertFalse(os.path.exists(os.path.join(r.options["spool"], "sts",
                                                     "sts-badcert.test")))

    def cache_under_old_id(self, relay, domain):
        path = os.path.join(relay.options["spool"], "sts", domain)
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("id: lab1\n", "id: old1\n"))
        return path

    def test_a_bad_policy_under_a_new_id_never_replaces_the_cached_one(self):
        r = self.relay()
        send("i@sts-badcert.test")  # fetches and caches the enforce policy under lab1
        self.assertEqual(self.verdict(r, "i@sts-badcert.test")[0]["status"], "deferred")
        r.stop()
        path = self.cache_under_old_id(r, "sts-badcert.test")
        with open(path) as f:
            cached = f.read()
        bad = {
            "syntax": ((200, "text/plain", policy("sometimes", "mx.sts-badcert.test"), {}),
                       "sts-policy-invalid"),
            "oversize": ((200, "text/plain", policy("none") + "x: " + "y" * 70000 + "\n", {}),
                         "sts-policy-fetch-error"),
            "redirect": ((301, "text/plain", "", {"Location": "https://mta-sts.ee-good.test/"}),
                         "sts-policy-fetch-error"),
            "media type": ((200, "text/html", policy("none"), {}), "sts-policy-fetch-error"),
        }
        r2 = self.relay(spool=r.options["spool"])
        for n, (what, (answer, failure)) in enumerate(bad.items()):
            with self.subTest(what=what):
                self.answer_all(**{"sts-badcert.test": answer})
                rcpt = f"j{n}@sts-badcert.test"
                send(rcpt)
                v, at = self.verdict(r2, rcpt)
                self.assertEqual((v["status"], v["dsn"]), ("deferred", "4.7.5"), v)
                w = self.warnings(r2, "sts-badcert.test")
                self.assertIn(f"sts-badcert.test: {failure}: ", w[-1])
                self.assertIn("(the cached policy applies)", w[-1])
                with open(path) as f:
                    self.assertEqual(f.read(), cached)
        self.assertEqual(self.messages_at("sts-badcert.test", "i@sts-badcert.test",
                                          *[f"j{n}@sts-badcert.test" for n in range(len(bad))]),
                         [])

    def test_a_new_id_fetches_the_new_policy_which_applies(self):
        r = self.relay()
        send("k@sts-enforce.test")
        self.assertEqual(self.verdict(r, "k@sts-enforce.test")[0]["status"], "sent")
        r.stop()
        self.cache_under_old_id(r, "sts-enforce.test")
        self.answer_all(**{"sts-enforce.test": (
            200, "text/plain", policy("enforce", "mx.moved.test"), {})})
        r2 = self.relay(spool=r.options["spool"])
        send("l@sts-enforce.test")
        v, _ = self.verdict(r2, "l@sts-enforce.test")
        self.assertEqual((v["status"], v["dsn"]), ("deferred", "4.7.5"), v)
        self.assertIn("does not match the MTA-STS policy", v["text"])
        with open(os.path.join(r.options["spool"], "sts", "sts-enforce.test")) as f:
            text = f.read()
        self.assertIn("id: lab1\n", text)
        self.assertIn("mx: mx.moved.test", text)


class StsTools(unittest.TestCase):
    """`check` and `monitor` apply MTA-STS as delivery does (memory only: no cache on disk),
    show the policy, and judge it: a host an enforce policy refuses or whose certificate does
    not verify is what STS senders defer on; a policy that cannot be fetched is a WARNING."""

    @classmethod
    def setUpClass(cls):
        cls.srv = serve_policies()
        cls.tmp = tempfile.TemporaryDirectory(prefix="sts-tools.")
        cls.conf = os.path.join(cls.tmp.name, "relay.toml")
        cls.off = os.path.join(cls.tmp.name, "off.toml")
        with open(cls.conf, "w") as f:
            f.write(f'[tls]\nca_file = "{STS["ca"]}"\n')
        with open(cls.off, "w") as f:
            f.write(f'[tls]\nca_file = "{STS["ca"]}"\n[sts]\nenabled = false\n')

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()
        cls.tmp.cleanup()

    def setUp(self):
        self.srv.answers = {d: (200, "text/plain", p, {}) for d, p in DEFAULTS.items()}

    def run_tool(self, tool, *args, conf=None):
        return subprocess.run([BINARY, tool, "-c", conf or self.conf, "--unbound-conf",
                               os.environ["LAB_UNBOUND_CONF"], *args],
                              capture_output=True, text=True, timeout=120)

    def test_check_shows_the_policy_and_delivers_over_verified_tls(self):
        p = self.run_tool("check", "sts-enforce.test")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("  MTA-STS: enforce, max_age 86400, mx mx.sts-enforce.test", p.stdout)
        self.assertIn("TLS policy: verify, SNI mx.sts-enforce.test, names mx.sts-enforce.test",
                      p.stdout)
        self.assertRegex(p.stdout, r"result: deliver via mx\.sts-enforce\.test\[[^]]+\]:25 "
                                   r"with Verified TLS")

    def test_check_defers_where_delivery_would(self):
        p = self.run_tool("check", "--json", "sts-mismatch.test", "sts-badcert.test")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        got = {d["domain"]: d for d in json.loads(p.stdout)["domains"]}
        mismatch, badcert = got["sts-mismatch.test"], got["sts-badcert.test"]
        self.assertEqual(mismatch["sts"]["policy"]["mx"], ["mx.elsewhere.test", "*.other.test"])
        self.assertEqual((mismatch["verdict"]["action"], mismatch["verdict"]["dsn"]),
                         ("defer", "4.7.5"))
        self.assertIn("does not match the MTA-STS policy", mismatch["verdict"]["reason"])
        self.assertEqual(badcert["sts"]["policy"]["mode"], "enforce")
        self.assertEqual((badcert["verdict"]["action"], badcert["verdict"]["reason"]),
                         ("defer", "Server certificate not trusted"))
        off = self.run_tool("check", "sts-mismatch.test", conf=self.off)  # [sts] enabled = false
        self.assertEqual(off.returncode, 0, off.stdout + off.stderr)
        self.assertNotIn("MTA-STS", off.stdout)

    def test_check_reports_no_policy_and_why(self):
        self.srv.answers = {}  # 404 everywhere
        p = self.run_tool("check", "sts-enforce.test", "unsigned.test")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("  MTA-STS: no policy (https://mta-sts.sts-enforce.test/.well-known/"
                      "mta-sts.txt: HTTP 404)\n    sts-policy-fetch-error: ", p.stdout)
        self.assertIn("  MTA-STS: no policy (NXDOMAIN)", p.stdout)  # unsigned.test has none

    def test_monitor_judges_what_sts_senders_would_do(self):
        p = self.run_tool("monitor", "sts-badcert.test")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("Server certificate not trusted: MTA-STS senders defer (its policy is "
                      "enforce)", p.stdout)
        self.srv.answers = {"sts-testing.test": (503, "text/plain", "", {})}
        p = self.run_tool("monitor", "--json", "sts-testing.test")
        findings = json.loads(p.stdout)["domains"][0]["findings"]
        sts = [f for f in findings if f["text"].startswith("MTA-STS ")]
        self.assertEqual([f["severity"] for f in sts], ["WARNING"], findings)
        self.assertIn("sts-policy-fetch-error", sts[0]["text"])


class TlsrptCounting(unittest.TestCase):
    """[tlsrpt] enabled: every attempt's TLS sessions counted per policy domain and policy
    (RFC 8460 §4.3), written when the daemon stops, read back after a restart, and shown by
    `tlsrpt show` as the report each domain would get (RFC 8460 §4.4)."""

    @classmethod
    def setUpClass(cls):
        cls.srv = serve_policies()
        cls.srv.answers = {d: (200, "text/plain", p, {}) for d, p in DEFAULTS.items()}

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()

    def show(self, relay):
        p = subprocess.run([BINARY, "tlsrpt", "show", "-c", relay.conf, "--json"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return {r["policies"][0]["policy"]["policy-domain"]: r
                for r in json.loads(p.stdout)["reports"]}

    def check_shape(self, report):
        """The RFC 8460 §4.4 fields, with their JSON types, and the schema."""
        self.assertEqual(tlsrpt_schema_check.problems(report), [])
        self.assertEqual(set(report), {"organization-name", "date-range", "contact-info",
                                       "report-id", "policies"})
        self.assertRegex(report["date-range"]["start-datetime"], r"^\d{4}-\d\d-\d\dT00:00:00Z$")
        for p in report["policies"]:
            self.assertIn(p["policy"]["policy-type"], ("tlsa", "sts", "no-policy-found"))
            for k in ("total-successful-session-count", "total-failure-session-count"):
                self.assertIsInstance(p["summary"][k], int)
            for f in p.get("failure-details", []):
                self.assertIsInstance(f["failed-session-count"], int)
                self.assertIsInstance(f["result-type"], str)

    def summary(self, report, policy_type):
        (p,) = [p for p in report["policies"] if p["policy"]["policy-type"] == policy_type]
        return p

    def test_sessions_are_counted_by_policy_and_survive_a_restart(self):
        extra = f'[tls]\nca_file = "{STS["ca"]}"\n[tlsrpt]\nenabled = true\n' \
                f'organization = "Lab Relay"\n'
        r = Relay(extra=extra, backoff="1h")
        rcpts = ["t1@sts-enforce.test", "t2@sts-badcert.test", "t3@ee-good.test",
                 "t4@ee-badhex.test", "t5@sts-mismatch.test"]
        for rcpt in rcpts:
            send(rcpt)
        for rcpt in rcpts:
            StsDelivery.verdict(self, r, rcpt)
        r.stop()
        got = self.show(r)
        for report in got.values():
            self.check_shape(report)
        self.assertEqual(got["sts-enforce.test"]["organization-name"], "Lab Relay")
        enforce = self.summary(got["sts-enforce.test"], "sts")
        self.assertEqual(enforce["summary"]["total-successful-session-count"], 1)
        self.assertEqual(enforce["policy"]["mx-host"], ["mx.sts-enforce.test"])
        self.assertIn("mode: enforce", enforce["policy"]["policy-string"])
        # Every address of the host was tried (IPv4 and IPv6): one failed session each.
        bad = self.summary(got["sts-badcert.test"], "sts")
        addrs = LAB["hosts"]["mx.sts-badcert.test"]
        self.assertEqual(sorted((f["result-type"], f["receiving-mx-hostname"], f["receiving-ip"],
                                 f["failed-session-count"]) for f in bad["failure-details"]),
                         sorted(("certificate-not-trusted", "mx.sts-badcert.test", ip, 1)
                                for ip in addrs["ipv4"] + addrs["ipv6"]))
        self.assertEqual(bad["summary"]["total-failure-session-count"],
                         len(addrs["ipv4"] + addrs["ipv6"]))
        self.assertEqual(self.summary(got["ee-good.test"], "tlsa")["summary"],
                         {"total-successful-session-count": 1, "total-failure-session-count": 0})
        badhex = self.summary(got["ee-badhex.test"], "tlsa")
        self.assertEqual({f["result-type"] for f in badhex["failure-details"]},
                         {"validation-failure"})
        mismatch = self.summary(got["sts-mismatch.test"], "sts")
        self.assertEqual([(f["result-type"], f["receiving-mx-hostname"])
                          for f in mismatch["failure-details"]],
                         [("validation-failure", "mx.sts-mismatch.test")])
        # A restart reads the day's counts back and goes on counting.
        r2 = Relay(extra=extra, backoff="1h", spool=r.options["spool"])
        send("t6@sts-enforce.test")
        StsDelivery.verdict(self, r2, "t6@sts-enforce.test")
        r2.stop()
        enforce = self.summary(self.show(r)["sts-enforce.test"], "sts")
        self.assertEqual(enforce["summary"]["total-successful-session-count"], 2)


    def test_a_finished_day_is_reported_once_by_mail_and_report_mail_is_not_counted(self):
        """The day's counts, renamed to yesterday (a test cannot wait for midnight), go out at
        the next start to the rua of `_smtp._tls.ee-good.test` (mailto:tlsrpt@ee-good.test),
        through our own queue, over DANE; a restart does not send them again."""
        extra = f'[tls]\nca_file = "{STS["ca"]}"\n[tlsrpt]\nenabled = true\n'
        r = Relay(extra=extra, backoff="1h")
        send("u1@ee-good.test")
        StsDelivery.verdict(self, r, "u1@ee-good.test")
        r.stop()
        tdir = os.path.join(r.options["spool"], "tlsrpt")
        today = time.strftime("%Y-%m-%d", time.gmtime())
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
        os.rename(os.path.join(tdir, today + ".json"), os.path.join(tdir, day + ".json"))
        p = subprocess.run([BINARY, "tlsrpt", "show", "-c", r.conf, "--day", day, "--json"],
                           capture_output=True, text=True, timeout=60)
        (want,) = [x for x in json.loads(p.stdout)["reports"]
                   if x["policies"][0]["policy"]["policy-domain"] == "ee-good.test"]
        r2 = Relay(extra=extra, backoff="1h", spool=r.options["spool"])
        line = r2.wait_for(r"TLSRPT report for ee-good\.test \(" + day + r"\) to "
                           r"<tlsrpt@ee-good\.test>")
        StsDelivery.verdict(self, r2, "tlsrpt@ee-good.test")
        got = [m for m in relaylab.received(LAB, "tlsrpt@ee-good.test")
               if m["mail_from"] == f"noreply-smtp-tls-reporting@relay.test"]
        self.assertTrue(got and got[-1]["tls"], line)
        self.check_shape(want)
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(want, f)
            f.flush()
            self.assertIsNone(tlsrpt_mail_check.check(got[-1]["body_file"], f.name))
        self.assertTrue(os.path.exists(os.path.join(tdir, day + ".sent")))
        r2.stop()
        # The report's own delivery was not counted (no reports about reports).
        p = subprocess.run([BINARY, "tlsrpt", "show", "-c", r.conf, "--json"],
                           capture_output=True, text=True, timeout=60)
        domains = [x["policies"][0]["policy"]["policy-domain"]
                   for x in json.loads(p.stdout)["reports"]]
        self.assertNotIn("ee-good.test", domains)
        r3 = Relay(extra=extra, backoff="1h", spool=r.options["spool"])
        time.sleep(1)
        r3.stop()
        self.assertFalse([l for l in r3.lines() if "TLSRPT report for" in l])

    def tlsrpt(self, relay, *args):
        return subprocess.run([BINARY, "tlsrpt", *args, "-c", relay.conf], capture_output=True,
                              text=True, timeout=120)

    def test_an_https_rua_gets_the_report_by_post_retried_and_sent_again_by_send_now(self):
        """`_smtp._tls.sts-enforce.test` names an https: rua (labgen TLSRPT_HTTPS_URL), served
        here: the report is POSTed gzip'd as application/tlsrpt+gzip (RFC 8460 §5.3.1); a
        503 is tried again (`tlsrpt send-now` at once, not waiting for the hourly check);
        `send-now --day` sends a day again; today is not a finished day."""
        extra = f'[tls]\nca_file = "{STS["ca"]}"\n[tlsrpt]\nenabled = true\n'
        r = Relay(extra=extra, backoff="1h")
        send("v1@sts-enforce.test")
        StsDelivery.verdict(self, r, "v1@sts-enforce.test")
        r.stop()
        self.assertEqual(self.tlsrpt(r, "send-now").returncode, 75)  # no daemon to ask
        tdir = os.path.join(r.options["spool"], "tlsrpt")
        today = time.strftime("%Y-%m-%d", time.gmtime())
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
        os.rename(os.path.join(tdir, today + ".json"), os.path.join(tdir, day + ".json"))
        p = self.tlsrpt(r, "show", "--day", day, "--json")
        (want,) = [x for x in json.loads(p.stdout)["reports"]
                   if x["policies"][0]["policy"]["policy-domain"] == "sts-enforce.test"]
        self.check_shape(want)
        self.srv.posts.clear()
        self.srv.post_status = 503
        r2 = Relay(extra=extra, backoff="1h", spool=r.options["spool"])
        try:
            url = STS["tlsrpt_url"]
            r2.wait_for(r"warning: TLSRPT report for sts-enforce\.test \(" + day +
                        r"\) not posted to " + re.escape(url) + r": HTTP 503")
            self.assertEqual(len(self.srv.posts), 1)
            self.srv.post_status = 200
            p = self.tlsrpt(r2, "send-now")
            for _ in range(50):  # 75: the start's round had not quite finished
                if p.returncode != 75:
                    break
                time.sleep(0.2)
                p = self.tlsrpt(r2, "send-now")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, f"TLSRPT report for sts-enforce.test ({day}) posted to "
                                       f"{url}: HTTP 200\n")
            self.assertEqual(len(self.srv.posts), 2)
            post = self.srv.posts[-1]
            self.assertEqual((post["host"], post["path"], post["type"]),
                             ("reports.sts-enforce.test", "/v1/tlsrpt", "application/tlsrpt+gzip"))
            self.assertEqual(json.loads(gzip.decompress(post["body"])), want)
            with open(os.path.join(tdir, day + ".sent")) as f:
                self.assertEqual(f.read().splitlines(), [f"sts-enforce.test {url}", "sent"])
            p = self.tlsrpt(r2, "send-now")  # nothing is due any more
            self.assertEqual((p.returncode, p.stdout), (0, "no reports to send\n"))
            p = self.tlsrpt(r2, "send-now", "--day", day)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(len(self.srv.posts), 3)
            self.assertEqual(json.loads(gzip.decompress(self.srv.posts[-1]["body"])), want)
            p = self.tlsrpt(r2, "send-now", "--day", today)
            self.assertEqual(p.returncode, 2, p.stdout)
            self.assertIn("is not a finished UTC day", p.stdout)
        finally:
            r2.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)

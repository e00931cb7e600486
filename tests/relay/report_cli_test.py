#!/usr/bin/env python3
"""`dane-relay report` as a command (SPEC §11): a mail log written here line by line, in
dane-relay's and in Postfix's format (both timestamp styles), gives the tally that its lines
say, in text, JSON and CSV; --since/--until cut it; bad input gets exit status 1 or 2 and a
clear message. The --html page is loaded in a real browser, headless Chromium from Debian,
inside a network namespace with nothing in it (root; skipped otherwise), which dumps the
rendered DOM for the numbers and saves a screenshot (build dir, not committed).

Run: DANE_RELAY=build/relay/dane-relay tests/relay/report_cli_test.py
"""
import csv
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

BINARY = os.environ.get("DANE_RELAY", "build/relay/dane-relay")
SHOTS = os.environ.get("REPORT_SCREENSHOT_DIR", tempfile.gettempdir())

TLS = "{level} TLS connection established to {ep}: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384"
DELIVERY = ("{qid}: to=<{rcpt}>, relay={ep}, delay=0.5, delays=0.1/0/0.2/0.2, dsn={dsn}, "
            "status={status} ({text})")

# (time, program[pid], text). What each line must count for is said beside it.
LINES = [
    ("Nov 23 10:00:00", "dane-relay/smtp[7]", TLS.format(level="Verified", ep="mx.a.test[10.0.0.1]:25")),
    ("Nov 23 10:00:00", "dane-relay/smtp[7]", TLS.format(level="Untrusted", ep="mx.b.test[10.0.0.2]:25")),
    ("Nov 23 10:00:01", "dane-relay/smtp[7]", DELIVERY.format(  # Verified, a.test
        qid="AAAAAAAAAA", rcpt="u1@a.test", ep="mx.a.test[10.0.0.1]:25", dsn="2.0.0",
        status="sent", text="250 2.0.0 Ok")),
    ("Nov 23 10:00:01", "dane-relay/smtp[7]", DELIVERY.format(  # Untrusted, b.test
        qid="BBBBBBBBBB", rcpt="u2@b.test", ep="mx.b.test[10.0.0.2]:25", dsn="2.0.0",
        status="sent", text="250 2.0.0 Ok")),
    ("Nov 23 10:00:02", "dane-relay/smtp[7]", DELIVERY.format(  # Verified, a.test
        qid="CCCCCCCCCC", rcpt="u3@A.TEST", ep="mx.a.test[10.0.0.1]:25", dsn="2.0.0",
        status="sent", text="250 2.0.0 Ok")),
    ("Nov 23 10:00:03", "dane-relay/smtp[7]", DELIVERY.format(  # DANE failure, c.test
        qid="DDDDDDDDDD", rcpt="u4@c.test", ep="mx.c.test[10.0.0.3]:25", dsn="4.7.5",
        status="deferred", text="Server certificate not verified")),
    ("Nov 23 10:00:04", "dane-relay/qmgr[7]", "DDDDDDDDDD: removed"),  # not counted
    # Postfix's own log, RFC 3339 stamps (rsyslog's default on Debian 12), another process.
    ("2026-11-23T11:00:00.000000+00:00", "postfix/smtp[99]", TLS.format(level="Trusted", ep="mx.d.test[10.0.0.4]:25")),
    ("2026-11-23T11:00:01.000000+00:00", "postfix/smtp[99]", DELIVERY.format(  # Trusted, d.test
        qid="4B2C11A0E", rcpt="u5@d.test", ep="mx.d.test[10.0.0.4]:25", dsn="2.0.0",
        status="sent", text="250 ok")),
    ("2026-11-23T11:00:02.000000+00:00", "postfix/smtp[98]", DELIVERY.format(  # plaintext
        qid="4B2C11A0F", rcpt="u6@d.test", ep="mx.d.test[10.0.0.4]:25", dsn="2.0.0",
        status="sent", text="250 ok")),
    ("2026-11-23T11:00:03.000000+00:00", "postfix/smtp[98]", DELIVERY.format(  # bounce
        qid="4B2C11A10", rcpt="u7@e.test", ep="mx.e.test[10.0.0.5]:25", dsn="5.1.1",
        status="bounced", text="host mx.e.test[10.0.0.5] said: 550 5.1.1 unknown")),
    ("2026-11-23T11:00:04.000000+00:00", "postfix/smtpd[5]", "connect from x[10.0.0.9]"),
]


def log_text():
    return "".join(f"{t} relay1 {p}: {text}\n" for t, p, text in LINES)


def run(*args, stdin=None):
    return subprocess.run([BINARY, "report", *args], input=stdin, capture_output=True,
                          text=True, timeout=60)


class ReportCommand(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dr-report-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.log = os.path.join(self.dir, "mail.log")
        with open(self.log, "w") as f:
            f.write(log_text())

    def test_json_tally(self):
        p = run("--json", self.log)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = json.loads(p.stdout)
        self.assertEqual(got["connections"], {"Verified": 1, "Untrusted": 1, "Trusted": 1})
        self.assertEqual(got["deliveries"], {
            "sent": {"Verified": 2, "Untrusted": 1, "Trusted": 1, "plaintext": 1},
            "deferred": 1, "bounced": 1})
        self.assertEqual(got["domains"]["a.test"]["sent"], {"Verified": 2})
        self.assertEqual(got["mx_hosts"]["mx.d.test"]["sent"], {"Trusted": 1, "plaintext": 1})
        self.assertEqual(got["failures"]["dane: certificate not verified"],
                         {"deferred": 1, "bounced": 0, "dane": True})
        self.assertEqual(got["failures"]["remote reply 5.1.1"],
                         {"deferred": 0, "bounced": 1, "dane": False})

    def test_stdin_text_and_csv_say_the_same(self):
        p = run(stdin=log_text())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^  Verified\s+2\s+40\.0%$")
        self.assertRegex(p.stdout, r"(?m)^  plaintext\s+1\s+20\.0%$")
        self.assertIn("sent 5, deferred 1, bounced 1", p.stdout)
        rows = list(csv.DictReader(io.StringIO(run("--csv", self.log).stdout)))
        total = [r for r in rows if r["kind"] == "all"][0]
        self.assertEqual((total["Verified"], total["plaintext"], total["deferred"]),
                         ("2", "1", "1"))
        d = [r for r in rows if r["kind"] == "domain" and r["name"] == "d.test"][0]
        self.assertEqual((d["total"], d["Trusted"], d["plaintext"]), ("2", "1", "1"))

    def test_since_and_until(self):
        # The dane-relay half is at 10:00 local time, the Postfix half at 11:00 UTC.
        got = json.loads(run("--json", "--since", "2026-11-23 10:00:01", "--until",
                             "2026-11-23 10:00:03", self.log).stdout)
        # The TLS lines before --since still give their sessions' deliveries a level.
        self.assertEqual(got["connections"], {})
        self.assertEqual(got["deliveries"]["sent"], {"Verified": 2, "Untrusted": 1})
        self.assertEqual(got["deliveries"]["deferred"], 0)
        got = json.loads(run("--json", "--since", "2026-11-24", self.log).stdout)
        self.assertEqual(got["deliveries"], {"sent": {}, "deferred": 0, "bounced": 0})

    def test_bad_input(self):
        cases = [
            (["--bogus"], 2, "unknown option --bogus"),
            (["--since"], 2, "--since needs a value"),
            (["--since", "yesterday", self.log], 2, 'bad time for --since: "yesterday"'),
            (["--json", "--csv", self.log], 2, "exclude each other"),
            ([os.path.join(self.dir, "missing")], 1, "No such file or directory"),
            ([self.dir], 1, ""),
        ]
        binary = os.path.join(self.dir, "binary")
        with open(binary, "wb") as f:
            f.write(bytes(range(256)) * 4)
        cases.append(([binary], 1, "no mail log lines in Postfix's format"))
        packed = os.path.join(self.dir, "mail.log.1.gz")
        with gzip.open(packed, "wt") as f:
            f.write(log_text())
        cases.append(([packed], 1, "compressed; zcat it"))
        cases.append((["--html", os.path.join(self.dir, "no", "such", "dir.html"), self.log], 1,
                      "cannot write"))
        for args, status, message in cases:
            p = run(*args)
            self.assertEqual(p.returncode, status, f"{args}: {p.stderr}")
            self.assertIn(message, p.stderr, args)
            self.assertEqual(p.stdout, "", args)
        p = run(stdin="")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("sent 0, deferred 0, bounced 0", p.stdout)
        self.assertEqual(run("--help").returncode, 0)

    @unittest.skipUnless(os.geteuid() == 0, "the browser runs in a new network namespace")
    def test_html_page_in_a_browser(self):
        page = os.path.join(self.dir, "report.html")
        p = run("--html", page, "--title", "Lab <report>", self.log)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(page) as f:
            html = f.read()
        self.assertNotRegex(html, r"(?i)<script|<link|https?://(?!www\.w3\.org/2000/svg)")
        browser = ["unshare", "--net", "chromium", "--headless", "--no-sandbox",
                   "--disable-gpu", "--no-first-run", f"--user-data-dir={self.dir}/profile"]
        dom = subprocess.run(browser + ["--dump-dom", f"file://{page}"], capture_output=True,
                             text=True, timeout=120)
        self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
        self.assertIn("<title>Lab &lt;report&gt;</title>", dom.stdout)

        def bars(section):
            part = re.search(rf'<section id="{section}">(.*?)</section>', dom.stdout, re.S)
            self.assertIsNotNone(part, section)
            return {m.group(1): int(m.group(2)) for m in re.finditer(
                r'data-label="([^"]+)" data-count="(\d+)"', part.group(1))}

        self.assertEqual(bars("delivered"),
                         {"Verified": 2, "Untrusted": 1, "Trusted": 1, "plaintext": 1})
        self.assertEqual(bars("connections"), {"Verified": 1, "Untrusted": 1, "Trusted": 1})
        self.assertEqual(bars("failures"),
                         {"dane: certificate not verified": 1, "remote reply 5.1.1": 1})
        self.assertEqual(bars("domains")["a.test"], 2)
        self.assertRegex(dom.stdout, r'<span id="sent">5</span>')
        shot = os.path.join(SHOTS, "report.png")
        s = subprocess.run(browser + [f"--screenshot={shot}", "--window-size=1000,1400",
                                      f"file://{page}"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(s.returncode, 0, s.stderr[-2000:])
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        print(f"\nscreenshot: {shot}")


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""`dane-relay check --survey FILE` over the lab scenarios (SPEC §11).

Runs inside the lab (tests/lab/lab run -- ...). The expected category of each scenario
below is derived from SPEC §5 and §11 (what a sender enforcing DANE does with the
domain), not from our output:
  dane-verified   a host with secure usable TLSA at a signed MX passes: Verified
  dane-trusted    the same behind an unsigned MX RRset (half-DANE): Trusted
  dane-failing    secure usable TLSA, and no host passes: senders defer
  dnssec-no-dane  signed MX, no usable TLSA (none, unsigned host, PKIX usages only)
  no-dnssec       unsigned MX RRset
  dns-failure     bogus / SERVFAIL / timeout of MX or TLSA: senders defer
  no-mail         null MX, NXDOMAIN: senders bounce
Also: resume after SIGKILL, a torn last line, junk lines, an empty and a missing file.
"""
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest

BINARY = os.environ.get("DANE_RELAY", "build/relay/dane-relay")

V, T, F, D, N, X, M = ("dane-verified", "dane-trusted", "dane-failing", "dnssec-no-dane",
                       "no-dnssec", "dns-failure", "no-mail")
EXPECTED = {
    # Signed MX, secure usable TLSA that the server matches (RFC 7672 §3.1): Verified.
    **{d: V for d in (
        "ee-good.test", "ee-301.test", "ee-312.test", "ee-expired.test", "ee-wrongname.test",
        "rollover.test", "ta-good.test", "ta-nexthop.test", "two-equal.test",
        "rcpt-tempfail.test", "rcpt-reject.test", "data-tempfail.test",  # probe: no MAIL
        "no-mx.test", "cname-mx.test", "v6only.test", "dual-key.test",
        "two-mx.test")},  # the first MX fails, the second matches: delivery goes on
    # Secure usable TLSA and no host meets it: mismatch, TA name, no or refused STARTTLS.
    **{d: F for d in ("ee-badhex.test", "ta-badname.test", "no-starttls.test",
                      "starttls-refused.test")},
    # Postfix's half-DANE: insecure MX RRset, secure TLSA at the host.
    "insecure-mx.test": T,
    # Unsigned zone: its TLSA cannot be trusted, no DANE.
    "unsigned.test": N,
    # Signed MX but no usable TLSA: secure denial, an unsigned host zone (no TLSA lookup),
    # only PKIX usages (RFC 7672 §3.1.3), no TLSA and an anonymous-only server.
    **{d: D for d in ("no-tlsa.test", "insecure-addr.test", "tlsa-unusable.test",
                      "anon-only.test")},
    # Bogus or failing lookups are never "no DANE" (SPEC §5.1, §5.4).
    **{d: X for d in ("bogus-mx.test", "bogus-tlsa.test", "tlsa-servfail.test",
                      "tlsa-timeout.test")},
    # RFC 7505 null MX and NXDOMAIN: the domain takes no mail.
    "null-mx.test": M, "nxdomain.test": M,
}

JUNK = ["not a domain!", "127.0.0.1", "[127.0.0.1]", "a..test", "x" * 64 + ".test",
        "\x00\x01\xffbinary", "y" * 100000]


def survey(path, *args, out=None, timeout=600):
    cmd = [BINARY, "check", "--unbound-conf", os.environ["LAB_UNBOUND_CONF"], "--survey", path]
    if out:
        cmd += ["--out", out]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout,
                          errors="replace")


def lines_of(path):
    with open(path) as f:
        return [json.loads(l) for l in f]


def count_lines(path):
    with open(path) as f:
        return f.read().count("\n")


def write(path, lines):
    with open(path, "w", errors="surrogateescape") as f:
        f.write("\n".join(lines) + "\n")


class Survey(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.environ["LAB_JSON"]) as f:
            cls.lab = json.load(f)
        cls.tmp = tempfile.TemporaryDirectory(prefix="survey.")
        cls.list = os.path.join(cls.tmp.name, "domains.txt")
        domains = sorted(EXPECTED)
        # Comments, blank lines, junk, a duplicate (in another spelling) around the domains.
        write(cls.list, ["# the lab scenarios", ""] + domains[:5] + JUNK[:3] + ["  "] +
              domains[5:] + JUNK[3:] + ["EE-GOOD.test.   # again", ""])
        cls.out = os.path.join(cls.tmp.name, "out.jsonl")
        cls.proc = survey(cls.list, "--json", out=cls.out)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_lab_scenario_is_in_the_table(self):
        scenarios = {d for d in self.lab["domains"] if not d.endswith(".bulk.test")}
        self.assertEqual(scenarios ^ set(EXPECTED), set())

    def test_categories(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        got = {l["domain"]: l["category"] for l in lines_of(self.out)}
        for domain, category in sorted(EXPECTED.items()):
            with self.subTest(domain=domain):
                self.assertEqual(got.get(domain), category)

    def test_one_line_per_domain_with_the_check_report(self):
        lines = lines_of(self.out)
        self.assertEqual(sorted(l["domain"] for l in lines), sorted(EXPECTED))
        for l in lines:
            self.assertIn(l["verdict"]["action"], ("deliver", "defer", "bounce"))
            self.assertEqual(l["level"], l["verdict"].get("tls") or
                             ("plaintext" if l["verdict"]["action"] == "deliver" else ""))

    def test_tally(self):
        tally = json.loads(self.proc.stdout)
        want = {}
        for c in EXPECTED.values():
            want[c] = want.get(c, 0) + 1
        self.assertEqual({k: v for k, v in tally["categories"].items() if v}, want)
        self.assertEqual(tally["domains"], len(EXPECTED))
        self.assertEqual(tally["checked"], len(EXPECTED))
        self.assertEqual(tally["duplicates"], 1)
        self.assertEqual(tally["bad_lines"], len(JUNK))
        self.assertEqual(len(tally["bad_examples"]), len(JUNK))
        self.assertTrue(tally["bad_examples"][0].startswith('line 8: "not a domain!": '))
        self.assertEqual(sum(tally["levels"].values()),
                         sum(1 for c in EXPECTED.values() if c in (V, T, D, N)))
        self.assertIn(f"{self.list}:8: not a domain name", self.proc.stderr)
        # stderr is no terminal here: no progress line, one final line.
        self.assertNotIn("\r", self.proc.stderr)
        self.assertEqual(self.proc.stderr.count("dane-relay check: survey of "), 1)
        # Huge and binary junk is shown cut and printable.
        self.assertLess(max(len(b) for b in tally["bad_examples"]), 300)
        self.assertTrue(all(b.isprintable() for b in tally["bad_examples"]))
        self.assertLess(len(self.proc.stderr), 5000)

    def test_rerun_checks_nothing_again(self):
        p = survey(self.list, "--json", out=self.out)
        self.assertEqual(p.returncode, 0, p.stderr)
        tally = json.loads(p.stdout)
        self.assertEqual((tally["checked"], tally["resumed"]), (0, len(EXPECTED)))
        self.assertEqual(json.loads(self.proc.stdout)["categories"], tally["categories"])
        self.assertEqual(len(lines_of(self.out)), len(EXPECTED))

    def test_text_tally(self):
        out = os.path.join(self.tmp.name, "text.jsonl")
        with open(out, "w") as f, open(self.out) as done:  # all but null-mx already done
            f.writelines(l for l in done if '"domain":"null-mx.test"' not in l)
        p = survey(self.list, out=out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"DANE verified\s+%d\s" % list(EXPECTED.values()).count(V))
        self.assertRegex(p.stdout, r"no mail \(null MX, NXDOMAIN\)\s+2\s")
        self.assertIn(f"checked now 1, from the earlier output {len(EXPECTED) - 1}", p.stdout)

    def test_resume_after_sigkill(self):
        out = os.path.join(self.tmp.name, "killed.jsonl")
        cmd = [BINARY, "check", "--unbound-conf", os.environ["LAB_UNBOUND_CONF"], "--survey",
               self.list, "--out", out, "--concurrency", "2"]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            if os.path.exists(out) and count_lines(out) >= 5:
                break
            time.sleep(0.02)
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.assertEqual(p.returncode, -signal.SIGKILL, "finished before the kill")
        before = count_lines(out)
        self.assertLess(before, len(EXPECTED))
        # A torn last line, as a kill in the middle of a write leaves it.
        with open(out, "a") as f:
            f.write('{"domain":"ee-good')
        r = survey(self.list, "--json", out=out)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = lines_of(out)  # every line is whole JSON again
        self.assertEqual(sorted(l["domain"] for l in lines), sorted(EXPECTED))  # once each
        tally = json.loads(r.stdout)
        self.assertEqual(tally["resumed"], before)
        self.assertEqual(tally["checked"], len(EXPECTED) - before)
        self.assertEqual(tally["domains"], len(EXPECTED))
        self.assertEqual({l["domain"]: l["category"] for l in lines}, EXPECTED)

    def test_a_stalled_list_stalls_no_check(self):
        # The list is a pipe whose writer sends three domains and then waits: the checks of
        # those three must still finish and be written (SPEC §11: the list and the output
        # are read and written off the event loop, so a blocked read holds up nothing else).
        fifo = os.path.join(self.tmp.name, "list.fifo")
        os.mkfifo(fifo)
        out = os.path.join(self.tmp.name, "fifo.jsonl")
        three = ["ee-good.test", "no-tlsa.test", "null-mx.test"]
        cmd = [BINARY, "check", "--unbound-conf", os.environ["LAB_UNBOUND_CONF"], "--survey",
               fifo, "--out", out, "--json"]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            with open(fifo, "w") as w:  # opens once the survey has opened its end
                w.write("\n".join(three) + "\n")
                w.flush()
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and p.poll() is None:
                    if os.path.exists(out) and count_lines(out) == len(three):
                        break
                    time.sleep(0.05)
                self.assertIsNone(p.poll(), "the survey ended with the list still open")
                self.assertEqual(count_lines(out), len(three), "checks stalled with the list")
                w.write("ta-good.test\n")
            stdout, stderr = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 0, stderr)
        self.assertEqual(json.loads(stdout)["checked"], 4)
        self.assertEqual({l["domain"]: l["category"] for l in lines_of(out)},
                         {d: EXPECTED[d] for d in three + ["ta-good.test"]})

    def test_junk_only(self):
        path = os.path.join(self.tmp.name, "junk.txt")
        write(path, JUNK + ["# nothing else"])
        p = survey(path, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "")  # no --out: JSON lines on stdout, none here
        tally = json.loads(p.stderr.strip().splitlines()[-1])
        self.assertEqual((tally["domains"], tally["bad_lines"]), (0, len(JUNK)))

    def test_empty_file(self):
        path = os.path.join(self.tmp.name, "empty.txt")
        open(path, "w").close()
        out = os.path.join(self.tmp.name, "empty.jsonl")
        p = survey(path, "--json", out=out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["domains"], 0)
        self.assertEqual(os.path.getsize(out), 0)

    def test_missing_file(self):
        p = survey(os.path.join(self.tmp.name, "missing.txt"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("missing.txt: No such file or directory", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_unwritable_output(self):
        p = survey(self.list, out=os.path.join(self.tmp.name, "no", "dir", "out.jsonl"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("No such file or directory", p.stderr)


class Unreachable(unittest.TestCase):
    """nobody-home.test (lab.json "unreachable"): a signed MX whose one host has a signed
    address where nothing listens, and no TLSA. Not one of lab["domains"], so the tables
    above and every sender test are unchanged."""

    @classmethod
    def setUpClass(cls):
        with open(os.environ["LAB_JSON"]) as f:
            cls.case = json.load(f)["unreachable"]
        cls.domain = cls.case["domain"]

    def run_relay(self, *args):
        cmd = [BINARY, *args[:1], "--unbound-conf", os.environ["LAB_UNBOUND_CONF"], *args[1:]]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    def test_check_defers(self):
        p = self.run_relay("check", "--json", self.domain)
        # CHECK.md: exit 1 when delivery would be deferred; a refused connection is a
        # temporary failure (4.x.x), as Postfix defers on it.
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        (report,) = json.loads(p.stdout)["domains"]
        self.assertEqual(report["verdict"]["action"], "defer")
        self.assertTrue(report["verdict"]["dsn"].startswith("4."), report["verdict"])
        self.assertIn(self.case["ipv4"], p.stdout)

    def test_survey_category(self):
        with tempfile.TemporaryDirectory(prefix="survey.") as tmp:
            path, out = os.path.join(tmp, "list.txt"), os.path.join(tmp, "out.jsonl")
            write(path, [self.domain])
            p = survey(path, "--json", out=out)
            self.assertEqual(p.returncode, 0, p.stderr)
            (line,) = lines_of(out)
        # No DANE required (secure NODATA for TLSA) and no host answered.
        self.assertEqual(line["category"], "unreachable")
        self.assertEqual(json.loads(p.stdout)["categories"]["unreachable"], 1)

    def test_monitor_is_critical(self):
        p = self.run_relay("monitor", self.domain)
        # SPEC §11: CRITICAL when a DANE sender would defer or cannot authenticate now (here
        # both: no TLSA, and no host accepts connections). Nagios CRITICAL is exit 2.
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertTrue(p.stdout.startswith("DANE CRITICAL - "), p.stdout)
        self.assertIn("mx.nobody-home.test", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)

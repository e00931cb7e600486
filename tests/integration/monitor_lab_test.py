#!/usr/bin/python3
"""Runs `dane-relay monitor` (a Nagios/Icinga plugin) against every lab scenario.

Runs inside the lab (tests/lab/lab run -- ...), which exports LAB_DIR,
LAB_UNBOUND_CONF and LAB_JSON. The expected state of each scenario below is
derived from SPEC §11 (the `monitor` paragraph) and RFC 7672, not from our own
output: CRITICAL when a sender enforcing DANE would defer or could not
authenticate now, WARNING for what will break soon or is half-done, OK else.
"""
import json
import os
import re
import subprocess
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor

BINARY = os.environ.get("DANE_RELAY", "build/relay/dane-relay")

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}

# domain: (exit code, a fragment of a finding or of the OK text)
EXPECTED = {
    # DANE-EE binds the key alone (RFC 7672 §3.1.1): names and dates do not matter.
    "ee-good.test": (OK, "matching their TLSA records"),
    "ee-301.test": (OK, "matching their TLSA records"),
    "ee-312.test": (OK, "matching their TLSA records"),
    "ee-expired.test": (OK, "matching their TLSA records"),
    "ee-wrongname.test": (OK, "matching their TLSA records"),
    # The live certificate matches no record: every DANE sender defers.
    "ee-badhex.test": (CRITICAL, "certificate matches none of the TLSA records"),
    # A record no live certificate matches (here the next key, published early): WARNING.
    "rollover.test": (WARNING, "matches no live certificate"),
    # DANE-TA: the chain reaches the TA and the leaf carries a reference identifier.
    "ta-good.test": (OK, "matching their TLSA records"),
    "ta-nexthop.test": (OK, "matching their TLSA records"),
    "ta-badname.test": (CRITICAL, "DANE-TA chain or name check failed"),
    # No STARTTLS, or STARTTLS refused, at a DANE host: senders defer.
    "no-starttls.test": (CRITICAL, "TLS is required, but was not offered"),
    "starttls-refused.test": (CRITICAL, "TLS is required"),
    # No DNSSEC at all, TLSA in an unsigned zone or behind an unsigned host name.
    "unsigned.test": (CRITICAL, "no DNSSEC"),
    "insecure-addr.test": (CRITICAL, "address records are not signed"),
    # Signed MX, no TLSA: DANE senders cannot authenticate (only opportunistic TLS).
    "no-tlsa.test": (CRITICAL, "no TLSA records"),
    "anon-only.test": (CRITICAL, "no TLSA records"),
    # Only PKIX usages, unusable with SMTP (RFC 7672 §3.1.3): unauthenticated TLS.
    "tlsa-unusable.test": (CRITICAL, "no usable TLSA records"),
    # Half-DANE: insecure MX RRset in front of secure TLSA.
    "insecure-mx.test": (WARNING, "half-DANE"),
    # DNSSEC bogus or failing.
    "bogus-mx.test": (CRITICAL, "bogus"),
    "bogus-tlsa.test": (CRITICAL, "TLSA lookup error"),
    "tlsa-servfail.test": (CRITICAL, "TLSA lookup error"),
    "tlsa-timeout.test": (CRITICAL, "TLSA lookup error"),
    # One MX host of several fails while the other works: senders to it defer.
    "two-mx.test": (CRITICAL, "mx1.two-mx.test"),
    "two-equal.test": (OK, "2 MX host(s)"),
    # DANE is fine; the sinks refuse later in the dialogue, which a probe never reaches.
    "rcpt-tempfail.test": (OK, "matching their TLSA records"),
    "rcpt-reject.test": (OK, "matching their TLSA records"),
    "data-tempfail.test": (OK, "matching their TLSA records"),
    # RFC 7505: a signed null MX accepts no mail; nothing for DANE to authenticate.
    "null-mx.test": (OK, "null MX"),
    # The domain does not exist: mail to it bounces.
    "nxdomain.test": (CRITICAL, "Host not found"),
    "no-mx.test": (OK, "matching their TLSA records"),
    "cname-mx.test": (OK, "matching their TLSA records"),
    "v6only.test": (OK, "matching their TLSA records"),
    # RSA and ECDSA probed apart: the RSA certificate matches no record.
    "dual-key.test": (CRITICAL, "RSA certificate matches none of the TLSA records"),
}

FIRST_LINE = re.compile(r"^DANE (OK|WARNING|CRITICAL|UNKNOWN) - (.+) \| ((?:[a-z_]+=[-0-9.]+"
                        r"(?:;[-0-9.:]*){0,4} ?)+)$")


def monitor(*args):
    cmd = [BINARY, "monitor", "--unbound-conf", os.environ["LAB_UNBOUND_CONF"], *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


class MonitorScenarios(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.environ["LAB_JSON"]) as f:
            cls.lab = json.load(f)
        with ThreadPoolExecutor(8) as pool:
            cls.runs = dict(zip(sorted(EXPECTED), pool.map(monitor, sorted(EXPECTED))))
        cls.tmp = tempfile.mkdtemp()

    def sink(self, host):
        return self.lab["sinks"][host]

    def test_every_lab_scenario_is_in_the_table(self):
        scenarios = {d for d in self.lab["domains"] if not d.endswith(".bulk.test")}
        self.assertEqual(scenarios - set(EXPECTED), set())

    def test_exit_code_and_first_line_of_every_scenario(self):
        for domain, (code, fragment) in sorted(EXPECTED.items()):
            with self.subTest(domain=domain):
                p = self.runs[domain]
                self.assertEqual(p.returncode, code, p.stdout + p.stderr)
                lines = p.stdout.splitlines()
                m = FIRST_LINE.match(lines[0])
                self.assertIsNotNone(m, lines[0])
                self.assertEqual(m.group(1), NAMES[code])
                self.assertIn(fragment, p.stdout)
                # Details: one line per finding, each with its state and the domain.
                for line in lines[1:]:
                    self.assertRegex(line, rf"^(OK|WARNING|CRITICAL) {re.escape(domain)}: ")
                self.assertEqual(p.stderr, "")

    def test_perfdata_counts(self):
        perf = dict(kv.split("=") for kv in self.runs["rollover.test"].stdout.splitlines()[0]
                    .split(" | ")[1].split())
        self.assertEqual(perf["tlsa_records"], "2")
        self.assertEqual(perf["tlsa_unmatched"], "1;0")
        self.assertEqual(perf["hosts"], "1")
        self.assertEqual(perf["addresses"], "2")  # every address probed
        days = float(perf["tlsa_sig_days"].split(";")[0])
        self.assertTrue(390 < days < 401, days)  # labgen signs for 400 days
        self.assertEqual(perf["tlsa_sig_days"].split(";")[1:], ["7.00:", "0:"])

    def test_several_domains_worst_state_wins(self):
        p = monitor("ee-good.test", "rollover.test")
        self.assertEqual(p.returncode, WARNING, p.stdout)
        self.assertTrue(p.stdout.startswith("DANE WARNING - 0 critical, 1 warning of 2 domains"))
        p = monitor("ee-good.test", "rollover.test", "ee-badhex.test")
        self.assertEqual(p.returncode, CRITICAL, p.stdout)

    def test_json(self):
        p = monitor("--json", "rollover.test", "dual-key.test")
        self.assertEqual(p.returncode, CRITICAL)
        doc = json.loads(p.stdout)
        self.assertEqual((doc["status"], doc["exit"]), ("CRITICAL", 2))
        self.assertTrue(doc["line"].startswith("DANE CRITICAL - "))
        by = {d["domain"]: d for d in doc["domains"]}
        self.assertEqual(by["rollover.test"]["status"], "WARNING")
        self.assertEqual(by["rollover.test"]["figures"]["tlsa_unmatched"], 1)
        dual = by["dual-key.test"]
        self.assertEqual({f["severity"] for f in dual["findings"]}, {"CRITICAL"})
        self.assertEqual({f["host"] for f in dual["findings"]}, {"mx.dual-key.test"})
        conns = dual["check"]["hosts"][0]["connections"]
        self.assertEqual(len(conns), 2)  # every address: IPv4 and IPv6
        lab = self.lab["domains"]["dual-key.test"]["mx"][0]
        for c in conns:
            self.assertEqual(c["tls"]["peer_cert_sha256"], lab["cert_sha256"])
            (rsa,) = c["other_keys"]
            self.assertEqual(rsa["tls"]["peer_cert_sha256"], lab["second"]["cert_sha256"])

    def test_sig_warn_and_cert_warn(self):
        # labgen signs for 400 days and issues certificates for 3650 days.
        p = monitor("--sig-warn", "500", "ee-good.test")
        self.assertEqual(p.returncode, WARNING, p.stdout)
        self.assertIn("the RRSIG of the TLSA RRset _25._tcp.mx.ee-good.test expires in", p.stdout)
        p = monitor("--cert-warn", "4000", "ta-good.test")
        self.assertEqual(p.returncode, WARNING, p.stdout)
        self.assertIn("certificate 1 of the DANE-TA chain expires in", p.stdout)
        # DANE-EE dates do not count (RFC 7672 §3.1.1).
        self.assertEqual(monitor("--cert-warn", "4000", "ee-good.test").returncode, OK)

    def test_renewal_that_matches(self):
        p = monitor("--cert", self.sink("mx.ee-good.test")["cert"], "ee-good.test")
        self.assertEqual(p.returncode, OK, p.stdout)
        # A fullchain.pem whose CA is the published DANE-TA.
        p = monitor("--cert", self.sink("mx.ta-good.test")["chain"], "ta-good.test")
        self.assertEqual(p.returncode, OK, p.stdout)
        # The next key of a rollover: published already, so the renewal is safe.
        p = monitor("--cert", os.path.join(os.environ["LAB_DIR"], "certs", "rollover-next.crt"),
                    "rollover.test")
        self.assertEqual(p.returncode, WARNING, p.stdout)  # the stale-or-next warning only
        self.assertNotIn("this renewal would break", p.stdout)

    def test_renewal_that_breaks(self):
        other = self.sink("mx.ee-badhex.test")["cert"]
        p = monitor("--cert", other, "ee-good.test")
        self.assertEqual(p.returncode, WARNING, p.stdout)
        self.assertIn(f"this renewal would break DANE for mx.ee-good.test: {other}",
                      p.stdout.splitlines()[0])
        # A leaf not issued by the DANE-TA.
        p = monitor("--cert", self.sink("mx.ee-good.test")["cert"], "ta-good.test")
        self.assertEqual(p.returncode, WARNING, p.stdout)
        self.assertIn("this renewal would break DANE for mx.ta-good.test", p.stdout)

    def openssl(self, *args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    def leaf(self, stem, name, key=None, ca=None):
        """A certificate named `name` made now (with `key`, or a new one), self-signed or issued
        by `ca` (a (cert, key) pair); returns the certificate's path."""
        crt = os.path.join(self.tmp, stem + ".crt")
        keyargs = ["-key", key] if key else ["-newkey", "ec", "-pkeyopt",
                                               "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                                               os.path.join(self.tmp, stem + ".key")]
        issuer = ["-CA", ca[0], "-CAkey", ca[1]] if ca else []
        self.openssl("req", "-x509", *keyargs, "-out", crt, "-days", "90", "-subj", f"/CN={name}",
                     "-addext", f"subjectAltName=DNS:{name}",
                     "-addext", "basicConstraints=critical,CA:FALSE", *issuer)
        return crt

    def chain(self, stem, *certs):
        path = os.path.join(self.tmp, stem + ".pem")
        with open(path, "w") as out:
            for c in certs:
                with open(c) as f:
                    out.write(f.read())
        return path

    def other_ca(self):
        crt, key = os.path.join(self.tmp, "other-ca.crt"), os.path.join(self.tmp, "other-ca.key")
        if not os.path.exists(crt):
            self.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                         "-nodes", "-keyout", key, "-out", crt, "-days", "90", "-subj",
                         "/CN=another CA", "-addext", "basicConstraints=critical,CA:TRUE")
        return crt, key

    def assert_breaks(self, cert, domain, fragment):
        p = monitor("--cert", cert, domain)
        # SPEC §11: a renewal that would break DANE is a WARNING (it is not deployed yet).
        self.assertEqual(p.returncode, WARNING, p.stdout)
        self.assertIn(f"this renewal would break DANE for mx.{domain}: {cert}", p.stdout)
        self.assertIn(fragment, p.stdout)

    def test_renewal_judged_as_a_dane_sender_would(self):
        sink = self.sink("mx.ee-good.test")
        # Renewed with the same key (certbot --reuse-key): 3 1 1 still matches, and DANE-EE
        # ignores names (RFC 7672 §3.1.1).
        same = self.leaf("same-key", "renewed.example", key=sink["key"])
        p = monitor("--cert", same, "ee-good.test")
        self.assertEqual(p.returncode, OK, p.stdout)
        # A new key: the published 3 1 1 no longer matches.
        self.assert_breaks(self.leaf("new-key", "mx.ee-good.test"), "ee-good.test",
                           "matches none of its TLSA records")
        # DANE-TA 2 1 1 of the lab CA: a chain from another CA does not reach it.
        ca = self.other_ca()
        other = self.leaf("other-ca-leaf", "mx.ta-good.test", ca=ca)
        self.assert_breaks(self.chain("other-ca-chain", other, ca[0]), "ta-good.test",
                           "matches none of its TLSA records")
        # The lab CA in the file does not help when it did not issue the leaf: the chain must
        # link the leaf to the trust anchor (RFC 7671 §5.2.2).
        lab_ca, lab_ca_key = self.lab["ca"]["cert"], self.lab["ca"]["key"]
        self.assert_breaks(self.chain("unlinked", other, lab_ca), "ta-good.test",
                           "chain or name check fails")
        # Issued by the lab CA but named for another host: RFC 7672 §3.2.3 name check.
        wrong = self.leaf("wrong-name", "wrong.example",
                          ca=(lab_ca, lab_ca_key))
        self.assert_breaks(self.chain("wrong-name-chain", wrong, lab_ca), "ta-good.test",
                           "chain or name check fails (hostname mismatch)")
        # The same, named right: accepted.
        right = self.leaf("right-name", "mx.ta-good.test",
                          ca=(lab_ca, lab_ca_key))
        p = monitor("--cert", self.chain("right-chain", right, lab_ca), "ta-good.test")
        self.assertEqual(p.returncode, OK, p.stdout)

    def bad_file(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assert_unknown(self, args, fragment):
        p = monitor(*args)
        self.assertEqual(p.returncode, UNKNOWN, p.stdout + p.stderr)
        first = p.stdout.splitlines()[0]
        self.assertTrue(first.startswith("DANE UNKNOWN - "), first)
        self.assertIn(fragment, first)
        return p

    def test_bad_input_is_unknown(self):
        with open(self.sink("mx.ee-good.test")["cert"], "rb") as f:
            pem = f.read()
        key = self.sink("mx.ee-good.test")["key"]
        cases = [
            ([], "no domain given"),
            (["a..test"], ""),
            (["[127.0.0.1]"], ""),
            (["--bogus", "ee-good.test"], "unknown option --bogus"),
            (["--sig-warn", "soon", "ee-good.test"], "--sig-warn needs a number"),
            (["--cert-warn", "-1", "ee-good.test"], "--cert-warn needs a number"),
            (["ee-good.test", "--cert"], "missing value after --cert"),
            (["--cert", "/nonexistent/cert.pem", "ee-good.test"], "No such file or directory"),
            (["--cert", self.bad_file("empty.pem", b""), "ee-good.test"], "empty.pem"),
            (["--cert", self.bad_file("text.pem", b"not a certificate\n"), "ee-good.test"],
             "text.pem"),
            (["--cert", self.bad_file("binary.pem", bytes(range(256)) * 64), "ee-good.test"],
             "binary.pem"),
            (["--cert", self.bad_file("cut.pem", pem[: len(pem) // 2]), "ee-good.test"],
             "cut.pem"),
            (["--cert", key, "ee-good.test"], "holds a key, not a certificate"),
            (["--unbound-conf", "/nonexistent/unbound.conf", "ee-good.test"], "unbound"),
        ]
        for args, fragment in cases:
            with self.subTest(args=args):
                self.assert_unknown(args, fragment)

    def test_bad_input_json(self):
        p = monitor("--json", "--cert", "/nonexistent", "ee-good.test")
        self.assertEqual(p.returncode, UNKNOWN, p.stdout)
        doc = json.loads(p.stdout)
        self.assertTrue(doc["line"].startswith("DANE UNKNOWN - "))
        self.assertEqual((doc["status"], doc["exit"]), ("UNKNOWN", 3))
        self.assertIn("No such file or directory", doc["error"])

    def test_help(self):
        p = subprocess.run([BINARY, "monitor", "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--cert FILE", p.stdout)
        self.assertIn("0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)

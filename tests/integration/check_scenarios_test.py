#!/usr/bin/python3
"""Runs `dane-relay check` over every lab scenario and asserts the verdict.

Runs inside the lab (tests/lab/lab run -- ...), which exports LAB_DIR,
LAB_UNBOUND_CONF and LAB_JSON. The expected table below is derived from
RFC 7672 and Postfix's documented behaviour for smtp_tls_security_level =
dane, not from our own output.
"""
import json
import os
import subprocess
import sys
import time
import unittest

BINARY = os.environ.get("DANE_RELAY", "build/relay/dane-relay")

DELIVER, DEFER, BOUNCE = "deliver", "defer", "bounce"

# domain: (action, dsn, trust or reason fragment, extra checks)
#   trust is the TLS level Postfix would log for the delivering host;
#   for defer/bounce the third field is a fragment of the status text.
EXPECTED = {
    # RFC 7672 §3.1.1: DANE-EE binds the key; no name or date checks.
    "ee-good.test": (DELIVER, "2.0.0", "Verified", {"matched": "3 1 1", "depth": 0}),
    "ee-301.test": (DELIVER, "2.0.0", "Verified", {"matched": "3 0 1", "depth": 0}),
    "ee-312.test": (DELIVER, "2.0.0", "Verified", {"matched": "3 1 2", "depth": 0}),
    "ee-expired.test": (DELIVER, "2.0.0", "Verified", {"matched": "3 1 1"}),
    "ee-wrongname.test": (DELIVER, "2.0.0", "Verified", {"matched": "3 1 1"}),
    "rollover.test": (DELIVER, "2.0.0", "Verified", {"matched": "3 1 1"}),
    "ee-badhex.test": (DEFER, "4.7.5", "Server certificate not verified", {}),
    # RFC 7672 §3.1.2: DANE-TA: chain to the TA, name = TLSA base or next-hop domain.
    "ta-good.test": (DELIVER, "2.0.0", "Verified", {"matched": "2 1 1", "depth": 1}),
    "ta-nexthop.test": (DELIVER, "2.0.0", "Verified", {"matched": "2 1 1"}),
    "ta-badname.test": (DEFER, "4.7.5", "Server certificate not verified", {}),
    # SPEC §6: DANE host without STARTTLS.
    "no-starttls.test": (DEFER, "4.7.4", "TLS is required, but was not offered by host "
                         "mx.no-starttls.test[", {}),
    # Postfix: a refused STARTTLS is fatal for a host that requires TLS.
    "starttls-refused.test": (DEFER, "4.7.5", "TLS is required, but host mx.starttls-refused.test[",
                              {}),
    # No DANE: unsigned zone, or signed without TLSA -> opportunistic TLS.
    "unsigned.test": (DELIVER, "2.0.0", "Untrusted", {"tls": "may"}),
    "no-tlsa.test": (DELIVER, "2.0.0", "Untrusted", {"tls": "may"}),
    # SPEC §5.4: opportunistic TLS takes anonymous suites too (Postfix's "may").
    "anon-only.test": (DELIVER, "2.0.0", "Anonymous", {"tls": "may", "anonymous": True}),
    # RFC 7672 §2.2: TLSA only when the address records are secure.
    "insecure-addr.test": (DELIVER, "2.0.0", "Untrusted", {"tls": "may", "no_tlsa_lookup": True}),
    # Postfix "half-dane": insecure MX, secure TLSA at the host -> enforced, logged Trusted.
    "insecure-mx.test": (DELIVER, "2.0.0", "Trusted", {"matched": "3 1 1", "half_dane": True}),
    # Bogus or failed lookups are never "not found".
    "bogus-mx.test": (DEFER, "4.4.3", "Name service error for name=bogus-mx.test type=MX", {}),
    "bogus-tlsa.test": (DEFER, "4.7.5", "TLSA lookup error for mx.bogus-tlsa.test:25", {}),
    "tlsa-servfail.test": (DEFER, "4.7.5", "TLSA lookup error for mx.tlsa-servfail.test:25", {}),
    "tlsa-timeout.test": (DEFER, "4.7.5", "TLSA lookup error for mx.tlsa-timeout.test:25", {}),
    # RFC 7672 §3.1.3: only PKIX usages -> TLS required, unauthenticated.
    "tlsa-unusable.test": (DELIVER, "2.0.0", "Untrusted", {"tls": "encrypt"}),
    # First MX does not match; the second does (SPEC §5.5: try the next host).
    "two-mx.test": (DELIVER, "2.0.0", "Verified", {"via": "mx2.two-mx.test", "first_failed": True}),
    "two-equal.test": (DELIVER, "2.0.0", "Verified", {}),
    # Good DANE hosts whose sinks refuse later in the dialogue: a probe (no
    # MAIL FROM) still gets through, so check predicts delivery is attempted.
    "rcpt-tempfail.test": (DELIVER, "2.0.0", "Verified", {"matched": "3 1 1"}),
    "rcpt-reject.test": (DELIVER, "2.0.0", "Verified", {"matched": "3 1 1"}),
    "data-tempfail.test": (DELIVER, "2.0.0", "Verified", {"matched": "3 1 1"}),
    # RFC 7505 null MX; NXDOMAIN.
    "null-mx.test": (BOUNCE, "5.1.10", "Domain null-mx.test does not accept mail (nullMX)", {}),
    "nxdomain.test": (BOUNCE, "5.4.4", "Name service error for name=nxdomain.test type=MX: "
                      "Host not found", {}),
    # Implicit MX with TLSA at the domain itself.
    "no-mx.test": (DELIVER, "2.0.0", "Verified", {"implicit": True}),
    # RFC 7672 §2.2.2: CNAME-expanded TLSA base domain, SNI = expanded name.
    "cname-mx.test": (DELIVER, "2.0.0", "Verified", {"sni": "mail.cname-target.test"}),
    "v6only.test": (DELIVER, "2.0.0", "Verified", {"ipv6": True}),
    # An ECDSA and an RSA certificate, TLSA only for the ECDSA key: the first handshake
    # (every signature algorithm offered) gets ECDSA; the second, RSA only, fails (SPEC §11).
    "dual-key.test": (DELIVER, "2.0.0", "Verified", {"matched": "3 1 1", "dual": True}),
}


def run_check(*args):
    cmd = [BINARY, "check", "--unbound-conf", os.environ["LAB_UNBOUND_CONF"], *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


class CheckScenarios(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.environ["LAB_JSON"]) as f:
            cls.lab = json.load(f)
        domains = sorted(EXPECTED)
        start = time.monotonic()
        cls.proc = run_check("--json", *domains)
        cls.elapsed = time.monotonic() - start
        sys.stderr.write(f"check over {len(domains)} lab domains took {cls.elapsed:.2f}s\n")
        cls.reports = {d["domain"]: d for d in json.loads(cls.proc.stdout)["domains"]}

    def test_every_lab_scenario_is_in_the_table(self):
        scenarios = {d for d in self.lab["domains"] if not d.endswith(".bulk.test")}
        self.assertEqual(scenarios - set(EXPECTED), set())

    def test_exit_status_says_some_would_not_deliver(self):
        self.assertEqual(self.proc.returncode, 1, self.proc.stderr)

    def test_verdicts(self):
        for domain, (action, dsn, text, extra) in sorted(EXPECTED.items()):
            with self.subTest(domain=domain):
                r = self.reports[domain]
                v = r["verdict"]
                self.assertEqual(v["action"], action, json.dumps(v))
                self.assertEqual(v["dsn"], dsn, json.dumps(v))
                if action == DELIVER:
                    self.assertEqual(v["tls"], text, json.dumps(v))
                    self.check_delivery(domain, r, extra)
                else:
                    self.assertIn(text, v["reason"])
                if "tls" in extra:
                    used = [h for h in r["hosts"] if h["connections"]]
                    self.assertEqual(used[0]["plan"]["tls"], extra["tls"])

    def delivering(self, r):
        v = r["verdict"]
        for h in r["hosts"]:
            for c in h["connections"]:
                if c["status"]["ok"] and h["name"] == v["host"]:
                    return h, c
        self.fail("no delivering connection")

    def check_delivery(self, domain, r, extra):
        host, conn = self.delivering(r)
        tls = conn["tls"]
        # The certificate presented is the one the lab's sink for that host serves.
        lab_hosts = {m["host"]: m for m in self.lab["domains"][domain]["mx"]}
        if extra.get("implicit"):
            lab_host = self.lab["domains"][domain]["implicit_mx"]
        else:
            lab_host = lab_hosts[host["name"]]
        if extra.get("anonymous"):  # no certificate at all
            self.assertEqual(tls["peer_cert_sha256"], "")
            self.assertIn(" with cipher A", tls["summary"])  # ADH-… or AECDH-…
        else:
            self.assertEqual(tls["peer_cert_sha256"], lab_host["cert_sha256"])
        line = conn["log"][0]
        self.assertTrue(line.startswith(f"{tls['trust']} TLS connection established to "
                                        f"{host['name']}[{conn['address']}]:25: TLSv1."), line)
        if "matched" in extra:
            self.assertTrue(tls["matched"]["record"].startswith(extra["matched"] + " "))
            self.assertIn("Matched DANE", conn["log"][1])
        if "depth" in extra:
            self.assertEqual(tls["matched"]["depth"], extra["depth"])
        if extra.get("half_dane"):
            self.assertTrue(host["plan"]["half_dane"])
        if extra.get("no_tlsa_lookup"):
            self.assertEqual(host["tlsa"], [])
        if "via" in extra:
            self.assertEqual(host["name"], extra["via"])
        if extra.get("first_failed"):
            first = r["hosts"][0]
            self.assertNotEqual(first["name"], host["name"])
            self.assertEqual(first["connections"][0]["status"]["dsn"], "4.7.5")
        if extra.get("implicit"):
            self.assertTrue(r["mx_plan"]["implicit"])
        if extra.get("dual"):
            self.assertEqual(conn["key_type"], "ECDSA")
            (rsa,) = conn["other_keys"]
            self.assertEqual((rsa["restricted_to"], rsa["offered"], rsa["key_type"]),
                             ("RSA", True, "RSA"))
            self.assertEqual(rsa["tls"]["peer_cert_sha256"],
                             lab_host["second"]["cert_sha256"])
            self.assertEqual(rsa["status"]["dsn"], "4.7.5")
            self.assertEqual(rsa["tls"]["failure"]["reason"], "Server certificate not verified")
        elif tls["peer_cert_sha256"]:
            # One certificate only: the second handshake, other key type only, gets none.
            self.assertEqual([k["offered"] for k in conn["other_keys"]], [False])
        if extra.get("ipv6"):
            self.assertIn(":", conn["address"])
        if "sni" in extra:
            self.assertEqual(host["plan"]["sni"], extra["sni"])
            self.assertIn(extra["sni"], self.sni_seen(lab_host["sink"]))

    def sni_seen(self, sink):
        path = self.lab["sinks"][sink]["log"]
        with open(path) as f:
            return {json.loads(line).get("sni") for line in f if line.strip()}

    def test_nothing_was_sent_as_mail(self):
        # check only probes: no sink, least of all a DANE one, saw a MAIL FROM.
        for name, sink in self.lab["sinks"].items():
            # The sinks create their logs at start: a missing one is a sink that is not there.
            self.assertTrue(os.path.isfile(sink["log"]), f"{name}: no sink log {sink['log']}")
            with open(sink["log"]) as f:
                for line in f:
                    rec = json.loads(line)
                    self.assertEqual(rec.get("messages") or [], [], name)
                    mail = [c for c in rec.get("commands", []) if str(c).upper().startswith("MAIL")]
                    self.assertEqual(mail, [], name)

    def test_text_output_has_postfix_lines(self):
        p = run_check("ee-good.test")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"Verified TLS connection established to "
                                   r"mx\.ee-good\.test\[127\.0\.1\.\d+\]:25: TLSv1\.[23] with cipher "
                                   r"\S+ \(\d+/\d+ bits\)")
        self.assertRegex(p.stdout, r"mx\.ee-good\.test\[127\.0\.1\.\d+\]:25: Matched DANE EE "
                                   r"certificate at depth 0: 3 1 1 [0-9a-f]{64}")
        self.assertIn("result: deliver via mx.ee-good.test[", p.stdout)

    def test_text_output_of_a_deferral(self):
        p = run_check("ee-badhex.test")
        self.assertEqual(p.returncode, 1)
        self.assertIn("result: defer (dsn=4.7.5, Server certificate not verified)", p.stdout)

    def test_unusable_records_are_explained(self):
        p = run_check("tlsa-unusable.test")
        self.assertIn("all TLSA records unusable, fallback to unauthenticated TLS", p.stdout)
        self.assertIn("is not used with SMTP", p.stdout)

    def test_bad_arguments(self):
        for bad in (["[127.0.0.1]"], ["127.0.0.1"], [""], ["a" * 64 + ".test"], ["a..test"],
                    ["--bogus", "x.test"], []):
            with self.subTest(args=bad):
                p = run_check(*bad)
                self.assertEqual(p.returncode, 2, p.stdout)
                self.assertIn("dane-relay check:", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)

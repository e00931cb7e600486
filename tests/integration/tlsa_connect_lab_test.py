#!/usr/bin/python3
"""`dane-relay tlsa --connect HOST` against the lab's SMTP sinks (SPEC §11).

Runs inside the lab (tests/lab/lab run -- ...). The record made from the chain a live
server presents after STARTTLS must equal the one made from the same certificate file
(by us and by `ldns-dane create -c FILE`, the referee). Errors (refused, no route, no
STARTTLS) are exit status 3 with a clear message, never a crash. Names are resolved by
the lab's validating resolver (--unbound-conf LAB_UNBOUND_CONF), never off the machine.
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest

BINARY = os.environ.get("DANE_RELAY", "build/relay/dane-relay")


def run(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def record(output):
    """(owner, usage, selector, mtype, hex) of the one TLSA line of a tool's output."""
    lines = [l for l in output.splitlines() if re.search(r"\bIN\s+TLSA\b", l)]
    assert len(lines) == 1, output
    owner = lines[0].split()[0]
    fields = lines[0].split("TLSA", 1)[1].split()
    return (owner, *(int(f) for f in fields[:3]), "".join(fields[3:]).lower())


class TlsaConnect(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.environ["LAB_JSON"]) as f:
            cls.lab = json.load(f)

    def host(self, name):
        h = self.lab["hosts"][name]
        return h, self.lab["sinks"][h["sink"]]

    def ours(self, *args):
        p = run(BINARY, "tlsa", *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        return record(p.stdout)

    def same_three_ways(self, name, u, s, m, ldns_flags=(), file_key="cert"):
        h, sink = self.host(name)
        params = ["--usage", str(u), "--selector", str(s), "--mtype", str(m)]
        live = self.ours("--connect", h["ipv4"][0], "--host", name, *params)
        from_file = self.ours(sink[file_key], "--host", name, *params)
        p = run("ldns-dane", *ldns_flags, "-c", sink[file_key], "create", name, "25",
                str(u), str(s), str(m))
        self.assertEqual(p.returncode, 0, p.stderr)
        referee = record(p.stdout)
        self.assertEqual(live, from_file)
        self.assertEqual(live[1:], referee[1:])
        self.assertEqual(live[0], f"_25._tcp.{name}.")
        return live

    def test_dane_ee_every_selector_and_mtype(self):
        for s in (0, 1):
            for m in (0, 1, 2):
                with self.subTest(selector=s, mtype=m):
                    self.same_three_ways("mx.ee-good.test", 3, s, m)

    def test_the_published_record_is_what_the_server_presents(self):
        live = self.ours("--connect", self.host("mx.ee-good.test")[0]["ipv4"][0],
                         "--host", "mx.ee-good.test")
        self.assertEqual(live[4], self.host("mx.ee-good.test")[0]["spki_sha256"])

    def test_dane_ta_publishes_the_issuer_from_the_presented_chain(self):
        # The sink sends leaf + lab CA; ldns-dane -o counts from the chain's end: 0 = CA.
        live = self.same_three_ways("mx.ta-good.test", 2, 1, 1, ("-o", "0"), "chain")
        ca = self.lab["ca"]
        self.assertEqual(live[4], ca["spki_sha256"])
        self.assertNotEqual(live[4], self.host("mx.ta-good.test")[0]["spki_sha256"])

    def test_owner_from_the_host_name_and_port(self):
        # No --host with an address: the owner is the leaf's DNS name.
        h, _ = self.host("mx.ee-good.test")
        p = run(BINARY, "tlsa", "--connect", h["ipv4"][0], "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        got = json.loads(p.stdout)
        self.assertEqual(got["owner"], "_25._tcp.mx.ee-good.test.")
        self.assertEqual(got["data"], h["spki_sha256"])

    def test_ipv6(self):
        h, _ = self.host("mx.ee-good.test")
        self.assertEqual(self.ours("--connect", h["ipv6"][0], "--host", "mx.ee-good.test")[4],
                         h["spki_sha256"])

    def test_usage_2_with_a_lone_certificate_says_why(self):
        h, _ = self.host("mx.ee-good.test")
        p = run(BINARY, "tlsa", "--connect", h["ipv4"][0], "--usage", "2")
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("dane-relay tlsa: ", p.stderr)

    def failure(self, *args):
        p = run(BINARY, "tlsa", "--connect", *args)
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)  # not a signal, not 1
        self.assertEqual(p.stdout, "")
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        return p.stderr

    def test_refused(self):
        h, _ = self.host("mx.ee-good.test")
        err = self.failure(h["ipv4"][0], "--port", "2525")
        self.assertIn("Connection refused", err)

    def test_no_route(self):
        err = self.failure("192.0.2.1", "--timeout", "5")  # TEST-NET-1, not routed in the lab
        self.assertRegex(err, r"connect to \[?192\.0\.2\.1\]?.*:25: ")
        sys.stderr.write(err)

    def test_no_starttls(self):
        h, _ = self.host("mx.no-starttls.test")
        err = self.failure(h["ipv4"][0])
        self.assertIn("TLS is required, but was not offered", err)

    def test_timeout(self):
        # A server that accepts and never sends its banner.
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            start = time.monotonic()
            err = self.failure("127.0.0.1", "--port", str(port), "--timeout", "2")
            self.assertLess(time.monotonic() - start, 30)
        self.assertRegex(err, r"time|Time")
        sys.stderr.write(err)

    def lab_dns(self):
        return ["--unbound-conf", os.environ["LAB_UNBOUND_CONF"]]

    def test_unresolvable(self):
        err = self.failure("host.invalid", *self.lab_dns())
        self.assertIn("cannot resolve host.invalid", err)
        # A name in a signed zone that does not exist: NXDOMAIN, proven secure.
        err = self.failure("nothing.ee-good.test", *self.lab_dns())
        self.assertIn("cannot resolve nothing.ee-good.test: A nxdomain (secure", err)

    def test_a_name_is_resolved_by_the_validating_resolver(self):
        h, _ = self.host("mx.ee-good.test")
        p = run(BINARY, "tlsa", "--connect", "mx.ee-good.test", "--json", *self.lab_dns())
        self.assertEqual(p.returncode, 0, p.stderr)
        got = json.loads(p.stdout)
        self.assertEqual((got["owner"], got["data"]), ("_25._tcp.mx.ee-good.test.",
                                                       h["spki_sha256"]))
        self.assertEqual(got["address_security"], "secure")
        self.assertIn("the address records are DNSSEC-secure", p.stderr)
        # Its zone is unsigned: RFC 7672 §2.2, DANE senders do not use its TLSA records.
        p = run(BINARY, "tlsa", "--connect", "mx.insecure-hosts.test", "--json", *self.lab_dns())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["address_security"], "insecure")
        self.assertIn("warning: mx.insecure-hosts.test[", p.stderr)
        self.assertIn("not DNSSEC-secure", p.stderr)

    def test_the_resolver_settings_are_those_of_check(self):
        # A resolver that cannot be set up is an error before any connection (exit 2)...
        p = run(BINARY, "tlsa", "--connect", "mx.ee-good.test", "--unbound-conf",
                "/nonexistent/unbound.conf")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("unbound", p.stderr)
        self.assertEqual(p.stdout, "")
        # ...and so is -c naming a configuration that does not load.
        p = run(BINARY, "tlsa", "--connect", "mx.ee-good.test", "-c", "/nonexistent/relay.toml")
        self.assertEqual(p.returncode, 2, p.stderr)
        # An IP literal is not looked up: no resolver, so its settings do not matter.
        h, _ = self.host("mx.ee-good.test")
        p = run(BINARY, "tlsa", "--connect", h["ipv4"][0], "--json", "--unbound-conf",
                "/nonexistent/unbound.conf")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("address_security", json.loads(p.stdout))
        # Resolver options belong to --connect.
        p = run(BINARY, "tlsa", "x.pem", "--unbound-conf", os.environ["LAB_UNBOUND_CONF"])
        self.assertEqual(p.returncode, 2, p.stderr)

    def test_bad_usage(self):
        for args in (["--connect"], ["--connect", ""], ["--connect", "x", "file.pem"],
                     ["--connect", "x", "--timeout", "0"]):
            with self.subTest(args=args):
                p = run(BINARY, "tlsa", *args)
                self.assertEqual(p.returncode, 2, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)

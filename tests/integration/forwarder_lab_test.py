#!/usr/bin/python3
"""The resolver's fallback to the resolv.conf forwarders (SPEC §7) inside the lab.

Full recursion from the root stays the default; only when the root servers give no
answer at all does the relay forward to the nameservers of its resolv.conf (a file of
the test's own), still validating locally with the same trust anchor. A forwarder's AD
bit never matters: the plain forwarder clears it and DANE still verifies; the stripping
forwarder sets it on answers without RRSIGs and nothing validates, so the relay refuses
to start, or (when only the names below the root are stripped) every delivery defers.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import relaylab
from relaylab import BINARY, Relay

HERE = os.path.dirname(os.path.abspath(__file__))
DNSFWD = os.path.join(HERE, "..", "lab", "dnsfwd.py")
FORWARDER = "127.0.4.1"  # the network's resolver, reachable
DEAD = "127.0.9.9"  # nothing listens: the root servers' packets are refused at once


def swaks(to):
    return subprocess.run(["swaks", "--server", "127.0.0.1:10025", "--from", "sender@relay.test",
                           "--to", to, "--h-Subject", f"test for {to}"],
                          capture_output=True, text=True, timeout=60)


class DnsRelay(Relay):
    """A relay whose [dns] unbound_conf and resolv_conf are the test's; with `timeout`,
    its query_timeout (how long an unreachable root delays the start)."""

    def __init__(self, unbound_conf, resolv_conf, timeout="2s", **kw):
        self.dns = (unbound_conf, resolv_conf, timeout)
        super().__init__(**kw)

    def write_conf(self, **changes):
        super().write_conf(**changes)
        with open(self.conf) as f:
            text = f.read()
        u, r, t = self.dns
        text = re.sub(r'(?m)^unbound_conf = ".*"$', f'unbound_conf = "{u}"\nresolv_conf = "{r}"',
                      text)
        text = re.sub(r'(?m)^query_timeout = ".*"$', f'query_timeout = "{t}"', text)
        with open(self.conf, "w") as f:
            f.write(text)

    def refused(self):
        """Runs `serve`, which must refuse to start: (its stderr, its log)."""
        p = subprocess.run([BINARY, "serve", "-c", self.conf], capture_output=True, text=True,
                           timeout=30)
        if p.returncode == 0:
            raise AssertionError("serve started: " + p.stderr)
        return p.stderr, "\n".join(self.lines())


class ForwarderLab(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lab = relaylab.lab()
        with open(os.environ["LAB_UNBOUND_CONF"]) as f:
            cls.lab_conf = f.read()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dr-fwd-")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name, text=None):
        p = os.path.join(self.dir, name)
        if text is not None:
            with open(p, "w") as f:
                f.write(text)
        return p

    def unbound_conf(self, root=None, anchor=None, localhost=True):
        """The lab's unbound.conf, with the root hints at `root`, the root DS in `anchor`,
        and without `do-not-query-localhost: no` unless `localhost`."""
        text = self.lab_conf
        if root:
            hints = self.path("root.hints", f".\t3600000\tNS\tns1.test.\n"
                                            f"ns1.test.\t3600000\tA\t{root}\n")
            text = re.sub(r'root-hints: ".*"', f'root-hints: "{hints}"', text)
        if anchor:
            text = re.sub(r'trust-anchor-file: ".*"',
                          f'trust-anchor-file: "{self.path("root.ds", anchor)}"', text)
        if not localhost:
            text = text.replace("do-not-query-localhost: no", "")
        return self.path("unbound.conf", text)

    def forwarder(self, mode):
        """Starts dnsfwd.py on FORWARDER; returns (resolv.conf path, query log path)."""
        log, ready = self.path(f"fwd-{mode}.log"), self.path(f"fwd-{mode}.ready")
        self.procs.append(subprocess.Popen(
            [sys.executable, DNSFWD, mode, FORWARDER, self.lab["dns"]["server"], log, ready]))
        deadline = time.monotonic() + 10
        while not os.path.exists(ready):
            self.assertLess(time.monotonic(), deadline, "dnsfwd.py did not start")
            self.assertIsNone(self.procs[-1].poll(), "dnsfwd.py exited")
            time.sleep(0.02)
        resolv = self.path("resolv.conf", f"# the test's own\nsearch test\n"
                                          f"nameserver {FORWARDER}\noptions edns0\n")
        return resolv, log

    @staticmethod
    def queries(log):
        with open(log) as f:
            return f.read().split("\n")[:-1]

    def delivered(self, rcpt):
        return relaylab.received(self.lab, rcpt)

    def test_root_reachable_keeps_full_recursion(self):
        resolv, log = self.forwarder("plain")
        relay = DnsRelay(os.environ["LAB_UNBOUND_CONF"], resolv)
        try:
            relay.wait_for(r"dane-relay/master\[\d+\]: resolver: full recursion from the root$")
            self.assertEqual(swaks("recursion@ee-good.test").returncode, 0)
            relay.wait_for(r"to=<recursion@ee-good\.test>.*status=sent")
        finally:
            self.assertEqual(relay.stop(), 0)
        self.assertEqual(self.queries(log), [], "the forwarder is never asked")
        self.assertEqual(len(self.delivered("recursion@ee-good.test")), 1)

    def test_bogus_root_is_no_reason_to_fall_back(self):
        # The root answers, but not with the anchored key: that is a validation failure,
        # not an unreachable root, so the relay refuses to start without asking anyone else.
        resolv, log = self.forwarder("plain")
        ds = self.lab["dns"]["root_ds"][0]
        wrong = ds[:-1] + ("0" if ds[-1] != "0" else "1")
        relay = DnsRelay(self.unbound_conf(anchor=wrong + "\n"), resolv, start=False)
        err, lines = relay.refused()
        self.assertIn("the resolver cannot validate DNSSEC (root DNSKEY is bogus", err)
        self.assertIn("fatal: the resolver cannot validate DNSSEC", lines)
        self.assertNotIn("through", err)
        self.assertEqual(self.queries(log), [])

    def test_unreachable_root_forwards_and_validates_locally(self):
        # Root hints at the lab's silent server: a network that drops outbound DNS.
        resolv, log = self.forwarder("plain")
        relay = DnsRelay(self.unbound_conf(root=self.lab["dns"]["silent_server"]), resolv)
        try:
            relay.wait_for(rf"dane-relay/master\[\d+\]: resolver: forwarding to "
                           rf"{re.escape(FORWARDER)} \(from {re.escape(resolv)}\), validating "
                           rf"locally: the root servers did not answer$")
            for rcpt in ("fwd@ee-good.test", "fwd@bogus-mx.test"):
                self.assertEqual(swaks(rcpt).returncode, 0)
            sent = relay.wait_for(r"to=<fwd@ee-good\.test>.*status=sent")
            self.assertIn("tls=dane", sent)
            self.assertIn("dsn=4.4.3, status=deferred",
                          relay.wait_for(r"to=<fwd@bogus-mx\.test>.*status="))
        finally:
            self.assertEqual(relay.stop(), 0)
        self.assertTrue(any("Verified TLS connection established to mx.ee-good.test[" in l
                            for l in relay.lines()))
        got = self.delivered("fwd@ee-good.test")
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0]["tls"])
        host = self.lab["hosts"]["mx.ee-good.test"]
        self.assertEqual(relaylab.delivered_certificates(relay.evidence)["fwd@ee-good.test"],
                         host["cert_sha256"])
        self.assertEqual(self.delivered("fwd@bogus-mx.test"), [])
        # Every answer reached the relay with AD clear, yet validated: AD is not what counts.
        self.assertIn(". 48", self.queries(log))
        self.assertIn("_25._tcp.mx.ee-good.test. 52", self.queries(log))

    def test_stripping_forwarder_is_refused_at_start(self):
        # Without the lab's do-not-query-localhost: no, as in a stock unbound.conf: a
        # loopback forwarder (systemd-resolved's 127.0.0.53) is still asked.
        resolv, log = self.forwarder("strip")
        relay = DnsRelay(self.unbound_conf(root=DEAD, localhost=False), resolv, start=False)
        err, lines = relay.refused()
        self.assertIn(f"the resolver cannot validate DNSSEC through {FORWARDER} (from {resolv}: "
                      "the root servers did not answer) (root DNSKEY is bogus", err)
        self.assertIn("whether the forwarders strip DNSSEC records", err)
        self.assertIn("fatal: the resolver cannot validate DNSSEC through", lines)
        self.assertIn(". 48", self.queries(log), "the AD bit it claimed was not believed")

    def test_forwarder_stripping_below_root_defers_everything(self):
        resolv, log = self.forwarder("strip-below")
        relay = DnsRelay(self.unbound_conf(root=DEAD), resolv)
        domains = ("ee-good.test", "unsigned.test", "insecure-mx.test")
        try:
            relay.wait_for(r"resolver: forwarding to 127\.0\.4\.1 .*validating locally")
            for d in domains:
                self.assertEqual(swaks(f"strip@{d}").returncode, 0)
            for d in domains:
                line = relay.wait_for(rf"to=<strip@{re.escape(d)}>.*status=")
                # Postfix's code for a DNS lookup that failed (here: bogus, RFC 4035 §5.5).
                self.assertIn("dsn=4.4.3, status=deferred", line, d)
        finally:
            self.assertEqual(relay.stop(), 0)
        for d in domains:
            self.assertEqual(self.delivered(f"strip@{d}"), [], d)
        self.assertNotIn("status=sent", "\n".join(relay.lines()))
        self.assertIn("test. 43", self.queries(log))

    def test_bad_resolv_conf(self):
        for name, text, why in (("missing.conf", None, "cannot read {}: No such file"),
                                ("empty.conf", "# nothing\nsearch test\n",
                                 "no nameserver line in {}"),
                                ("bad.conf", "nameserver not-an-address\n",
                                 "bad nameserver not-an-address in {}")):
            with self.subTest(name):
                resolv = self.path(name, text)
                relay = DnsRelay(self.unbound_conf(root=DEAD), resolv, timeout="1s", start=False)
                err, _ = relay.refused()
                self.assertIn(why.format(resolv), err)

    def test_fallback_off(self):
        relay = DnsRelay(self.unbound_conf(root=DEAD), "", timeout="1s", start=False)
        err, _ = relay.refused()
        self.assertIn("cannot look up the root DNSKEY RRset (", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)

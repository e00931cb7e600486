#!/usr/bin/env python3
"""`dane-relay tlsa` against the external referees (SPEC §11: "byte-identical in its data to
ldns-dane create"). Certificates and keys are made at test time with `openssl req`, RSA 2048
and ECDSA P-256, as a chain leaf <- ca <- root. Every referee runs offline, on files only (no
DNS, no connection; checked with strace when this test was written):

  ldns-dane (ldnsutils)  `-c FILE create HOST 25 U S M`: usage 3 and 1 (-s) on the leaf, every
                         selector x matching type; usages 2 and 0 (-s) on the chain with -o,
                         which counts from the END of the chain (ours: --ca counts from the leaf;
                         without -o, ldns-dane takes the last certificate of the file, and we
                         take the leaf's issuer).
  tlsa (hash-slinger)    `--create --certificate FILE`: usage 3 on the leaf, every selector x
                         matching type (0 included); usage 2 on a file holding only the CA
                         (ours: --ca 0). Usage 2 on a longer chain asks on the terminal: not used.
  danetool (gnutls-bin)  `--tlsa-rr --load-certificate FILE`: usages 3 (default), 2 (--ca),
                         1 (--no-domain), 0 (--ca --no-domain), selector 0 (--x509) and 1,
                         matching types 1 and 2 only (--hash sha256|sha512; no full data);
                         `--load-pubkey` for a bare public key (ours: the key file).

A referee that is missing fails the test, naming its Debian package.
Run: DANE_RELAY=build/relay/dane-relay tests/dane/tlsa_referees_test.py
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

REFEREES = {"ldns-dane": "ldnsutils", "tlsa": "hash-slinger", "danetool": "gnutls-bin",
            "openssl": "openssl"}
HOST = "mx.example.org"
DANE_RELAY = os.path.abspath(os.environ.get("DANE_RELAY", "build/relay/dane-relay"))


def run(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def record(output):
    """(usage, selector, mtype, hex) of the one TLSA line in output, whatever its layout:
    ldns-dane puts a TTL and tabs, danetool two-digit fields in parentheses."""
    lines = [l for l in output.splitlines() if re.search(r"\bIN\s+TLSA\b", l)]
    if len(lines) != 1:
        raise AssertionError(f"expected one TLSA line, got:\n{output}")
    fields = lines[0].split("TLSA", 1)[1].replace("(", " ").replace(")", " ").split()
    u, s, m = (int(f) for f in fields[:3])
    return u, s, m, "".join(fields[3:]).lower()


def make_pki(d, alg):
    """leaf.pem <- ca.pem <- root.pem, chain.pem (leaf first), leaf.key, leaf.pub."""
    newkey = ["-newkey", "rsa:2048"] if alg == "rsa" else [
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    run(["openssl", "req", "-x509", *newkey, "-nodes", "-keyout", "root.key", "-out",
         "root.pem", "-subj", "/CN=root", "-days", "30"], d)
    with open(os.path.join(d, "ca.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:true\n")
    with open(os.path.join(d, "leaf.ext"), "w") as f:
        f.write(f"subjectAltName=DNS:{HOST}\n")
    for name, issuer, ext in (("ca", "root", "ca.ext"), ("leaf", "ca", "leaf.ext")):
        run(["openssl", "req", *newkey, "-nodes", "-keyout", f"{name}.key", "-out",
             f"{name}.csr", "-subj", f"/CN={name}"], d)
        run(["openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem",
             "-CAkey", f"{issuer}.key", "-out", f"{name}.pem", "-days", "30", "-extfile", ext],
            d)
    run(["openssl", "pkey", "-in", "leaf.key", "-pubout", "-out", "leaf.pub"], d)
    with open(os.path.join(d, "chain.pem"), "w") as out:
        for name in ("leaf", "ca", "root"):
            with open(os.path.join(d, f"{name}.pem")) as f:
                out.write(f.read())


class Referees(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [f"{b} (package {p})" for b, p in REFEREES.items() if not shutil.which(b)]
        if missing:
            raise AssertionError("referee missing: " + ", ".join(missing) +
                                 "; run deploy/install-deps --test")
        cls.tmp = tempfile.TemporaryDirectory(prefix="tlsa_referees.")
        cls.dirs = {}
        for alg in ("rsa", "ec"):
            cls.dirs[alg] = os.path.join(cls.tmp.name, alg)
            os.mkdir(cls.dirs[alg])
            make_pki(cls.dirs[alg], alg)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def ours(self, d, file, u, s, m, *extra):
        out = run([DANE_RELAY, "tlsa", file, "--usage", str(u), "--selector", str(s),
                   "--mtype", str(m), *extra], d)
        self.assertTrue(out.startswith(f"_25._tcp.{HOST}. IN TLSA "), out)
        return record(out)

    def check(self, referee_cmd, file, u, s, m, *extra):
        for alg, d in self.dirs.items():
            with self.subTest(alg=alg, cmd=" ".join(referee_cmd), ours=extra):
                want = record(run(referee_cmd, d))
                self.assertEqual(self.ours(d, file, u, s, m, *extra), want)
                self.assertEqual(want[:3], (u, s, m))

    def test_ldns_dane_end_entity(self):
        for u, flags in ((3, []), (1, ["-s"])):
            for s in (0, 1):
                for m in (0, 1, 2):
                    cmd = ["ldns-dane", *flags, "-c", "leaf.pem", "create", HOST, "25",
                           str(u), str(s), str(m)]
                    self.check(cmd, "leaf.pem", u, s, m)

    def test_ldns_dane_trust_anchors(self):
        # -o counts from the end of the 3-certificate chain: -o 1 is the leaf's issuer.
        for u, flags in ((2, []), (0, ["-s"])):
            for s in (0, 1):
                for m in (0, 1, 2):
                    # No --ca: the leaf's issuer, as SPEC §11 says.
                    for offset, ca in (("1", []), ("1", ["--ca", "1"]), ("0", ["--ca", "2"])):
                        cmd = ["ldns-dane", *flags, "-o", offset, "-c", "chain.pem", "create",
                               HOST, "25", str(u), str(s), str(m)]
                        self.check(cmd, "chain.pem", u, s, m, *ca)

    def test_hash_slinger(self):
        for s in (0, 1):
            for m in (0, 1, 2):
                for u, file, extra in ((3, "leaf.pem", []), (2, "ca.pem", ["--ca", "0"])):
                    cmd = ["tlsa", "--create", "--certificate", file, "--port", "25",
                           "--usage", str(u), "--selector", str(s), "--mtype", str(m), HOST]
                    self.check(cmd, file, u, s, m, "--host", HOST, *extra)

    def test_danetool(self):
        usages = {3: ("leaf.pem", [], []), 1: ("leaf.pem", ["--no-domain"], []),
                  2: ("ca.pem", ["--ca"], ["--ca", "0"]),
                  0: ("ca.pem", ["--ca", "--no-domain"], ["--ca", "0"])}
        for u, (file, flags, extra) in usages.items():
            for s in (0, 1):
                for m, hash_name in ((1, "sha256"), (2, "sha512")):
                    cmd = ["danetool", "--tlsa-rr", "--load-certificate", file, "--host", HOST,
                           "--port", "25", "--hash", hash_name, *flags,
                           *(["--x509"] if s == 0 else [])]
                    self.check(cmd, file, u, s, m, "--host", HOST, *extra)

    def test_danetool_public_key(self):
        for m, hash_name in ((1, "sha256"), (2, "sha512")):
            cmd = ["danetool", "--tlsa-rr", "--load-pubkey", "leaf.pub", "--host", HOST,
                   "--port", "25", "--hash", hash_name]
            self.check(cmd, "leaf.pub", 3, 1, m, "--host", HOST)
            # The private key makes the same record.
            self.check(cmd, "leaf.key", 3, 1, m, "--host", HOST)


class CommandLine(unittest.TestCase):
    """Exit statuses (0 printed, 1 input problem, 2 usage error), one stderr line, --json."""

    def status(self, d, *args):
        p = subprocess.run([DANE_RELAY, "tlsa", *args], cwd=d, capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        if p.returncode:
            self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        return p.returncode, p.stdout

    def test_exit_statuses_and_json(self):
        with tempfile.TemporaryDirectory(prefix="tlsa_cli.") as d:
            make_pki(d, "ec")
            for name, data in (("empty.pem", b""), ("garbage.pem", bytes(range(256))),
                               ("text.pem", b"not a certificate\n")):
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)
            for args, want in ((["leaf.pem"], 0), (["leaf.key", "--host", HOST], 0),
                               (["empty.pem"], 1), (["garbage.pem"], 1), (["text.pem"], 1),
                               (["missing.pem"], 1), (["leaf.key", "--host", HOST,
                                                       "--selector", "0"], 1),
                               (["leaf.pem", "--usage", "2"], 1), (["chain.pem", "--usage", "2",
                                                                   "--ca", "3"], 1),
                               (["leaf.key"], 2), (["leaf.pem", "--usage", "4"], 2),
                               (["leaf.pem", "--bogus"], 2), ([], 2),
                               (["--connect", HOST, "leaf.pem"], 2), (["--connect"], 2),
                               (["leaf.pem", "-c", "x.toml"], 2)):
                with self.subTest(args=args):
                    self.assertEqual(self.status(d, *args)[0], want)
            rc, out = self.status(d, "chain.pem", "--json", "--next", "leaf.key", "--port", "465")
            doc = json.loads(out)
            self.assertEqual(doc["owner"], f"_465._tcp.{HOST}.")
            self.assertEqual([r["role"] for r in doc["records"]], ["current", "next"])
            self.assertEqual(doc["records"][0]["data"], doc["data"])
            self.assertEqual(doc["records"][1]["data"], doc["data"], "the same key")
            self.assertEqual((doc["usage"], doc["selector"], doc["mtype"]), (3, 1, 1))


if __name__ == "__main__":
    unittest.main(verbosity=2)

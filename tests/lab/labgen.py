# Generates the lab's state directory from scratch: certificates (openssl),
# DNSSEC keys and signed zones (ldns-keygen/ldns-signzone/ldns-key2ds), the
# nsd and unbound configurations, the sink configuration and lab.json.
# Entry point: generate(state_dir, netns) -> dict (the lab.json content).
# Failures raise GenError (a tool failed); nothing is started here.
import hashlib
import json
import os
import ssl
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

DNS_SERVER = "127.0.2.1"  # nsd: root, test. and every scenario zone
LAME_SERVER = "127.0.2.2"  # second nsd without zones: answers REFUSED
NS1 = "ns1.test."
NS2 = "ns2.test."
SILENT_SERVER = "127.0.2.3"  # sockets bound by sink.py that never answer: timeouts
NS3 = "ns3.test."
TTL = 300


class GenError(Exception):
    pass


def run(cmd, cwd=None):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise GenError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


def fqdn(name):
    return name if name.endswith(".") else name + "."


def bare(name):
    return name.rstrip(".") or "."


# --- X.509 helpers ------------------------------------------------------------------

def der_items(data, pos, end):
    """Yields (tag, header_start, content_start, content_end) of DER items."""
    while pos < end:
        tag = data[pos]
        length = data[pos + 1]
        start = pos + 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(data[start:start + n], "big")
            start += n
        yield tag, pos, start, start + length
        pos = start + length


def spki_of(cert_der):
    """The DER SubjectPublicKeyInfo of a certificate (RFC 5280 4.1)."""
    _, _, c0, e0 = next(der_items(cert_der, 0, len(cert_der)))  # Certificate
    _, _, t0, te = next(der_items(cert_der, c0, e0))  # tbsCertificate
    fields = list(der_items(cert_der, t0, te))
    if fields[0][0] == 0xA0:  # explicit [0] version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    _, hs, _, ce = fields[5]
    return cert_der[hs:ce]


class Cert:
    """A key + certificate (and chain) on disk, with its TLSA digests. openssl runs
    in a pool; the first use of the certificate's content waits for it."""

    def __init__(self, stem, key, cert, chain, names, note, job=None):
        self.stem, self.key, self.cert, self.chain = stem, key, cert, chain
        self.names, self.note = names, note
        self.job = job
        self._der = None

    @property
    def der(self):
        if self._der is None:
            if self.job:
                self.job.result()
            with open(self.cert) as f:
                self._der = ssl.PEM_cert_to_DER_cert(f.read())
        return self._der

    @property
    def spki(self):
        return spki_of(self.der)

    def digest(self, selector, mtype):
        data = self.der if selector == 0 else self.spki
        if mtype == 0:
            return data.hex()
        return (hashlib.sha256 if mtype == 1 else hashlib.sha512)(data).hexdigest()

    def chain_sha256(self):
        if self.job:  # the files exist once openssl is done
            self.job.result()
        end = "-----END CERTIFICATE-----"
        with open(self.chain) as f:
            pems = [p.strip() + "\n" + end + "\n" for p in f.read().split(end)[:-1]]
        return [hashlib.sha256(ssl.PEM_cert_to_DER_cert(p)).hexdigest() for p in pems]

    def summary(self):
        return {
            "cert": self.cert, "chain": self.chain, "key": self.key,
            "cert_names": self.names, "note": self.note, "chain_sha256": self.chain_sha256(),
            "cert_sha256": hashlib.sha256(self.der).hexdigest(),
            "spki_sha256": hashlib.sha256(self.spki).hexdigest(),
            "spki_sha512": hashlib.sha512(self.spki).hexdigest(),
        }


CA_CNF = """[ca]
default_ca = lab
[lab]
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

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
RSA = ["-newkey", "rsa:2048", "-nodes"]


class Certs:
    def __init__(self, d, pool):
        self.dir = d
        self.pool = pool
        os.makedirs(d, exist_ok=True)
        self.ca = None

    def _paths(self, stem):
        return (os.path.join(self.dir, stem + ".key"), os.path.join(self.dir, stem + ".crt"))

    def _subject(self, name, more=()):
        """Subject and leaf extensions (CA:FALSE overrides openssl.cnf's v3_ca); `more`:
        further DNS names in the subjectAltName."""
        alt = ",".join("DNS:" + n for n in [name, *more])
        return ["-subj", "/CN=" + name, "-addext", "subjectAltName=" + alt,
                "-addext", "basicConstraints=critical,CA:FALSE",
                "-addext", "keyUsage=critical,digitalSignature",
                "-addext", "extendedKeyUsage=serverAuth"]

    def make_ca(self):
        key, crt = self._paths("lab-ca")
        run(["openssl", "req", "-x509", *EC, "-keyout", key, "-out", crt, "-days", "3650",
             "-subj", "/CN=dane-relay lab CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        self.ca = Cert("lab-ca", key, crt, crt, [], "lab CA (DANE-TA trust anchor)")
        return self.ca

    def selfsigned(self, stem, name, note="self-signed leaf", keyargs=EC):
        key, crt = self._paths(stem)
        job = self.pool.submit(run, ["openssl", "req", "-x509", *keyargs, "-keyout", key, "-out",
                                     crt, "-days", "3650", *self._subject(name)])
        return Cert(stem, key, crt, crt, [name], note, job)

    def ca_leaf(self, stem, name, note="leaf issued by the lab CA", more=()):
        key, crt = self._paths(stem)
        chain = os.path.join(self.dir, stem + ".chain.pem")

        def make():
            run(["openssl", "req", "-x509", *EC, "-keyout", key, "-out", crt, "-days", "3650",
                 "-CA", self.ca.cert, "-CAkey", self.ca.key, *self._subject(name, more)])
            with open(chain, "w") as out:
                for p in (crt, self.ca.cert):
                    with open(p) as f:
                        out.write(f.read())
        return Cert(stem, key, crt, chain, [name], note, self.pool.submit(make))

    def expired_selfsigned(self, stem, name):
        key, crt = self._paths(stem)
        job = self.pool.submit(self._expired, key, crt, stem, name)
        return Cert(stem, key, crt, crt, [name], "self-signed leaf, expired 2021-01-01", job)

    def _expired(self, key, crt, stem, name):
        work = os.path.join(self.dir, stem + ".ca")
        os.makedirs(work)
        with open(os.path.join(work, "ca.cnf"), "w") as f:
            f.write(CA_CNF.format(d=work))
        open(os.path.join(work, "index.txt"), "w").close()
        with open(os.path.join(work, "serial"), "w") as f:
            f.write("01\n")
        csr = os.path.join(work, "req.csr")
        run(["openssl", "req", "-new", *EC, "-keyout", key, "-out", csr, *self._subject(name)])
        run(["openssl", "ca", "-batch", "-notext", "-config", os.path.join(work, "ca.cnf"),
             "-selfsign", "-keyfile", key, "-in", csr, "-startdate", "20200101000000Z",
             "-enddate", "20210101000000Z", "-out", crt])


# --- DNS model -------------------------------------------------------------------------

class Zone:
    def __init__(self, name, signed):
        self.name = fqdn(name)
        self.signed = signed
        self.records = []  # zone file lines, absolute names
        self.mutations = []  # functions(list of signed lines) applied after signing
        self.key = None  # key base name (CSK)
        self.ds = []  # DS lines for the parent

    def add(self, name, rtype, rdata):
        self.records.append(f"{fqdn(name)}\t{TTL}\tIN\t{rtype}\t{rdata}")


class Host:
    """An MX target (or implicit MX): a name with addresses, a sink and TLSA records."""

    def __init__(self, name, zone, sink, cname=None):
        self.name = bare(name)
        self.zone = zone  # zone holding the address (and TLSA) records
        self.sink = sink
        self.cname = cname  # name the host's CNAME points to
        self.tlsa = []
        self.addr_dnssec = "secure" if zone.signed else "insecure"
        self.tlsa_dnssec = "secure" if zone.signed else "insecure"  # or bogus/servfail

    @property
    def addr_name(self):
        return self.cname or self.name

    def tlsa_status(self):
        """What a validating lookup of the TLSA RRset gives (see README.md)."""
        if not self.tlsa and self.tlsa_dnssec in ("secure", "insecure"):
            return "absent-" + self.tlsa_dnssec
        return self.tlsa_dnssec

    def summary(self):
        s = self.sink
        out = {
            "host": self.name, "cname": self.cname, "addr_name": self.addr_name,
            "zone": bare(self.zone.name), "addr_dnssec": self.addr_dnssec,
            "ipv4": [s.ipv4] if s.ipv4 else [], "ipv6": [s.ipv6] if s.ipv6 else [],
            "sink": s.name, "starttls": s.starttls,
            "tlsa_name": "_25._tcp." + self.addr_name, "tlsa_dnssec": self.tlsa_status(),
            "tlsa": self.tlsa,
        }
        out.update({k: v for k, v in s.cert.summary().items()
                    if k in ("cert_sha256", "spki_sha256", "cert_names", "chain_sha256")})
        if s.second:  # the certificate of the other key type, and its files
            out["second"] = s.second.summary()
        return out


class Sink:
    def __init__(self, name, n, cert, starttls, v4, v6, sinkdir):
        self.name, self.n, self.cert, self.starttls = name, n, cert, starttls
        self.replies = {}  # "MAIL"/"RCPT"/"DATA" -> reply line replacing the 250
        self.ciphers = None  # OpenSSL cipher list; set: TLS 1.2 with those suites only
        self.second = None  # a Cert of the other key type, served beside cert (RSA + ECDSA)
        self.extensions = []  # more EHLO keywords, offered after STARTTLS ("REQUIRETLS")
        self.ipv4 = f"127.0.1.{n}" if v4 else None
        self.ipv6 = f"fd00:da9e::{n}" if v6 else None
        self.log = os.path.join(sinkdir, name + ".jsonl")
        self.msgdir = os.path.join(sinkdir, name)

    def config(self):
        return {"name": self.name, "hostname": self.name, "port": 25,
                "addrs": [a for a in (self.ipv4, self.ipv6) if a],
                "starttls": self.starttls, "chain": self.cert.chain, "key": self.cert.key,
                "log": self.log, "msgdir": self.msgdir, "replies": self.replies,
                "ciphers": self.ciphers, "extensions": self.extensions,
                "second": [self.second.chain, self.second.key] if self.second else None}

    def summary(self):
        d = {"n": self.n, "ipv4": self.ipv4, "ipv6": self.ipv6, "port": 25,
             "starttls": self.starttls, "log": self.log, "msgdir": self.msgdir,
             "replies": self.replies, "ciphers": self.ciphers, "extensions": self.extensions}
        d.update(self.cert.summary())
        d["second"] = self.second.summary() if self.second else None
        return d


class Lab:
    def __init__(self, state, pool):
        self.state = state
        self.pool = pool
        self.pending_tlsa = []
        self.bulk_tlsa = []  # (MX name, host whose TLSA records it copies)
        self.bulk_bad_tlsa = []  # (MX name, host whose TLSA records it copies, hex flipped)
        self.bulk = None
        self.unreachable = None
        self.sts = None
        self.certs = Certs(os.path.join(state, "certs"), pool)
        self.dnsdir = os.path.join(state, "dns")
        self.sinkdir = os.path.join(state, "sinks")
        os.makedirs(self.dnsdir)
        os.makedirs(self.sinkdir)
        self.zones = {}
        self.hosts = {}
        self.sinks = {}
        self.domains = {}
        self.lame_delegations = []  # (zone, parent, ns): NS + DS in the parent
        self.extra_keys = []  # zone names needing a key (only for the DS) of those
        self.zone(".", True)
        t = self.zone("test", True)
        t.add("ns1.test", "A", DNS_SERVER)
        t.add("ns2.test", "A", LAME_SERVER)
        t.add("ns3.test", "A", SILENT_SERVER)

    # zones and names
    def zone(self, name, signed=True):
        z = Zone(name, signed)
        self.zones[z.name] = z
        z.add(z.name, "SOA", f"{NS1} hostmaster.test. 1 3600 600 86400 {TTL}")
        z.add(z.name, "NS", NS1)
        return z

    def zone_of(self, name):
        n = fqdn(name)
        while True:
            if n in self.zones:
                return self.zones[n]
            n = n.split(".", 1)[1] or "."

    def sink(self, name, cert, starttls=True, v4=True, v6=True):
        s = Sink(name, len(self.sinks) + 1, cert, starttls, v4, v6, self.sinkdir)
        self.sinks[name] = s
        return s

    def host(self, name, cert, starttls=True, v4=True, v6=True, cname=None):
        """An MX host with its own sink; cname: the host is a CNAME to that name."""
        addr_name = cname or name
        z = self.zone_of(addr_name)
        s = self.sink(bare(addr_name), cert, starttls, v4, v6)
        if s.ipv4:
            z.add(addr_name, "A", s.ipv4)
        if s.ipv6:
            z.add(addr_name, "AAAA", s.ipv6)
        if cname:
            self.zone_of(name).add(name, "CNAME", fqdn(cname))
        h = Host(name, z, s, cname)
        self.hosts[h.name] = h
        return h

    def domain(self, name, description, signed=True, zone=True):
        z = self.zone(name, signed) if zone else None
        d = {"description": description, "exists": zone, "signed": bool(z and z.signed),
             "mx_dnssec": ("secure" if signed else "insecure") if zone else "nxdomain",
             "null_mx": False, "implicit_mx": None, "mx": []}
        self.domains[bare(name)] = d
        return z, d

    def mx(self, domain, pref, host):
        self.zone_of(domain).add(domain, "MX", f"{pref} {fqdn(host.name)}")
        self.domains[bare(domain)]["mx"].append({"preference": pref, "host": host})

    def tlsa(self, host, usage, sel, mtype, cert, transform=None, note=""):
        """A TLSA record for cert at host; made once the certificates exist."""
        self.pending_tlsa.append((host, usage, sel, mtype, cert, transform, note))

    def make_tlsa(self, host, usage, sel, mtype, cert, transform, note):
        data = cert.digest(sel, mtype)
        data = transform(data) if transform else data
        name = "_25._tcp." + host.addr_name
        host.zone.add(name, "TLSA", f"{usage} {sel} {mtype} {data}")
        served = [host.sink.cert]
        if host.sink.cert.chain != host.sink.cert.cert:
            served.append(self.certs.ca)
        matches = any(c.digest(sel, mtype) == data for c in served)
        host.tlsa.append({"usage": usage, "selector": sel, "mtype": mtype, "data": data,
                          "text": f"{usage} {sel} {mtype} {data}",
                          "matches_served_chain": matches, "note": note})

    # signing
    def keygen(self, zone_name):
        out = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", zone_name], cwd=self.dnsdir)
        base = os.path.join(self.dnsdir, out.strip())
        with open(base + ".ds") as f:
            ds = [line.split() for line in f if line.split()[2:3] == ["DS"]]
        ds = [f"{d[0]}\t{TTL}\tIN\tDS\t{' '.join(d[3:])}" for d in ds]
        return base, ds

    def write_zone(self, z):
        path = os.path.join(self.dnsdir, "zone." + (bare(z.name) if z.name != "." else "root"))
        with open(path, "w") as f:
            f.write("\n".join(z.records) + "\n")
        return path

    def sign(self, z, now):
        path = self.write_zone(z)
        if not z.signed:
            return path
        run(["ldns-signzone", "-i", str(now - 86400), "-e", str(now + 400 * 86400),
             "-f", path + ".signed", "-o", z.name, path, z.key])
        if z.mutations:
            with open(path + ".signed") as f:
                lines = f.read().splitlines()
            for m in z.mutations:
                lines = m(lines)
            with open(path + ".signed", "w") as f:
                f.write("\n".join(lines) + "\n")
        return path + ".signed"

    def delegate(self, z):
        """NS (+ glue for test.) and DS records of z in its parent zone."""
        parent = self.zone_of(z.name.split(".", 1)[1] or ".")
        parent.add(z.name, "NS", NS1)
        if z.name == "test.":
            parent.add("ns1.test", "A", DNS_SERVER)
        for ds in z.ds:
            parent.records.append(ds)

    def build_dns(self):
        now = int(time.time())
        signed = [z for z in self.zones.values() if z.signed]
        keys = [self.pool.submit(self.keygen, z.name) for z in signed]
        lame = [self.pool.submit(self.keygen, n) for n in self.extra_keys]
        for t in self.pending_tlsa:
            self.make_tlsa(*t)
        for name, h in self.bulk_tlsa:
            for t in h.tlsa:
                h.zone.add("_25._tcp." + name, "TLSA", t["text"])
        for name, h in self.bulk_bad_tlsa:
            for t in h.tlsa:
                text = f"{t['usage']} {t['selector']} {t['mtype']} {flip_hex(t['data'])}"
                h.zone.add("_25._tcp." + name, "TLSA", text)
        keys, lame = [k.result() for k in keys], [k.result() for k in lame]
        for z, (base, ds) in zip(signed, keys):
            z.key, z.ds = base, ds
        for (zname, parent, ns), (_, ds) in zip(self.lame_delegations, lame):
            p = self.zones[fqdn(parent)]
            p.add(zname, "NS", ns)
            p.records.extend(ds)
        files = {}
        # Children first so their DS records are in the parent when it is signed.
        for depth in sorted({z.name.count(".") for z in self.zones.values()}, reverse=True):
            level = [z for z in self.zones.values() if z.name.count(".") == depth
                     and z.name != "."]
            for z in level:
                self.delegate(z)
            for z, f in zip(level, self.pool.map(lambda z: self.sign(z, now), level)):
                files[z.name] = f
        files["."] = self.sign(self.zones["."], now)
        self.root_ds = self.zones["."].ds
        return files


# --- post-signing corruptions -------------------------------------------------------------

def edit_rdata(owner, rtype, old, new):
    """Changes rdata of a signed RR so that its RRSIG no longer matches."""
    def m(lines):
        out, hit = [], False
        for line in lines:
            f = line.split()
            if len(f) >= 5 and f[0] == owner and f[3] == rtype and " ".join(f[4:]) == old:
                line, hit = "\t".join(f[:4] + [new]), True
            out.append(line)
        if not hit:
            raise GenError(f"mutation: {owner} {rtype} {old} not found")
        return out
    return m


def break_rrsig(owner, covered):
    """Flips bits in the signature of the RRSIG covering owner/covered."""
    def m(lines):
        out, hit = [], False
        for line in lines:
            f = line.split()
            if len(f) >= 13 and f[0] == owner and f[3] == "RRSIG" and f[4] == covered:
                sig = "".join(f[12:])
                c = sig[10]
                sig = sig[:10] + ("B" if c != "B" else "C") + sig[11:]
                line, hit = "\t".join(f[:12] + [sig]), True
            out.append(line)
        if not hit:
            raise GenError(f"mutation: RRSIG {covered} at {owner} not found")
        return out
    return m


def flip_hex(h):
    last = h[-1]
    return h[:-1] + ("0" if last != "0" else "1")


# --- the scenarios ---------------------------------------------------------------------------

def scenarios(L):
    """Every scenario domain; names are a contract with the tests (README.md)."""
    C = L.certs

    def ee(domain, desc, usage_sel_mtype=(3, 1, 1), cert=None, starttls=True, **kw):
        _, d = L.domain(domain, desc)
        name = "mx." + domain
        cert = cert or C.selfsigned(name, name)
        h = L.host(name, cert, starttls=starttls, **kw)
        L.mx(domain, 10, h)
        L.tlsa(h, *usage_sel_mtype, cert)
        return h

    good_host = ee("ee-good.test", "DANE-EE 3 1 1 matching the served self-signed cert")
    good_host.sink.extensions = ["REQUIRETLS"]  # RFC 8689 (ee-301.test's sink has none)
    # MTA-STS and TLSRPT TXT records (issue 12), the second one in two strings; other TXT
    # records beside the STSv1 one are ignored (RFC 8461 §3.1).
    good = L.zone_of("ee-good.test")
    good.add("_mta-sts.ee-good.test", "TXT", '"v=STSv1; id=lab20261203;"')
    good.add("_mta-sts.ee-good.test", "TXT", '"v=spf1 -all"')
    good.add("_smtp._tls.ee-good.test", "TXT", '"v=TLSRPTv1; " "rua=mailto:tlsrpt@ee-good.test"')
    good.add("mta-sts.ee-good.test", "A", STS_POLICY_ADDRESS)  # sts_policy_lab_test.py serves

    L.domain("ee-badhex.test", "DANE-EE 3 1 1 whose digest has one hex digit changed")
    c = C.selfsigned("mx.ee-badhex.test", "mx.ee-badhex.test")
    h = L.host("mx.ee-badhex.test", c)
    L.mx("ee-badhex.test", 10, h)
    L.tlsa(h, 3, 1, 1, c, transform=flip_hex, note="last hex digit changed")

    ee("ee-301.test", "DANE-EE 3 0 1 (full certificate SHA-256)", (3, 0, 1))
    ee("ee-312.test", "DANE-EE 3 1 2 (SPKI SHA-512)", (3, 1, 2))
    ee("ee-wrongname.test", "DANE-EE 3 1 1 on a self-signed cert named wrong.example",
       cert=C.selfsigned("ee-wrongname", "wrong.example"))
    ee("ee-expired.test", "DANE-EE 3 1 1 on an expired self-signed cert",
       cert=C.expired_selfsigned("mx.ee-expired.test", "mx.ee-expired.test"))
    ee("no-starttls.test", "good 3 1 1 but the sink does not offer STARTTLS", starttls=False)
    ee("v6only.test", "MX host with only an AAAA record; good 3 1 1", v4=False)

    ca = C.ca

    def ta(domain, desc, leaf_name):
        _, d = L.domain(domain, desc)
        h = L.host("mx." + domain, C.ca_leaf("mx." + domain, leaf_name))
        L.mx(domain, 10, h)
        L.tlsa(h, 2, 1, 1, ca)

    ta("ta-good.test", "DANE-TA 2 1 1 of the lab CA; leaf named mx.ta-good.test + CA sent",
       "mx.ta-good.test")
    ta("ta-badname.test", "DANE-TA 2 1 1 of the lab CA; leaf named wrong.example",
       "wrong.example")
    ta("ta-nexthop.test", "DANE-TA 2 1 1 of the lab CA; leaf named after the recipient "
       "domain ta-nexthop.test (a valid reference identifier)", "ta-nexthop.test")

    # Unsigned domain: the TLSA record does not match, so using it would fail.
    L.domain("unsigned.test", "unsigned zone with MX and a non-matching TLSA", signed=False)
    h = L.host("mx.unsigned.test", C.selfsigned("mx.unsigned.test", "mx.unsigned.test"))
    L.mx("unsigned.test", 10, h)
    L.tlsa(h, 3, 1, 1, C.selfsigned("unsigned-other", "mx.unsigned.test"),
           note="digest of a key that is not served")

    L.zone("halfdane-target.test", True)
    L.domain("insecure-mx.test", "unsigned zone; MX to mx.halfdane-target.test (signed, "
             "good 3 1 1)", signed=False)
    c = C.selfsigned("mx.halfdane-target.test", "mx.halfdane-target.test")
    h = L.host("mx.halfdane-target.test", c)
    L.mx("insecure-mx.test", 10, h)
    L.tlsa(h, 3, 1, 1, c)

    z, d = L.domain("bogus-mx.test", "signed; MX rdata changed after signing (10 -> 20)")
    c = C.selfsigned("mx.bogus-mx.test", "mx.bogus-mx.test")
    h = L.host("mx.bogus-mx.test", c)
    L.mx("bogus-mx.test", 10, h)
    d["mx"][0]["preference"] = 20
    d["mx_dnssec"] = "bogus"
    L.tlsa(h, 3, 1, 1, c)
    z.mutations.append(edit_rdata("bogus-mx.test.", "MX", "10 mx.bogus-mx.test.",
                                  "20 mx.bogus-mx.test."))

    h = ee("bogus-tlsa.test", "signed; MX fine; the TLSA RRSIG is corrupted (the TLSA "
           "data itself matches)")
    h.tlsa_dnssec = "bogus"
    h.zone.mutations.append(break_rrsig("_25._tcp.mx.bogus-tlsa.test.", "TLSA"))

    _, d = L.domain("tlsa-unusable.test", "signed; only TLSA usages 0 and 1 (PKIX-TA/EE)")
    c = C.selfsigned("mx.tlsa-unusable.test", "mx.tlsa-unusable.test")
    h = L.host("mx.tlsa-unusable.test", c)
    L.mx("tlsa-unusable.test", 10, h)
    L.tlsa(h, 0, 0, 1, c, note="PKIX-TA: unusable for SMTP (RFC 7672 3.1.3)")
    L.tlsa(h, 1, 1, 1, c, note="PKIX-EE: unusable for SMTP (RFC 7672 3.1.3)")

    L.domain("two-mx.test", "MX 10 mx1 (TLSA of a cert not served), MX 20 mx2 (good)")
    h1 = L.host("mx1.two-mx.test", C.selfsigned("mx1.two-mx.test", "mx1.two-mx.test"))
    L.mx("two-mx.test", 10, h1)
    L.tlsa(h1, 3, 1, 1, C.selfsigned("mx1.two-mx.test-other", "mx1.two-mx.test"),
           note="digest of a key that is not served")
    c = C.selfsigned("mx2.two-mx.test", "mx2.two-mx.test")
    h2 = L.host("mx2.two-mx.test", c)
    L.mx("two-mx.test", 20, h2)
    L.tlsa(h2, 3, 1, 1, c)

    L.domain("two-equal.test", "MX 10 mx1 and MX 10 mx2, both with good 3 1 1")
    for name in ("mx1.two-equal.test", "mx2.two-equal.test"):
        c = C.selfsigned(name, name)
        h = L.host(name, c)
        L.mx("two-equal.test", 10, h)
        L.tlsa(h, 3, 1, 1, c)

    _, d = L.domain("rollover.test", "two 3 1 1 records: a next key not served, the "
                    "served key")
    c = C.selfsigned("mx.rollover.test", "mx.rollover.test")
    h = L.host("mx.rollover.test", c)
    L.mx("rollover.test", 10, h)
    L.tlsa(h, 3, 1, 1, C.selfsigned("rollover-next", "mx.rollover.test"),
           note="next key, not yet served")
    L.tlsa(h, 3, 1, 1, c, note="current key")

    z, d = L.domain("null-mx.test", "signed; MX 0 . (RFC 7505)")
    z.add("null-mx.test", "MX", "0 .")
    d["null_mx"] = True

    z, d = L.domain("no-mx.test", "signed; no MX; A/AAAA and TLSA at the domain itself")
    c = C.selfsigned("no-mx.test", "no-mx.test")
    h = L.host("no-mx.test", c)
    L.tlsa(h, 3, 1, 1, c)
    d["implicit_mx"] = h

    L.zone("cname-target.test", True)
    L.domain("cname-mx.test", "MX 10 mx.cname-mx.test, a CNAME to mail.cname-target.test "
             "(signed); TLSA only at the target")
    c = C.selfsigned("mail.cname-target.test", "mail.cname-target.test")
    h = L.host("mx.cname-mx.test", c, cname="mail.cname-target.test")
    L.mx("cname-mx.test", 10, h)
    L.tlsa(h, 3, 1, 1, c)

    h = ee("tlsa-servfail.test", "signed; _tcp.mx.tlsa-servfail.test is delegated (with DS) "
           "to 127.0.2.2, which refuses: TLSA lookup SERVFAILs")
    h.tlsa_dnssec = "servfail"
    L.pending_tlsa = [t for t in L.pending_tlsa if t[0] is not h]
    L.lame_delegations.append(("_tcp.mx.tlsa-servfail.test.", "tlsa-servfail.test", NS2))
    L.extra_keys.append("_tcp.mx.tlsa-servfail.test.")

    L.domain("nxdomain.test", "does not exist (secure NXDOMAIN from test.)", zone=False)

    L.zone("insecure-hosts.test", False)
    L.domain("insecure-addr.test", "signed; MX 10 mx.insecure-hosts.test whose zone is "
             "unsigned; that host has a non-matching TLSA which must be ignored")
    h = L.host("mx.insecure-hosts.test",
               C.selfsigned("mx.insecure-hosts.test", "mx.insecure-hosts.test"))
    L.mx("insecure-addr.test", 10, h)
    L.tlsa(h, 3, 1, 1, C.selfsigned("insecure-hosts-other", "mx.insecure-hosts.test"),
           note="digest of a key that is not served")

    L.domain("no-tlsa.test", "signed; MX host without TLSA records (secure NODATA)")
    h = L.host("mx.no-tlsa.test", C.selfsigned("mx.no-tlsa.test", "mx.no-tlsa.test"))
    L.mx("no-tlsa.test", 10, h)

    # DANE is fine in these; the sink refuses the mail (for relay tests).
    for domain, verb, reply in (
            ("rcpt-tempfail.test", "RCPT", "451 4.3.0 lab: recipient temporarily refused"),
            ("rcpt-reject.test", "RCPT", "550 5.1.1 lab: no such recipient"),
            ("data-tempfail.test", "DATA", "451 4.3.0 lab: message temporarily refused")):
        h = ee(domain, f"good 3 1 1; the sink answers {verb} with {reply[:3]}")
        h.sink.replies[verb] = reply

    h = ee("tlsa-timeout.test", "signed; _tcp.mx.tlsa-timeout.test is delegated (with DS) "
           "to 127.0.2.3, which never answers: the TLSA lookup times out")
    h.tlsa_dnssec = "timeout"
    L.pending_tlsa = [t for t in L.pending_tlsa if t[0] is not h]
    L.lame_delegations.append(("_tcp.mx.tlsa-timeout.test.", "tlsa-timeout.test", NS3))
    L.extra_keys.append("_tcp.mx.tlsa-timeout.test.")

    h = ee("starttls-refused.test", "good 3 1 1; STARTTLS is offered but answered with 454")
    h.sink.replies["STARTTLS"] = "454 4.7.0 lab: TLS not available"

    L.domain("anon-only.test", "signed; no TLSA; the sink offers only anonymous (aNULL) "
             "TLS 1.2 cipher suites")
    h = L.host("mx.anon-only.test", C.selfsigned("mx.anon-only.test", "mx.anon-only.test"))
    h.sink.ciphers = "aNULL:@SECLEVEL=0"
    L.mx("anon-only.test", 10, h)

    # Last, so that the sinks above keep their numbers (and addresses).
    L.domain("dual-key.test", "signed; the sink holds an ECDSA and an RSA certificate; TLSA "
             "3 1 1 of the ECDSA key only: a client offering only RSA signatures fails")
    c = C.selfsigned("mx.dual-key.test", "mx.dual-key.test")
    h = L.host("mx.dual-key.test", c)
    h.sink.second = C.selfsigned("mx.dual-key.test-rsa", "mx.dual-key.test",
                                 note="RSA certificate, no TLSA record", keyargs=RSA)
    L.mx("dual-key.test", 10, h)
    L.tlsa(h, 3, 1, 1, c, note="the ECDSA key; none for the RSA key")

    unreachable_scenario(L)
    sts_scenarios(L)


# An address in the lab netns where nothing listens: connections are refused at once.
UNREACHABLE_ADDRESS = "127.0.3.1"
STS_POLICY_ADDRESS = "127.0.4.1"  # the MTA-STS policy host of ee-good.test (HTTPS)


def unreachable_scenario(L):
    """nobody-home.test: signed MX 10 mx.nobody-home.test, whose signed A record is
    UNREACHABLE_ADDRESS, and no TLSA (secure NODATA). Kept out of L.domains, in the test. zone
    (no new zone, no new sink), so that no other scenario's list or numbers change; lab.json
    names it under "unreachable"."""
    t = L.zones[fqdn("test")]
    t.add("nobody-home.test", "MX", "10 mx.nobody-home.test.")
    t.add("mx.nobody-home.test", "A", UNREACHABLE_ADDRESS)
    L.unreachable = {"domain": "nobody-home.test", "mx": "mx.nobody-home.test",
                     "ipv4": UNREACHABLE_ADDRESS,
                     "description": "signed; MX host's address has no listener; no TLSA"}


# MTA-STS scenarios (issue 12): unsigned domains, as most MTA-STS domains are, each with its
# `_mta-sts` TXT record and mta-sts.<domain> at STS_POLICY_ADDRESS, where the test serves the
# policy (tests/integration/sts_delivery_lab_test.py) over HTTPS with the certificate below,
# issued by the lab CA (which the relay trusts through [tls] ca_file only in those tests).
# name -> (MX host certificate: "ca" = a lab-CA leaf for the MX name, "self" = self-signed).
STS_DOMAINS = {
    "sts-enforce.test": "ca",
    "sts-mismatch.test": "ca",
    "sts-badcert.test": "self",
    "sts-testing.test": "self",
}
STS_ID = "lab1"
TLSRPT_HTTPS_HOST = "reports.sts-enforce.test"
TLSRPT_HTTPS_URL = f"https://{TLSRPT_HTTPS_HOST}/v1/tlsrpt"


def sts_scenarios(L):
    """Kept out of L.domains (like nobody-home.test), so that no other scenario's list
    changes; lab.json names them under "sts"."""
    C = L.certs
    out = {"address": STS_POLICY_ADDRESS, "id": STS_ID, "ca": C.ca.cert, "domains": {}}
    names = [f"mta-sts.{d}" for d in [*STS_DOMAINS, "ee-good.test"]] + [TLSRPT_HTTPS_HOST]
    policy_cert = C.ca_leaf("mta-sts", names[0], "MTA-STS policy host", more=names[1:])
    for domain, kind in STS_DOMAINS.items():
        z = L.zone(domain, False)
        mx = "mx." + domain
        cert = C.ca_leaf(mx, mx) if kind == "ca" else C.selfsigned(mx, mx)
        h = L.host(mx, cert)
        if domain == "sts-enforce.test":
            h.sink.extensions = ["REQUIRETLS"]  # RFC 8689 over MTA-STS
        z.add(domain, "MX", f"10 {fqdn(mx)}")
        z.add("_mta-sts." + domain, "TXT", f'"v=STSv1; id={STS_ID};"')
        z.add("mta-sts." + domain, "A", STS_POLICY_ADDRESS)
        out["domains"][domain] = {"mx": mx, "sink": h.sink.name, "cert": kind}
    # TLSRPT by HTTPS POST (RFC 8460 §5.3.1), to the policy host's server.
    z = L.zone_of("sts-enforce.test")
    z.add("_smtp._tls.sts-enforce.test", "TXT", f'"v=TLSRPTv1; rua={TLSRPT_HTTPS_URL}"')
    z.add(TLSRPT_HTTPS_HOST, "A", STS_POLICY_ADDRESS)
    out["tlsrpt_url"] = TLSRPT_HTTPS_URL
    out["cert"], out["key"] = policy_cert.chain, policy_cert.key
    L.sts = out


def bulk_scenarios(L, n, nsinks=4):
    """n extra recipient domains dNNNN.bulk.test for scale tests: each has its own MX
    host mx.dNNNN.bulk.test (own A/AAAA/TLSA names, so every lookup is distinct),
    served round-robin by nsinks sinks with good 3 1 1 records. One signed zone."""
    z = L.zone("bulk.test", True)
    hosts = []
    for i in range(1, nsinks + 1):
        name = f"mx{i}.bulk.test"
        c = L.certs.selfsigned(name, name)
        h = L.host(name, c)
        L.tlsa(h, 3, 1, 1, c)
        hosts.append(h)
    width = max(4, len(str(n - 1)))
    domains = []
    for i in range(n):
        d = f"d{i:0{width}d}.bulk.test"
        h = hosts[i % nsinks]
        z.add(d, "MX", f"10 mx.{d}.")
        z.add("mx." + d, "A", h.sink.ipv4)
        z.add("mx." + d, "AAAA", h.sink.ipv6)
        L.bulk_tlsa.append(("mx." + d, h))
        domains.append(d)
    L.bulk = {"count": n, "zone": "bulk.test", "domains": domains,
              "mx": "mx.<domain>, served by sinks[i % len(sinks)] for domains[i]",
              "sinks": [h.sink.name for h in hosts]}


# The shapes of LAB_BULK_SHAPES=mixed, in turn: (shape, the survey category SPEC §11 gives it).
BULK_SHAPES = [("dane-good", "dane-verified"), ("dane-good", "dane-verified"),
               ("no-tlsa", "dnssec-no-dane"), ("dane-mismatch", "dane-failing"),
               ("unsigned", "no-dnssec")]


def bulk_mixed_scenarios(L, n, nsinks=4):
    """Like bulk_scenarios, but domain i takes shape BULK_SHAPES[i % 5]: good DANE (3 1 1
    matching), signed without TLSA (secure NODATA), TLSA that matches nothing (the served
    record with its hex flipped), or an unsigned zone bulk-unsigned.test (no DNSSEC)."""
    bulk_scenarios(L, 0, nsinks)
    hosts = [L.hosts[f"mx{i}.bulk.test"] for i in range(1, nsinks + 1)]
    signed, unsigned = L.zones[fqdn("bulk.test")], L.zone("bulk-unsigned.test", False)
    width = max(4, len(str(n - 1)))
    domains, shapes = [], {}
    for i in range(n):
        shape, category = BULK_SHAPES[i % len(BULK_SHAPES)]
        z, zname = (unsigned, "bulk-unsigned.test") if shape == "unsigned" else (signed,
                                                                                   "bulk.test")
        d = f"d{i:0{width}d}.{zname}"
        h = hosts[i % nsinks]
        z.add(d, "MX", f"10 mx.{d}.")
        z.add("mx." + d, "A", h.sink.ipv4)
        z.add("mx." + d, "AAAA", h.sink.ipv6)
        if shape == "dane-good":
            L.bulk_tlsa.append(("mx." + d, h))
        elif shape == "dane-mismatch":
            L.bulk_bad_tlsa.append(("mx." + d, h))
        domains.append(d)
        shapes[d] = {"shape": shape, "category": category}
    L.bulk.update({"count": n, "domains": domains, "shapes": shapes,
                   "zones": ["bulk.test", "bulk-unsigned.test"]})


# --- configuration files -------------------------------------------------------------------

NSD_CONF = """server:
    ip-address: {ip}
    port: 53
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    database: ""
    zonesdir: "{d}"
    zonelistfile: "{d}/{tag}.zonelist"
    xfrdfile: "{d}/{tag}.xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/{tag}.pid"
    logfile: "{d}/{tag}.log"
    verbosity: 1
    hide-version: yes
    reuseport: no
    # Debian's NSD limits responses to 200/s per client (RRL); every lab
    # query comes from 127.0.0.1, so scale tests would measure the limiter.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
"""

UNBOUND_CONF = """# libunbound / unbound configuration for the dane-relay lab: full recursion from
# the lab root (127.0.2.1), validating with the lab root key as the only anchor.
# No "directory:": libunbound would chdir() the calling process there.
server:
    verbosity: 0
    use-syslog: no
    logfile: ""
    chroot: ""
    username: ""
    pidfile: ""
    module-config: "validator iterator"
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    # The lab servers live on 127.0.0.0/8 (unbound refuses those by default).
    do-not-query-localhost: no
    # test. is a built-in local zone (RFC 6761) unless told otherwise.
    local-zone: "test." nodefault
    root-hints: "{d}/root.hints"
    trust-anchor-file: "{d}/root.ds"
    harden-dnssec-stripped: yes
    val-log-level: 2
    trust-anchor-signaling: no
    val-permissive-mode: no
    qname-minimisation: yes
    target-fetch-policy: "0 0 0 0 0"
"""


def write_confs(L, files):
    d = L.dnsdir
    with open(os.path.join(d, "nsd.conf"), "w") as f:
        f.write(NSD_CONF.format(ip=DNS_SERVER, d=d, tag="nsd"))
        for name, path in sorted(files.items()):
            f.write(f"zone:\n    name: \"{name}\"\n    zonefile: \"{path}\"\n")
    with open(os.path.join(d, "nsd-lame.conf"), "w") as f:
        f.write(NSD_CONF.format(ip=LAME_SERVER, d=d, tag="nsd-lame"))
    with open(os.path.join(d, "root.hints"), "w") as f:
        f.write(f".\t3600000\tNS\t{NS1}\n{NS1}\t3600000\tA\t{DNS_SERVER}\n")
    with open(os.path.join(d, "root.ds"), "w") as f:
        f.write("\n".join(L.root_ds) + "\n")
    conf = os.path.join(L.state, "unbound.conf")
    with open(conf, "w") as f:
        f.write(UNBOUND_CONF.format(d=d))
    with open(os.path.join(L.state, "sinks.json"), "w") as f:
        json.dump([s.config() for s in L.sinks.values()], f, indent=1)
    return conf


def lab_json(L, netns, conf):
    domains = {}
    for name, d in L.domains.items():
        e = dict(d)
        e["mx"] = [dict(m, **m["host"].summary(), preference=m["preference"])
                   for m in d["mx"]]
        e["implicit_mx"] = d["implicit_mx"].summary() if d["implicit_mx"] else None
        domains[name] = e
    return {
        "version": 1, "dir": L.state, "netns": netns, "unbound_conf": conf,
        "dns": {"server": DNS_SERVER, "lame_server": LAME_SERVER,
                "silent_server": SILENT_SERVER, "port": 53,
                "root_ds": L.root_ds, "root_ds_file": os.path.join(L.dnsdir, "root.ds"),
                "zones": {bare(z.name): {"signed": z.signed} for z in L.zones.values()}},
        "ca": L.certs.ca.summary(),
        "domains": domains,
        "hosts": {n: h.summary() for n, h in L.hosts.items()},
        "sinks": {n: s.summary() for n, s in L.sinks.items()},
        "bulk": L.bulk,
        "unreachable": L.unreachable,
        "sts": L.sts,
    }


def generate(state, netns, bulk=0):
    # Most of the time goes to starting openssl/ldns processes; run a few at once.
    with ThreadPoolExecutor(6) as pool:
        L = Lab(state, pool)
        L.certs.make_ca()
        scenarios(L)
        if bulk > 0 and os.environ.get("LAB_BULK_SHAPES") == "mixed":
            bulk_mixed_scenarios(L, bulk)
        elif bulk > 0:
            bulk_scenarios(L, bulk)
        files = L.build_dns()
        conf = write_confs(L, files)
        data = lab_json(L, netns, conf)
    with open(os.path.join(state, "lab.json"), "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    return data


if __name__ == "__main__":
    import sys
    import tempfile
    d = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="drlab-gen-")
    t = time.time()
    generate(d, "none")
    print(d, f"{time.time() - t:.2f}s")

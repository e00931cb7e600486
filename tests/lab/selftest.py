#!/usr/bin/python3
# Self-test of the lab, run inside it: `lab run -- /usr/bin/python3 selftest.py`.
# Checks that DNS validates as lab.json describes (through libunbound with the
# generated unbound.conf), that every sink answers, offers STARTTLS as described and
# presents the certificate lab.json names, and that messages land in the sink logs.
# Exit status 1 lists every failed check.
import hashlib
import json
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labgen  # noqa: E402
import ubquery  # noqa: E402

LAB = json.load(open(os.environ["LAB_JSON"]))
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL", what)
    return cond


# --- DNS ---------------------------------------------------------------------------------

def raw_query(server, qname, qtype, timeout=2.0):
    """(rcode, aa) of a plain UDP query, without any resolver in between."""
    q = b"\xab\xcd\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    for label in qname.strip(".").split(".") if qname != "." else []:
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + qtype.to_bytes(2, "big") + b"\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, (server, 53))
        r = s.recv(4096)
    return r[3] & 0x0F, bool(r[2] & 0x04)


def check_servers():
    rcode, aa = raw_query(LAB["dns"]["server"], ".", 6)
    check(rcode == 0 and aa, f"root SOA from {LAB['dns']['server']}: rcode {rcode} aa {aa}")
    rcode, _ = raw_query(LAB["dns"]["lame_server"], ".", 6)
    check(rcode == 5, f"lame server refuses: rcode {rcode}")
    try:
        raw_query(LAB["dns"]["silent_server"], ".", 6, timeout=0.3)
        check(False, "silent server answered")
    except socket.timeout:
        check(True, "silent server")


def check_contract(r):
    """The four facts the task names, hard-coded so a lab.json slip cannot hide them."""
    a = r.query("ee-good.test", "MX")
    check(a.status == "secure" and a.data == ["10 mx.ee-good.test."], f"ee-good.test MX: {a}")
    a = r.query("bogus-mx.test", "MX")
    check(a.status == "bogus", f"bogus-mx.test MX bogus: {a}")
    a = r.query("unsigned.test", "MX")
    check(a.status == "insecure" and a.havedata, f"unsigned.test MX insecure: {a}")
    a = r.query("nxdomain.test", "MX")
    check(a.nxdomain and a.status == "secure", f"nxdomain.test secure NXDOMAIN: {a}")


def expect(a, status, want, what):
    """status: secure|insecure|bogus|servfail|absent-secure|absent-insecure|nxdomain."""
    if status == "servfail":
        return check(a.rcode == "SERVFAIL", f"{what}: want SERVFAIL, got {a}")
    if status == "nxdomain":
        return check(a.nxdomain and a.status == "secure", f"{what}: want NXDOMAIN, got {a}")
    if status.startswith("absent-"):
        return check(a.status == status[7:] and not a.havedata and a.rcode != "SERVFAIL",
                     f"{what}: want no data ({status}), got {a}")
    return check(a.status == status and sorted(a.data) == sorted(want),
                 f"{what}: want {status} {sorted(want)}, got {a}")


def check_host(r, h):
    for qtype, key in (("A", "ipv4"), ("AAAA", "ipv6")):
        a = r.query(h["host"], qtype)
        status = h["addr_dnssec"] if h[key] else "absent-" + h["addr_dnssec"]
        expect(a, status, h[key], f"{h['host']} {qtype}")
        if h["cname"] and h[key]:
            check(a.canonname == h["cname"] + ".", f"{h['host']} CNAME: {a.canonname}")
    want = [f"{t['usage']} {t['selector']} {t['mtype']} {t['data']}" for t in h["tlsa"]]
    if h["tlsa_dnssec"] == "timeout":
        check_timeout(h["tlsa_name"])
        return
    expect(r.query(h["tlsa_name"], "TLSA"), h["tlsa_dnssec"], want, f"{h['tlsa_name']} TLSA")


def check_timeout(name, wait=1.0):
    """No answer within `wait` (libunbound gives SERVFAIL after ~15 s; not waited for)."""
    done = []

    def lookup():
        done.append(ubquery.Resolver(os.environ["LAB_UNBOUND_CONF"]).query(name, "TLSA"))
    threading.Thread(target=lookup, daemon=True).start()
    time.sleep(wait)
    check(not done, f"{name} TLSA: no answer within {wait}s, got {done}")


def check_dns():
    r = ubquery.Resolver(os.environ["LAB_UNBOUND_CONF"])
    check_contract(r)
    for name, d in sorted(LAB["domains"].items()):
        want = ["0 ."] if d["null_mx"] else [f"{m['preference']} {m['host']}." for m in d["mx"]]
        status = d["mx_dnssec"] if want or d["mx_dnssec"] in ("nxdomain",) \
            else "absent-" + d["mx_dnssec"]
        expect(r.query(name, "MX"), status, want, f"{name} MX")
        hosts = d["mx"] + ([d["implicit_mx"]] if d["implicit_mx"] else [])
        for h in hosts:
            check_host(r, h)
    bulk = LAB.get("bulk")
    for i in sorted({0, bulk["count"] // 2, bulk["count"] - 1}) if bulk else []:
        d = bulk["domains"][i]
        h = LAB["hosts"][bulk["sinks"][i % len(bulk["sinks"])]]
        expect(r.query(d, "MX"), "secure", [f"10 mx.{d}."], f"bulk {d} MX")
        expect(r.query("mx." + d, "A"), "secure", h["ipv4"], f"bulk mx.{d} A")
        expect(r.query("_25._tcp.mx." + d, "TLSA"), "secure",
               [t["text"] for t in h["tlsa"]], f"bulk mx.{d} TLSA")
    r.close()


# --- sinks -------------------------------------------------------------------------------

class Raw:
    """A minimal SMTP client that can set SNI and misbehave on purpose."""

    def __init__(self, addr):
        self.sock = socket.create_connection((addr, 25), timeout=5)
        self.f = self.sock.makefile("rb")

    def reply(self):
        lines = []
        while True:
            line = self.f.readline().decode().rstrip("\r\n")
            if not line:
                raise EOFError("connection closed")
            lines.append(line)
            if line[3:4] != "-":
                return int(line[:3]), [x[4:] for x in lines]

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def starttls(self, sni, ciphers=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if ciphers:
            ctx.set_ciphers(ciphers)
        self.f.close()
        self.sock = ctx.wrap_socket(self.sock, server_hostname=sni)
        self.f = self.sock.makefile("rb")

    def local_port(self):
        return self.sock.getsockname()[1]


def log_records(sink):
    path = LAB["sinks"][sink]["log"]
    with open(path) as f:  # created empty at sink start: missing is an error
        return [json.loads(line) for line in f]


def record_for(sink, port, wait=2.0):
    """The sink's log line for our connection from local port `port`."""
    deadline = time.time() + wait
    while True:
        for rec in log_records(sink):
            if rec["peer"][1] == port:
                return rec
        if time.time() > deadline:
            return None
        time.sleep(0.02)


def probe(name, s, addr):
    what = f"sink {name} at {addr}"
    c = Raw(addr)
    code, _ = c.reply()
    check(code == 220, f"{what}: greeting {code}")
    code, ext = c.cmd("EHLO probe.lab")
    check(code == 250, f"{what}: EHLO {code}")
    offered = "STARTTLS" in [e.upper() for e in ext]
    check(offered == s["starttls"], f"{what}: STARTTLS offered={offered}, lab.json "
          f"says {s['starttls']}")
    code, _ = c.cmd("STARTTLS")
    refusal = s["replies"].get("STARTTLS")
    if not s["starttls"]:
        check(code == 502, f"{what}: STARTTLS refused with 502, got {code}")
    elif refusal:
        check(code == int(refusal[:3]), f"{what}: STARTTLS refused with {refusal}, got {code}")
    else:
        check(code == 220, f"{what}: STARTTLS {code}")
        c.starttls(name, s.get("ciphers"))
        der = c.sock.getpeercert(binary_form=True)
        if s.get("ciphers"):  # anonymous suites only: no certificate, TLS 1.2
            check(der is None and c.sock.version() == "TLSv1.2"
                  and c.sock.cipher()[0].startswith(("ADH-", "AECDH-")),
                  f"{what}: anonymous TLS 1.2, got {c.sock.version()} {c.sock.cipher()}")
        else:
            check(hashlib.sha256(der).hexdigest() == s["cert_sha256"], f"{what}: cert sha256")
            spki = hashlib.sha256(labgen.spki_of(der)).hexdigest()
            check(spki == s["spki_sha256"], f"{what}: SPKI sha256")
        code, ext = c.cmd("EHLO probe2.lab")
        check(code == 250 and "STARTTLS" not in ext, f"{what}: EHLO after TLS {code} {ext}")
    port = c.local_port()
    code, _ = c.cmd("QUIT")
    check(code == 221, f"{what}: QUIT {code}")
    rec = record_for(name, port, wait=0)  # written before the 221
    if check(rec is not None, f"{what}: connection logged before 221"):
        check(rec["local"][0] == addr, f"{what}: local address {rec['local']}")
        tls = s["starttls"] and not refusal
        check(rec["tls"] == tls and rec["starttls"] == tls, f"{what}: logged tls {rec['tls']}")
        if tls:
            check(rec["sni"] == name and rec["ehlo"] == "probe2.lab"
                  and rec["helo_names"][0] == "probe.lab" and rec["tls_version"]
                  and rec["cipher"], f"{what}: logged sni/ehlo/tls: {rec}")


def check_chain(name, s):
    """DANE-TA sinks send leaf + CA (RFC 7672 3.1.2 needs the TA in the chain)."""
    p = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                        f"{s['ipv4']}:25", "-servername", name, "-showcerts"],
                       input=b"", capture_output=True, timeout=10)
    n = p.stdout.count(b"-----BEGIN CERTIFICATE-----")
    check(n == 2, f"sink {name}: chain of 2 certificates sent, got {n}")


def check_sinks():
    for name, s in sorted(LAB["sinks"].items()):
        check(os.path.isfile(s["log"]), f"sink {name}: log {s['log']} exists from the start")
        for addr in (s["ipv4"], s["ipv6"]):
            if addr:
                try:
                    probe(name, s, addr)
                except (OSError, EOFError, ssl.SSLError) as e:
                    check(False, f"sink {name} at {addr}: {e}")
        if s["chain"] != s["cert"]:
            check_chain(name, s)


# OpenSSL's own DANE code as a reference: does the sink's chain satisfy the host's
# TLSA records (RFC 7672: no name checks for DANE-EE; DANE-TA names = reference id)?
# host -> (reference name, verifies?, matched depth); hard-coded from the scenario table.
DANE_REFERENCE = {
    "mx.ee-good.test": ("mx.ee-good.test", True, 0),
    "mx.ee-badhex.test": ("mx.ee-badhex.test", False, None),
    "mx.ee-301.test": ("mx.ee-301.test", True, 0),
    "mx.ee-312.test": ("mx.ee-312.test", True, 0),
    "mx.ee-wrongname.test": ("mx.ee-wrongname.test", True, 0),
    "mx.ee-expired.test": ("mx.ee-expired.test", True, 0),
    "mx.no-starttls.test": None,  # nothing to handshake with
    "mx.v6only.test": ("mx.v6only.test", True, 0),
    "mx.ta-good.test": ("mx.ta-good.test", True, 1),
    "mx.ta-badname.test": ("mx.ta-badname.test", False, None),
    "mx.ta-nexthop.test": ("ta-nexthop.test", True, 1),
    "mx.halfdane-target.test": ("mx.halfdane-target.test", True, 0),
    "mx1.two-mx.test": ("mx1.two-mx.test", False, None),
    "mx2.two-mx.test": ("mx2.two-mx.test", True, 0),
    "mx1.two-equal.test": ("mx1.two-equal.test", True, 0),
    "mx2.two-equal.test": ("mx2.two-equal.test", True, 0),
    "mx.rollover.test": ("mx.rollover.test", True, 0),
    "no-mx.test": ("no-mx.test", True, 0),
    "mx.cname-mx.test": ("mail.cname-target.test", True, 0),
    "mx.bogus-tlsa.test": ("mx.bogus-tlsa.test", True, 0),  # data fine, RRSIG broken
    "mx.bogus-mx.test": ("mx.bogus-mx.test", True, 0),
    # Insecure TLSA records that must be ignored: they do not match, so a client that
    # wrongly used them would fail instead of delivering.
    "mx.unsigned.test": ("mx.unsigned.test", False, None),
    "mx.insecure-hosts.test": ("mx.insecure-hosts.test", False, None),
    "mx.rcpt-tempfail.test": ("mx.rcpt-tempfail.test", True, 0),
    "mx.rcpt-reject.test": ("mx.rcpt-reject.test", True, 0),
    "mx.data-tempfail.test": ("mx.data-tempfail.test", True, 0),
    "mx.starttls-refused.test": None,  # no handshake possible
}


def check_dane_reference():
    for host, ref in DANE_REFERENCE.items():
        h = LAB["hosts"][host]
        if ref is None:
            continue
        name, ok, depth = ref
        addr = (h["ipv4"] or h["ipv6"])[0]
        cmd = ["openssl", "s_client", "-brief", "-starttls", "smtp", "-connect",
               f"[{addr}]:25" if ":" in addr else f"{addr}:25", "-servername", name,
               "-dane_tlsa_domain", name, "-dane_ee_no_namechecks", "-verify_return_error"]
        for t in h["tlsa"]:
            cmd += ["-dane_tlsa_rrdata", t["text"]]
        p = subprocess.run(cmd, input=b"", capture_output=True, timeout=10)
        out = (p.stdout + p.stderr).decode(errors="replace")
        verified = p.returncode == 0 and "Verification: OK" in out
        check(verified == ok, f"openssl DANE {host}: verified={verified}, want {ok}: "
              f"{out[-300:]!r}")
        if ok and verified:
            check(f"certificate at depth {depth}" in out, f"openssl DANE {host}: depth {depth}")


def noverify():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


BODY = b"Subject: lab selftest\r\n\r\n.a line that starts with a dot\r\nend\r\n"


def send(sink, tls):
    s = LAB["sinks"][sink]
    with smtplib.SMTP(s["ipv4"], 25, local_hostname="selftest.lab", timeout=5) as c:
        if tls:
            c.starttls(context=noverify())
        c.sendmail("sender@lab.example", ["a@x.test", "b@y.test"], BODY)
        port = c.sock.getsockname()[1]
    return record_for(sink, port)


def check_messages():
    for sink, tls in (("mx.ee-good.test", True), ("mx.no-starttls.test", False)):
        rec = send(sink, tls)
        if not check(rec and len(rec["messages"]) == 1, f"{sink}: message logged: {rec}"):
            continue
        m = rec["messages"][0]
        check(m["tls"] is tls and rec["tls"] is tls, f"{sink}: message tls={m['tls']}")
        check(m["mail_from"] == "sender@lab.example" and m["rcpt_to"] ==
              ["a@x.test", "b@y.test"] and "size=" in m["mail_params"].lower(),
              f"{sink}: envelope {m}")
        check(m["sha256"] == hashlib.sha256(BODY).hexdigest() and m["size"] == len(BODY),
              f"{sink}: body sha256/size {m}")
        with open(m["body_file"], "rb") as f:
            check(f.read() == BODY, f"{sink}: body file content")


def check_resumption():
    """The sink resumes TLS sessions and logs it (SPEC: resume only under the same
    TLSA RRset and host, which our client must enforce, not the server)."""
    s = LAB["sinks"]["mx.ee-good.test"]
    ctx, session, recs = noverify(), None, []
    for _ in range(2):
        c = Raw(s["ipv4"])
        c.reply()
        c.cmd("EHLO resume.lab")
        c.cmd("STARTTLS")
        c.f.close()
        c.sock = ctx.wrap_socket(c.sock, server_hostname="mx.ee-good.test", session=session)
        c.f = c.sock.makefile("rb")
        c.cmd("EHLO resume.lab")  # TLS 1.3 tickets arrive after the handshake
        session = c.sock.session
        port = c.local_port()
        c.cmd("QUIT")
        recs.append(record_for("mx.ee-good.test", port))
    check(recs[0] and recs[0]["session_reused"] is False and recs[1]
          and recs[1]["session_reused"] is True, f"session resumption logged: {recs}")


def check_refusals():
    """Sinks with replaced replies refuse as lab.json says and still log the attempt."""
    for sink, err, code in (("mx.rcpt-tempfail.test", smtplib.SMTPRecipientsRefused, 451),
                            ("mx.rcpt-reject.test", smtplib.SMTPRecipientsRefused, 550),
                            ("mx.data-tempfail.test", smtplib.SMTPDataError, 451)):
        s = LAB["sinks"][sink]
        got = None
        with smtplib.SMTP(s["ipv4"], 25, timeout=5) as c:
            c.starttls(context=noverify())
            port = c.sock.getsockname()[1]
            try:
                c.sendmail("s@lab.example", ["r@lab.example"], BODY)
            except err as e:
                got = e
        codes = [v[0] for v in got.recipients.values()] if isinstance(
            got, smtplib.SMTPRecipientsRefused) else [got.smtp_code] if got else []
        check(codes == [code], f"{sink}: refused with {code}, got {codes}")
        rec = record_for(sink, port)
        if check(rec is not None, f"{sink}: logged"):
            if "rcpt" in sink:
                check(rec["messages"] == [] and rec["rcpt_refused"] == ["r@lab.example"],
                      f"{sink}: recipient refused, no message: {rec}")
            else:
                m = rec["messages"][0]
                check(not m["accepted"] and m["reply"].startswith("451"), f"{sink}: {m}")


def check_rude_clients():
    """Clients that vanish at every step; the sink must log them and keep serving."""
    s = LAB["sinks"]["mx.ee-good.test"]
    addr = s["ipv4"]
    ports = []
    for steps in ([], ["EHLO x"], ["EHLO x", "STARTTLS"], ["EHLO x", "MAIL FROM:<a@b>",
                                                         "RCPT TO:<c@d>", "DATA"]):
        c = Raw(addr)
        c.reply()
        for st in steps:
            c.cmd(st)
        ports.append(c.local_port())
        c.sock.sendall(b"half a li")
        c.sock.close()
    c = Raw(addr)  # garbage instead of a TLS ClientHello
    c.reply()
    c.cmd("EHLO x")
    c.cmd("STARTTLS")
    c.sock.sendall(b"this is not TLS\r\n" * 20)
    ports.append(c.local_port())
    try:
        c.f.read()
    except OSError:
        pass
    c.sock.close()
    for p in ports:
        rec = record_for("mx.ee-good.test", p)
        check(rec is not None and rec["ended_by"] != "quit", f"rude client {p} logged: {rec}")
    check(rec and rec["tls_error"], f"garbage handshake logged as tls_error: {rec}")
    # Two connections at once: both get a greeting before either says anything.
    a, b = Raw(addr), Raw(addr)
    check(b.reply()[0] == 220 and a.reply()[0] == 220, "two concurrent connections greeted")
    a.sock.close()
    b.sock.close()
    c = Raw(addr)
    check(c.reply()[0] == 220 and c.cmd("QUIT")[0] == 221, "sink still serves afterwards")


def main():
    t = time.time()
    for step in (check_servers, check_dns, check_sinks, check_dane_reference, check_messages,
                 check_resumption, check_refusals, check_rude_clients):
        t1 = time.time()
        step()
        print(f"{step.__name__}: {time.time() - t1:.2f}s")
    print(f"selftest: {checks} checks, {len(failures)} failed, {time.time() - t:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
# Validating lookups through libunbound (ctypes, stdlib only), the same library the
# engine uses, so the lab's unbound.conf is checked the way the engine reads it.
#   ubquery.py [-C unbound.conf] TYPE NAME...  prints status, rcode and data per name
#   Resolver(conf).query(name, "MX") -> Answer(status, rcode, data, why_bogus)
# status is secure | insecure | bogus; a failing ub_resolve raises UbError.
import ctypes
import ctypes.util
import os
import sys

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28,
         "DS": 43, "RRSIG": 46, "DNSKEY": 48, "TLSA": 52}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


class UbResult(ctypes.Structure):
    # struct ub_result from unbound.h (libunbound8)
    _fields_ = [("qname", ctypes.c_char_p), ("qtype", ctypes.c_int), ("qclass", ctypes.c_int),
                ("data", ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))),
                ("len", ctypes.POINTER(ctypes.c_int)), ("canonname", ctypes.c_char_p),
                ("rcode", ctypes.c_int), ("answer_packet", ctypes.c_void_p),
                ("answer_len", ctypes.c_int), ("havedata", ctypes.c_int),
                ("nxdomain", ctypes.c_int), ("secure", ctypes.c_int), ("bogus", ctypes.c_int),
                ("why_bogus", ctypes.c_char_p), ("was_ratelimited", ctypes.c_int),
                ("ttl", ctypes.c_int)]


class UbError(Exception):
    pass


class Answer:
    def __init__(self, r, qtype):
        self.rcode = RCODES.get(r.rcode, str(r.rcode))
        self.secure, self.bogus = bool(r.secure), bool(r.bogus)
        self.status = "bogus" if r.bogus else "secure" if r.secure else "insecure"
        self.nxdomain, self.havedata = bool(r.nxdomain), bool(r.havedata)
        self.why_bogus = r.why_bogus.decode() if r.why_bogus else None
        self.canonname = r.canonname.decode() if r.canonname else None
        self.raw = []
        i = 0
        while r.havedata and r.data[i]:
            self.raw.append(bytes(r.data[i][:r.len[i]]))
            i += 1
        self.data = [rdata_text(qtype, d) for d in self.raw]

    def __repr__(self):
        return (f"{self.status} {self.rcode}" + (" NXDOMAIN" if self.nxdomain else "") +
                (f" canon={self.canonname}" if self.canonname else "") +
                (f" why={self.why_bogus!r}" if self.why_bogus else "") + f" {self.data}")


def name_text(d, pos):
    labels = []
    while d[pos]:
        n = d[pos]
        labels.append(d[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    return ".".join(labels) + "."


def rdata_text(qtype, d):
    if qtype == TYPES["MX"]:
        return f"{int.from_bytes(d[:2], 'big')} {name_text(d, 2)}"
    if qtype == TYPES["A"]:
        return ".".join(str(b) for b in d)
    if qtype == TYPES["AAAA"]:
        import ipaddress
        return str(ipaddress.IPv6Address(d))
    if qtype == TYPES["TLSA"]:
        return f"{d[0]} {d[1]} {d[2]} {d[3:].hex()}"
    if qtype == TYPES["CNAME"]:
        return name_text(d, 0)
    return d.hex()


def load_lib():
    for name in ("libunbound.so.8", ctypes.util.find_library("unbound")):
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                pass
    raise UbError("libunbound not found (Debian package libunbound8)")


class Resolver:
    def __init__(self, conf=None):
        self.lib = lib = load_lib()
        lib.ub_ctx_create.restype = ctypes.c_void_p
        lib.ub_ctx_config.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.ub_resolve.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                   ctypes.c_int, ctypes.POINTER(ctypes.POINTER(UbResult))]
        lib.ub_resolve_free.argtypes = [ctypes.POINTER(UbResult)]
        lib.ub_strerror.restype = ctypes.c_char_p
        lib.ub_ctx_delete.argtypes = [ctypes.c_void_p]
        self.ctx = lib.ub_ctx_create()
        conf = conf or os.environ.get("LAB_UNBOUND_CONF")
        if not self.ctx:
            raise UbError("ub_ctx_create failed")
        if conf:
            err = lib.ub_ctx_config(self.ctx, conf.encode())
            if err:
                raise UbError(f"ub_ctx_config({conf}): {lib.ub_strerror(err).decode()}")

    def query(self, name, qtype):
        t = TYPES[qtype.upper()] if isinstance(qtype, str) else qtype
        res = ctypes.POINTER(UbResult)()
        err = self.lib.ub_resolve(self.ctx, name.encode(), t, 1, ctypes.byref(res))
        if err:
            raise UbError(f"ub_resolve({name}): {self.lib.ub_strerror(err).decode()}")
        try:
            return Answer(res.contents, t)
        finally:
            self.lib.ub_resolve_free(res)

    def close(self):
        if self.ctx:
            self.lib.ub_ctx_delete(self.ctx)
            self.ctx = None


def main(argv):
    conf = None
    if argv[:1] == ["-C"]:
        conf, argv = argv[1], argv[2:]
    if len(argv) < 2:
        print("usage: ubquery.py [-C unbound.conf] TYPE NAME...", file=sys.stderr)
        return 2
    r = Resolver(conf)
    for name in argv[1:]:
        print(name, argv[0].upper(), r.query(name, argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/python3
# A validating DNS stub resolver for programs that use the system resolver (Postfix):
# answers DNS queries over UDP and TCP on ADDR:53 from libunbound with the lab's
# unbound.conf, with the AD bit set exactly when libunbound says "secure", and
# SERVFAIL for bogus answers (as a validating resolver does). Point a process at it
# with a resolv.conf "nameserver ADDR" + "options trust-ad" (glibc drops AD otherwise).
#   ubstub.py [-C unbound.conf] ADDR READY_FILE   (runs until SIGTERM)
# READY_FILE is written once both sockets listen. Stdlib + ubquery.py only.
import ctypes
import os
import signal
import socket
import socketserver
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ubquery  # noqa: E402

_lock = threading.Lock()  # one ub_ctx, used from the UDP loop and the TCP threads


def question(msg):
    """(qname, qtype, end of the question section) of a query, or None."""
    if len(msg) < 12 or int.from_bytes(msg[4:6], "big") != 1:
        return None
    pos, labels = 12, []
    while pos < len(msg) and msg[pos]:
        n = msg[pos]
        if n > 63:
            return None
        labels.append(msg[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    if pos + 5 > len(msg):
        return None
    return ".".join(labels) + ".", int.from_bytes(msg[pos + 1:pos + 3], "big"), pos + 5


def servfail(msg, qend):
    flags = 0x8080 | (msg[2] & 0x01) << 8 | 2  # QR, RD copied, RA, SERVFAIL
    return msg[:2] + flags.to_bytes(2, "big") + b"\x00\x01\x00\x00\x00\x00\x00\x00" + msg[12:qend]


QUERIES = {}  # (name, type) -> count, printed at SIGTERM when UBSTUB_STATS is set
CACHE = {}  # (lowercase name, type) -> (expiry, reply packet or None), TTL at most 60 s


def answer(resolver, msg):
    """The reply to a query: from the stub's own cache (a synchronous ub_resolve sets up a
    libunbound worker per call, about a millisecond), else from libunbound."""
    q = question(msg)
    if q is None:
        return None
    name, qtype, qend = q
    QUERIES[(name, qtype)] = QUERIES.get((name, qtype), 0) + 1
    key = (name.lower(), qtype)
    hit = CACHE.get(key)
    if hit is None or hit[0] < time.monotonic():
        hit = CACHE[key] = resolve(resolver, name, qtype)
    pkt = hit[1]
    if pkt is None:
        return servfail(msg, qend)
    pkt = bytearray(pkt)
    pkt[0:2] = msg[0:2]
    pkt[2] = (pkt[2] & 0xFE) | (msg[2] & 0x01)  # RD as asked
    return bytes(pkt)


def resolve(resolver, name, qtype):
    """(expiry, reply packet with QR, RA, and AD iff secure; None for SERVFAIL)."""
    res = ctypes.POINTER(ubquery.UbResult)()
    with _lock:
        err = resolver.lib.ub_resolve(resolver.ctx, name.encode(), qtype, 1, ctypes.byref(res))
    if err:
        return time.monotonic() + 1, None
    try:
        r = res.contents
        if r.bogus or not r.answer_packet or r.answer_len < 12:
            return time.monotonic() + 1, None
        pkt = bytearray(ctypes.string_at(r.answer_packet, r.answer_len))
        secure, ttl = bool(r.secure), max(0, min(r.ttl, 60))
    finally:
        resolver.lib.ub_resolve_free(res)
    pkt[2] = 0x80 | (pkt[2] & 0x7E)  # QR, opcode/AA/TC kept
    pkt[3] = 0x80 | (0x20 if secure else 0) | (pkt[3] & 0x0F)  # RA, AD iff secure, rcode
    return time.monotonic() + ttl, bytes(pkt)


def udp_limit(msg):
    """The client's EDNS UDP size (an OPT record in the additional section), else 512."""
    return 1232 if int.from_bytes(msg[10:12], "big") else 512


def truncated(msg, qend):
    flags = 0x8280 | (msg[2] & 0x01) << 8  # QR, TC, RD copied, RA
    return msg[:2] + flags.to_bytes(2, "big") + b"\x00\x01\x00\x00\x00\x00\x00\x00" + msg[12:qend]


class TcpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            head = self.request.recv(2, socket.MSG_WAITALL)
            if len(head) < 2:
                return
            msg = self.request.recv(int.from_bytes(head, "big"), socket.MSG_WAITALL)
            reply = answer(self.server.resolver, msg)
            if reply is None:
                return
            self.request.sendall(len(reply).to_bytes(2, "big") + reply)


def serve_udp(sock, resolver):
    while True:
        msg, peer = sock.recvfrom(4096)
        reply = answer(resolver, msg)
        if reply is None:
            continue
        if len(reply) > udp_limit(msg):
            reply = truncated(msg, question(msg)[2])
        sock.sendto(reply, peer)


def stats_and_exit():
    if os.environ.get("UBSTUB_STATS"):
        top = sorted(QUERIES.items(), key=lambda kv: -kv[1])[:15]
        print(f"ubstub: {sum(QUERIES.values())} queries", top, file=sys.stderr, flush=True)
    os._exit(0)


def main(argv):
    conf = None
    if argv[:1] == ["-C"]:
        conf, argv = argv[1], argv[2:]
    if len(argv) != 2:
        print("usage: ubstub.py [-C unbound.conf] ADDR READY_FILE", file=sys.stderr)
        return 2
    addr, ready = argv
    resolver = ubquery.Resolver(conf)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((addr, 53))
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    tcp = socketserver.ThreadingTCPServer((addr, 53), TcpHandler)
    tcp.daemon_threads = True
    tcp.resolver = resolver
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: stats_and_exit())
    with open(ready, "w") as f:
        f.write(f"{os.getpid()}\n")
    serve_udp(udp, resolver)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

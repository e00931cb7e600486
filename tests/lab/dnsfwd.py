#!/usr/bin/python3
# A plain DNS forwarder for the lab (what a network's resolver looks like to a relay that
# cannot reach the root servers): relays each query over UDP and TCP from ADDR:53 to
# UPSTREAM:53 (the lab's NSD) and the reply back, and logs "NAME TYPE" per query to LOG.
#   dnsfwd.py MODE ADDR UPSTREAM LOG READY_FILE   (runs until SIGTERM)
# MODE says what it does to the DNSSEC records (RFC 4035 §3.2.1: no DO bit, no RRSIG):
#   plain       pass them through; clear the AD bit of every reply
#   strip       clear the DO bit of every query (the answers come without RRSIGs)
#               and set the AD bit of every reply, as a lying, stripping resolver would
#   strip-below same as strip, except for the root's own names ("."), which pass as plain
# READY_FILE is written once both sockets listen. Stdlib only.
import os
import signal
import socket
import socketserver
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ubstub import question  # noqa: E402

MODES = ("plain", "strip", "strip-below")
_log_lock = threading.Lock()


def opt_do_offset(msg, qend):
    """The offset of the byte holding the DO bit of the query's OPT record, or None."""
    if int.from_bytes(msg[6:10], "big") != 0 or int.from_bytes(msg[10:12], "big") != 1:
        return None  # a query has no answer or authority records; OPT is the one extra
    if len(msg) < qend + 11 or msg[qend] != 0 or int.from_bytes(msg[qend + 1:qend + 3], "big") != 41:
        return None
    return qend + 7  # root name, TYPE, CLASS, then TTL = ext-rcode, version, DO|Z


class Forwarder:
    def __init__(self, mode, upstream, log):
        self.mode, self.upstream, self.log = mode, upstream, log

    def query(self, msg):
        """The query as sent upstream and whether its reply must claim AD, or None."""
        q = question(msg)
        if q is None:
            return None
        name, qtype, qend = q
        with _log_lock, open(self.log, "a") as f:
            f.write(f"{name} {qtype}\n")
        strip = self.mode == "strip" or (self.mode == "strip-below" and name != ".")
        out = bytearray(msg)
        at = opt_do_offset(msg, qend)
        if strip and at is not None:
            out[at] &= 0x7F
        return bytes(out), strip

    @staticmethod
    def reply(pkt, claim_ad):
        out = bytearray(pkt)
        if len(out) >= 4:
            out[3] = (out[3] | 0x20) if claim_ad else (out[3] & ~0x20 & 0xFF)
        return bytes(out)

    def over_udp(self, msg):
        fwd = self.query(msg)
        if fwd is None:
            return None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            s.sendto(fwd[0], (self.upstream, 53))
            try:
                return self.reply(s.recv(65535), fwd[1])
            except OSError:
                return None

    def over_tcp(self, msg):
        fwd = self.query(msg)
        if fwd is None:
            return None
        with socket.create_connection((self.upstream, 53), timeout=3) as s:
            s.sendall(len(fwd[0]).to_bytes(2, "big") + fwd[0])
            head = s.recv(2, socket.MSG_WAITALL)
            if len(head) < 2:
                return None
            return self.reply(s.recv(int.from_bytes(head, "big"), socket.MSG_WAITALL), fwd[1])


class TcpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            head = self.request.recv(2, socket.MSG_WAITALL)
            if len(head) < 2:
                return
            reply = self.server.fwd.over_tcp(
                self.request.recv(int.from_bytes(head, "big"), socket.MSG_WAITALL))
            if reply is None:
                return
            self.request.sendall(len(reply).to_bytes(2, "big") + reply)


def serve_udp(sock, fwd):
    def one(msg, peer):
        reply = fwd.over_udp(msg)
        if reply is not None:
            sock.sendto(reply, peer)
    while True:
        msg, peer = sock.recvfrom(4096)
        threading.Thread(target=one, args=(msg, peer), daemon=True).start()


def main(argv):
    if len(argv) != 5 or argv[0] not in MODES:
        print("usage: dnsfwd.py plain|strip|strip-below ADDR UPSTREAM LOG READY_FILE",
              file=sys.stderr)
        return 2
    mode, addr, upstream, log, ready = argv
    fwd = Forwarder(mode, upstream, log)
    open(log, "a").close()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((addr, 53))
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    tcp = socketserver.ThreadingTCPServer((addr, 53), TcpHandler)
    tcp.daemon_threads = True
    tcp.fwd = fwd
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    with open(ready, "w") as f:
        f.write(f"{os.getpid()}\n")
    serve_udp(udp, fwd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

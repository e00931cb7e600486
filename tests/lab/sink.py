#!/usr/bin/python3
# SMTP sinks of the lab: one process serving every sink of sinks.json, each on
# its own addresses (port 25), one thread per connection, STARTTLS per sink.
# Usage: sink.py SINKS_JSON READY_FILE [SILENT_DNS_ADDR...]. Each connection
# becomes one JSON line in the sink's log (written before the 221 reply to
# QUIT, or at disconnect); the log is created empty before READY_FILE is
# written. Bodies go to <msgdir>/<conn>-<n>.eml. A sink's
# "replies" may replace the STARTTLS, MAIL, RCPT or DATA (end of data) reply;
# "ciphers" limits it to TLS 1.2 and those OpenSSL cipher suites.
# The silent addresses get DNS sockets that never answer. Startup failures exit
# non-zero.
import hashlib
import itertools
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time

MAX_LINE = 8192  # command lines; longer ones get 500
MAX_BODY = 64 * 1024 * 1024
IDLE_TIMEOUT = 120
_ids = itertools.count(1)
_sni = threading.local()  # the SNI callback runs in the connection's thread


class Closed(Exception):
    """The client went away (EOF, reset, timeout)."""


class Conn:
    def __init__(self, sink, sock, peer):
        self.sink, self.sock = sink, sock
        self.buf = b""
        local = sock.getsockname()
        self.rec = {
            "sink": sink["name"], "id": f"{os.getpid()}-{next(_ids)}",
            "start": time.time(), "peer": [peer[0], peer[1]],
            "local": [local[0], local[1]], "starttls": False, "tls": False,
            "tls_version": None, "cipher": None, "sni": None, "tls_error": None,
            "ehlo": None, "helo_names": [], "commands": [], "messages": [], "rcpt_refused": [],
            "buffered_after_starttls": False, "session_reused": None, "end": None, "ended_by": None,
        }

    # I/O
    def send(self, text):
        try:
            self.sock.sendall(text.encode() + b"\r\n")
        except OSError as e:
            raise Closed(str(e))

    def readline(self, limit=MAX_LINE):
        while b"\n" not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("line too long")
            try:
                chunk = self.sock.recv(65536)
            except (OSError, ssl.SSLError) as e:
                raise Closed(str(e))
            if not chunk:
                raise Closed("eof")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    # protocol
    def run(self):
        self.send(f"220 {self.sink['hostname']} ESMTP dane-relay lab sink")
        tx = None
        while True:
            try:
                line = self.readline()
            except ValueError:
                self.buf = b""
                self.send("500 5.5.2 Line too long")
                continue
            text = line.decode("utf-8", "replace")
            verb = text.split(" ", 1)[0].upper()
            arg = text[len(verb):].strip()
            self.rec["commands"].append(verb)
            if verb in ("EHLO", "HELO"):
                tx = None
                self.hello(verb, arg)
            elif verb == "STARTTLS":
                if not self.sink["starttls"] or self.rec["tls"]:
                    self.send("502 5.5.1 STARTTLS not available")
                    continue
                if "STARTTLS" in self.sink["replies"]:  # offered, but refused
                    self.send(self.sink["replies"]["STARTTLS"])
                    continue
                if not self.starttls():
                    return
                tx = None
            elif verb == "MAIL":
                path, params = split_path(arg, "FROM:")
                tx = {"mail_from": path, "mail_params": params, "rcpt_to": [],
                      "rcpt_params": []}
                self.send(self.sink["replies"].get("MAIL", "250 2.1.0 Ok"))
            elif verb == "RCPT":
                if tx is None:
                    self.send("503 5.5.1 MAIL first")
                    continue
                path, params = split_path(arg, "TO:")
                reply = self.sink["replies"].get("RCPT", "250 2.1.5 Ok")
                if reply.startswith("2"):
                    tx["rcpt_to"].append(path)
                    tx["rcpt_params"].append(params)
                else:
                    self.rec["rcpt_refused"].append(path)
                self.send(reply)
            elif verb == "DATA":
                if not tx or not tx["rcpt_to"]:
                    self.send("503 5.5.1 RCPT first")
                    continue
                self.send("354 End data with <CR><LF>.<CR><LF>")
                self.data(tx)
                tx = None
            elif verb == "RSET":
                tx = None
                self.send("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.send("250 2.0.0 Ok")
            elif verb == "VRFY":
                self.send("252 2.0.0 Send some mail, I'll try my best")
            elif verb == "QUIT":
                self.rec["ended_by"] = "quit"
                self.finish()  # the record exists before the client sees 221
                self.send("221 2.0.0 Bye")
                return
            else:
                self.send("502 5.5.2 Command not recognized")

    def hello(self, verb, arg):
        self.rec["ehlo"] = arg
        self.rec["helo_names"].append(arg)
        if verb == "HELO":
            self.send(f"250 {self.sink['hostname']}")
            return
        ext = ["PIPELINING", f"SIZE {MAX_BODY}", "8BITMIME", "ENHANCEDSTATUSCODES"]
        if self.sink["starttls"] and not self.rec["tls"]:
            ext.append("STARTTLS")
        if self.rec["tls"]:
            ext += self.sink.get("extensions", [])
        lines = [self.sink["hostname"]] + ext
        # One write for the whole reply: separate small writes meet Nagle + delayed ACK.
        self.send("\r\n".join(("250 " if i == len(lines) - 1 else "250-") + e
                               for i, e in enumerate(lines)))

    def starttls(self):
        self.rec["starttls"] = True
        # RFC 3207 section 4: anything pipelined after STARTTLS is discarded.
        self.rec["buffered_after_starttls"] = bool(self.buf)
        self.buf = b""
        self.send("220 2.0.0 Ready to start TLS")
        _sni.name = None
        try:
            self.sock = self.sink["ctx"].wrap_socket(self.sock, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.rec["tls_error"] = str(e)
            self.rec["sni"] = _sni.name
            self.rec["ended_by"] = "tls-handshake-failed"
            return False
        self.rec["sni"] = _sni.name
        self.rec["tls"] = True
        self.rec["tls_version"] = self.sock.version()
        self.rec["cipher"] = self.sock.cipher()[0]
        self.rec["session_reused"] = self.sock.session_reused
        self.rec["helo_names"].append(None)  # marks the TLS boundary
        self.rec["ehlo"] = None
        return True

    def data(self, tx):
        body, size = [], 0
        while True:
            line = self.readline(limit=MAX_BODY)
            if line == b".":
                break
            if line.startswith(b"."):
                line = line[1:]  # RFC 5321 4.5.2 dot-stuffing
            size += len(line) + 2
            if size <= MAX_BODY:
                body.append(line + b"\r\n")
        raw = b"".join(body)
        n = len(self.rec["messages"]) + 1
        path = os.path.join(self.sink["msgdir"], f"{self.rec['id']}-{n}.eml")
        with open(path, "wb") as f:
            f.write(raw)
        reply = self.sink["replies"].get("DATA", f"250 2.0.0 Ok: queued as {self.rec['id']}-{n}")
        tx.update({"size": size, "sha256": hashlib.sha256(raw).hexdigest(),
                   "body_file": path, "tls": self.rec["tls"],
                   "tls_version": self.rec["tls_version"], "time": time.time(),
                   "reply": reply, "accepted": reply.startswith("2")})
        self.rec["messages"].append(tx)
        self.send(reply)

    def finish(self):
        if self.rec["end"] is not None:
            return
        self.rec["end"] = time.time()
        line = json.dumps(self.rec, sort_keys=True) + "\n"
        with self.sink["lock"]:
            with open(self.sink["log"], "a") as f:
                f.write(line)


def split_path(arg, prefix):
    """'FROM:<a@b> SIZE=1' -> ('a@b', 'SIZE=1'); the address without angle brackets."""
    if arg[:len(prefix)].upper() == prefix:
        arg = arg[len(prefix):].lstrip()
    if arg.startswith("<") and ">" in arg:
        path, _, params = arg[1:].partition(">")
        return path, params.strip()
    path, _, params = arg.partition(" ")
    return path, params.strip()


def serve_conn(sink, sock, peer):
    conn = Conn(sink, sock, peer)
    try:
        sock.settimeout(IDLE_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.run()
    except Closed as e:
        conn.rec["ended_by"] = conn.rec["ended_by"] or "client-closed: " + str(e)
    except Exception as e:  # a sink must outlive any client
        conn.rec["ended_by"] = f"error: {type(e).__name__}: {e}"
    finally:
        try:
            conn.finish()
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass


def accept_loop(sink, lsock):
    while True:
        sock, peer = lsock.accept()
        threading.Thread(target=serve_conn, args=(sink, sock, peer), daemon=True).start()


def remember_sni(sslobj, name, ctx):
    _sni.name = name


def make_ctx(sink):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sink["chain"], sink["key"])
    if sink.get("second"):  # a certificate of the other key type (RSA beside ECDSA)
        ctx.load_cert_chain(*sink["second"])
    if sink.get("ciphers"):  # e.g. only anonymous suites: TLS 1.2, "aNULL:@SECLEVEL=0"
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(sink["ciphers"])
    ctx.sni_callback = remember_sni
    return ctx


def listen(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    return s


def black_hole(addr):
    """UDP and TCP port 53 that never answer: queries time out instead of failing
    fast (no ICMP unreachable, TCP connects but stays silent)."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((addr, 53))
    t = listen(addr, 53)
    return u, t


def main():
    with open(sys.argv[1]) as f:
        sinks = json.load(f)
    main.silent = [black_hole(a) for a in sys.argv[3:]]  # kept open until exit
    threads = []
    for sink in sinks:
        os.makedirs(sink["msgdir"], exist_ok=True)
        # The log exists (empty) from the start: a missing log then means a
        # sink that never started or a wrong path, never "no mail yet".
        open(sink["log"], "a").close()
        sink["lock"] = threading.Lock()
        sink.setdefault("replies", {})
        sink["ctx"] = make_ctx(sink)
        for addr in sink["addrs"]:
            s = listen(addr, sink["port"])
            threads.append(threading.Thread(target=accept_loop, args=(sink, s), daemon=True))
    for t in threads:
        t.start()
    with open(sys.argv[2], "w") as f:
        f.write(f"{os.getpid()}\n")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The Prometheus page (SPEC §10) through the real daemon in the lab: one
message to every scenario domain of scenarios.py (and the bounce notices that
follow), then the page at [metrics] listen is scraped, must pass `promtool
check metrics`, and every figure must equal what the relay's own records say:

- dane_relay_messages_accepted_total: the cleanup "message-id=" lines;
- dane_relay_deliveries_total{status}: the smtp delivery lines by status, and
  {status,tls}: the recipients of the JSON evidence by status and the TLS
  level of their connection ("none" without TLS);
- dane_relay_tls_connections_total{level}: the "<Level> TLS connection
  established" lines;
- dane_relay_tls_sessions_resumed_total: the connections whose evidence says
  "session_reused";
- dane_relay_dns_lookups_total{type,security}: the MX, A, AAAA and TLSA
  lookups of the JSON evidence by DNSSEC status;
- dane_relay_queue_messages: the files in the spool's queue/;
- dane_relay_delivery_seconds: one observation per sent or bounced line, the
  sum close to their delay= values.

Also: other paths give 404, a SIGHUP keeps the page where it is (and says
so), and a busy [metrics] port stops the start with a clear message."""
import collections
import concurrent.futures
import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from relaylab import BINARY, Relay
from scenarios import DELIVERY

PORT = 9190
URL = f"http://127.0.0.1:{PORT}/metrics"
METRICS = f'[metrics]\nlisten = "127.0.0.1:{PORT}"\n'
TLS_LINE = re.compile(r"dane-relay/smtp\[\d+\]: (Verified|Trusted|Untrusted|Anonymous) TLS "
                      r"connection established to ")
DELIVERY_LINE = re.compile(r"dane-relay/smtp\[\d+\]: [0-9A-Z]+: to=<(?P<rcpt>[^>]*)>, .*"
                           r"delay=(?P<delay>[\d.]+), .*status=(?P<status>sent|deferred|bounced) ")
ACCEPTED_LINE = re.compile(r"dane-relay/cleanup\[\d+\]: [0-9A-Z]+: message-id=<")
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(\{(?P<labels>.*)\})? (?P<value>\S+)$")


def send(rcpt):
    with smtplib.SMTP("127.0.0.1", 10025, timeout=60) as s:
        s.sendmail("sender@relay.test", [rcpt],
                   f"From: sender@relay.test\r\nTo: {rcpt}\r\nSubject: metrics\r\n\r\nhi\r\n")


def scrape(path="/metrics"):
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=10) as r:
        return r.headers.get("Content-Type"), r.read().decode()


def parse(page):
    """(name, frozenset of label pairs) -> value, for every sample line."""
    out = {}
    for line in page.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group("labels") or ""))
        out[(m.group("name"), labels)] = float(m.group("value"))
    return out


def by(samples, name, *keys):
    """The samples of `name` keyed by the values of the labels `keys`, zeros left out."""
    out = {}
    for (n, labels), v in samples.items():
        if n == name and v:
            d = dict(labels)
            out[tuple(d[k] for k in keys)] = int(v)
    return out


def from_records(relay):
    """What the log and the JSON evidence say, in the page's terms."""
    lines = relay.lines()
    want = {"accepted": sum(bool(ACCEPTED_LINE.search(l)) for l in lines),
            "tls": dict(collections.Counter((m.group(1),) for l in lines
                                            if (m := TLS_LINE.search(l)))),
            "status": collections.Counter(), "final": [], "deliveries": collections.Counter(),
            "dns": collections.Counter(), "resumed": 0}
    for l in lines:
        if m := DELIVERY_LINE.search(l):
            want["status"][(m.group("status"),)] += 1
            if m.group("status") != "deferred":
                want["final"].append(float(m.group("delay")))
    with open(relay.evidence) as f:
        for attempt in map(json.loads, f):
            for r in attempt["recipients"]:
                want["deliveries"][(r["status"], r["tls"] or "none")] += 1
            want["resumed"] += sum(1 for c in attempt["connections"]
                                   if c["tls"] and c["tls"].get("session_reused"))
            if attempt["mx"] is not None:
                want["dns"][("MX", attempt["mx"]["security"])] += 1
            for h in attempt["hosts"]:
                want["dns"][("A", h["a"]["security"])] += 1
                want["dns"][("AAAA", h["aaaa"]["security"])] += 1
                for t in h["tlsa"]:
                    want["dns"][("TLSA", t["security"])] += 1
    for k in ("status", "deliveries", "dns"):
        want[k] = dict(want[k])
    return want


def from_page(samples):
    return {"accepted": int(samples[("dane_relay_messages_accepted_total", frozenset())]),
            "tls": by(samples, "dane_relay_tls_connections_total", "level"),
            "status": {(s,): sum(v for (st, _), v in
                                 by(samples, "dane_relay_deliveries_total", "status", "tls").items()
                                 if st == s)
                       for s in ("sent", "deferred", "bounced")},
            "deliveries": by(samples, "dane_relay_deliveries_total", "status", "tls"),
            "dns": by(samples, "dane_relay_dns_lookups_total", "type", "security"),
            "resumed": int(samples[("dane_relay_tls_sessions_resumed_total", frozenset())])}


class MetricsLab(unittest.TestCase):
    def test_page_equals_the_log(self):
        relay = Relay(backoff="1h", extra=METRICS)
        rcpts = [f"user@{d}" for d in DELIVERY]
        try:
            relay.wait_for(r"metrics at http://127\.0\.0\.1:9190/metrics")
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                list(pool.map(send, rcpts))
            bounces = sum(1 for s, _ in DELIVERY.values() if s == "bounced")
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                done = [m.group("rcpt") for l in relay.lines() if (m := DELIVERY_LINE.search(l))]
                if set(done) >= set(rcpts) and done.count("sender@relay.test") >= bounces:
                    break
                relay.check_running()
                time.sleep(0.2)
            # The counter is bumped just after its line is written: read until both agree
            # (or they never do, and the last pair is the failure).
            deadline = time.monotonic() + 20
            while True:
                content_type, page = scrape()
                samples = parse(page)
                want, got = from_records(relay), from_page(samples)
                want_status = {k: v for k, v in want["status"].items()}
                keys = ("accepted", "tls", "deliveries", "dns", "resumed")
                if ({k: got[k] for k in keys} == {k: want[k] for k in keys} and
                        got["status"] == {(s,): want_status.get((s,), 0)
                                          for s in ("sent", "deferred", "bounced")}) or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            with open(os.path.join(relay.dir, "metrics.txt"), "w") as f:
                f.write(page)  # for a look afterwards
            self.check_promtool(page)
            self.assertEqual(content_type, "text/plain; version=0.0.4; charset=utf-8")
            self.assertEqual(got["accepted"], len(rcpts))
            self.assertEqual(got["accepted"], want["accepted"])
            self.assertEqual(got["status"], {(s,): want["status"].get((s,), 0)
                                             for s in ("sent", "deferred", "bounced")})
            self.assertEqual(got["deliveries"], want["deliveries"])
            self.assertEqual(got["tls"], want["tls"])
            self.assertEqual(got["dns"], want["dns"])
            self.assertEqual(got["resumed"], want["resumed"])  # SPEC §5.6, the evidence's count
            # Each level and security the scenarios produce shows up (not just zeros).
            self.assertGreaterEqual(set(got["tls"]), {("Verified",), ("Trusted",), ("Untrusted",),
                                                      ("Anonymous",)})
            self.assertGreaterEqual({s for _, s in got["dns"]}, {"secure", "insecure", "bogus"})
            self.check_queue_and_latency(relay, samples, want)
            self.check_process(samples, relay.proc.pid)
            self.check_resumption(relay)
            with self.assertRaises(urllib.error.HTTPError) as e:
                scrape("/")
            self.assertEqual(e.exception.code, 404)
            # SIGHUP does not move the page (it was bound as root); the log says so.
            relay.write_conf(extra=f'[metrics]\nlisten = "127.0.0.1:{PORT + 1}"\n')
            relay.proc.send_signal(signal.SIGHUP)
            relay.wait_for(r"warning: \[metrics\] listen changed: used from the next start")
            self.assertIn("dane_relay_queue_messages", scrape()[1])
        finally:
            self.assertEqual(relay.stop(), 0)

    def check_resumption(self, relay):
        """SPEC §5.6 end to end: one more message to ee-good.test, whose first connection
        has ended, resumes its TLS session; the page counts it as the evidence does."""
        send("again@ee-good.test")
        deadline = time.monotonic() + 30
        while not any((m := DELIVERY_LINE.search(l)) and m.group("rcpt") == "again@ee-good.test"
                      for l in relay.lines()):
            self.assertLess(time.monotonic(), deadline, "again@ee-good.test not delivered")
            relay.check_running()
            time.sleep(0.2)
        while True:
            got, want = from_page(parse(scrape()[1]))["resumed"], from_records(relay)["resumed"]
            if got == want and got >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertGreaterEqual(want, 1, "the second connection to mx.ee-good.test resumed")
        self.assertEqual(got, want)

    def check_promtool(self, page):
        p = subprocess.run(["promtool", "check", "metrics"], input=page, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + "\n" + page)
        self.assertEqual(p.stdout + p.stderr, "", "no lint complaints")

    def check_queue_and_latency(self, relay, samples, want):
        queue = os.listdir(os.path.join(relay.options["spool"], "queue"))
        self.assertEqual(samples[("dane_relay_queue_messages", frozenset())], len(queue))
        self.assertGreater(len(queue), 0, "the deferred messages wait (1 h backoff)")
        count = samples[("dane_relay_delivery_seconds_count", frozenset())]
        self.assertEqual(count, len(want["final"]))
        self.assertEqual(samples[("dane_relay_delivery_seconds_bucket",
                                  frozenset({("le", "+Inf")}))], count)
        total = samples[("dane_relay_delivery_seconds_sum", frozenset())]
        # delay= keeps two significant digits below 10 s, whole seconds above.
        logged = sum(want["final"])
        self.assertLessEqual(abs(total - logged), 0.1 * logged + 0.01 * count + 0.05,
                             (total, logged))

    def check_process(self, samples, pid):
        get = lambda n: samples[(n, frozenset())]
        self.assertGreater(get("process_resident_memory_bytes"), 1 << 20)
        # The page was rendered with the scrape's own connection open.
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        self.assertTrue(fds <= get("process_open_fds") <= fds + 2, (get("process_open_fds"), fds))
        self.assertLess(abs(get("process_start_time_seconds") - time.time()), 300)
        self.assertGreater(get("process_cpu_seconds_total"), 0)

    def test_busy_port_is_a_clear_startup_error(self):
        with socket.socket() as busy:
            busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            busy.bind(("127.0.0.1", PORT))
            busy.listen()
            relay = Relay(extra=METRICS, start=False)
            p = subprocess.run([BINARY, "serve", "-c", relay.conf], capture_output=True,
                               text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(f"dane-relay serve: cannot listen for metrics on 127.0.0.1:{PORT}: "
                      "Address already in use", p.stderr)
        self.assertFalse(any("daemon started" in l for l in relay.lines()))


if __name__ == "__main__":
    unittest.main()

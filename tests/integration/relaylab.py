"""Shared by the lab tests of `dane-relay serve`: a relay with its own
config, spool and log in a temporary folder, started inside the lab (the
tests run under `tests/lab/lab run`, which exports LAB_UNBOUND_CONF and
LAB_JSON), and the lab's sink records."""
import atexit
import json
import os
import re
import shutil
import signal
import smtplib
import ssl
import subprocess
import tempfile
import time

BINARY = os.environ.get("DANE_RELAY", "build/relay/dane-relay")


def remove_at_exit(path):
    """Deletes `path` when the test process ends, unless something is still mounted below it
    (a test's file system that its own clean-up did not get to: left for `lab gc`)."""
    def remove():
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        if not any(m == path or m.startswith(path + "/") for m in mounts):
            shutil.rmtree(path, ignore_errors=True)
    atexit.register(remove)


class Relay:
    """`start=False` leaves the config to be adjusted before start()."""

    def __init__(self, extra="", allowed='["127.0.0.1/32"]', lifetime="1h", backoff="1s",
                 max_backoff=None, user="", spool=None, start=True, server="", queue=""):
        """`server` and `queue`: more lines for those sections; `extra`: more sections."""
        self.dir = tempfile.mkdtemp(prefix="dr-serve-")
        remove_at_exit(self.dir)
        self.log = os.path.join(self.dir, "maillog")
        self.conf = os.path.join(self.dir, "relay.toml")
        self.evidence = os.path.join(self.dir, "evidence.jsonl")
        self.options = dict(allowed=allowed, lifetime=lifetime, backoff=backoff,
                            max_backoff=max_backoff or ("2s" if backoff == "1s" else backoff),
                            user=user, spool=spool or os.path.join(self.dir, "spool"),
                            extra=extra, server=server, queue=queue)
        self.write_conf()
        self.proc = None
        self.preexec = None  # runs in the child before exec (e.g. resource limits)
        self.env = {}  # more environment variables for the child (e.g. LD_PRELOAD)
        self.starts = 0
        if start:
            self.start()

    def write_conf(self, **changes):
        self.options.update(changes)
        o = self.options
        with open(self.conf, "w") as f:
            f.write(f"""[server]
listen = ["127.0.0.1:10025"]
allowed_clients = {o['allowed']}
hostname = "relay.test"
user = "{o['user']}"
max_connections_per_client = 1000
{o['server']}
[spool]
dir = "{o['spool']}"
[queue]
minimal_backoff = "{o['backoff']}"
maximal_backoff = "{o['max_backoff']}"
maximal_queue_lifetime = "{o['lifetime']}"
{o['queue']}
[dns]
unbound_conf = "{os.environ['LAB_UNBOUND_CONF']}"
query_timeout = "5s"
[log]
target = "file:{self.log}"
json = "{self.evidence}"
{o['extra']}
""")

    def start(self):
        """Starts the daemon and waits for its "daemon started" line."""
        self.starts += 1
        with open(os.path.join(self.dir, "stderr"), "a") as err:
            self.proc = subprocess.Popen([BINARY, "serve", "-c", self.conf], stdout=err,
                                         stderr=err, preexec_fn=self.preexec,
                                         env=dict(os.environ, **self.env))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if sum("daemon started" in l for l in self.lines()) >= self.starts:
                return self.proc
            self.check_running()
            time.sleep(0.02)
        raise AssertionError("relay did not start:\n" + "\n".join(self.lines()))

    def check_running(self):
        if self.proc.poll() is not None:
            with open(os.path.join(self.dir, "stderr")) as f:
                raise AssertionError(f"relay exited: {f.read()}")

    def lines(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return f.read().splitlines()

    def wait_for(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in self.lines():
                if rx.search(line):
                    return line
            self.check_running()
            time.sleep(0.1)
        raise AssertionError(f"no log line matching {pattern!r}:\n" + "\n".join(self.lines()))

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


def lab():
    with open(os.environ["LAB_JSON"]) as f:
        return json.load(f)


def sink_records(lab_json, sink):
    """Every connection record the lab's sink wrote (tests/lab/README.md).
    The sink creates its log empty at start, so an empty list means "no
    connection yet"; an unknown sink or a missing or unreadable log raises
    AssertionError (a sink that never started is not a sink that got nothing)."""
    if sink not in lab_json["sinks"]:
        raise AssertionError(f"no sink {sink!r} in lab.json")
    path = lab_json["sinks"][sink]["log"]
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except OSError as e:
        raise AssertionError(f"sink {sink}: cannot read its log {path}: {e}") from e


def received(lab_json, rcpt):
    """The messages any sink accepted for `rcpt`, each with its "sink" name."""
    return [dict(m, sink=sink) for sink in lab_json["sinks"] for r in sink_records(lab_json, sink)
            for m in r["messages"] if m.get("accepted") and rcpt in m["rcpt_to"]]


def plaintext_to_dane_hosts(lab_json):
    """Messages that reached a host with a secure, usable TLSA RRset without
    TLS (RFC 7672 §2.2 says: never). Returns (host, recipients) pairs."""
    bad = []
    for name, host in lab_json["hosts"].items():
        if host.get("tlsa_dnssec") != "secure":
            continue
        if not any(t["usage"] in (2, 3) for t in host.get("tlsa", [])):
            continue
        for rec in sink_records(lab_json, host["sink"]):
            bad += [(name, m["rcpt_to"]) for m in rec["messages"] if not m["tls"]]
    return bad


def delivered_certificates(evidence_path):
    """recipient -> SHA-256 of the certificate of the connection that took it,
    from the relay's [log] json evidence."""
    out = {}
    with open(evidence_path) as f:
        for line in f:
            attempt = json.loads(line)
            certs = {c["relay"]: (c["tls"] or {}).get("peer_cert_sha256")
                     for c in attempt["connections"]}
            for r in attempt["recipients"]:
                if r["status"] == "sent":
                    out[r["recipient"]] = certs.get(r["relay"])
    return out


def check_scenario_outcomes(tc, relay, lab_json, expected, sender):
    """For a test that sent one message to user@<domain> for every domain in
    `expected` (domain -> (status, dsn)): our first verdict per domain, and
    what the sinks got: each delivered message once, over TLS, with the lab
    host's own certificate (from the JSON evidence), nothing for the others,
    and never plaintext to a DANE host."""
    verdicts = {}
    for line in relay.lines():
        m = re.search(r"dane-relay/smtp\[\d+\]: \w+: to=<user@([^>]+)>.*dsn=([\d.]+), "
                      r"status=(\w+)", line)
        if m:
            verdicts.setdefault(m.group(1), (m.group(3), m.group(2)))
    tc.assertEqual(verdicts, expected)
    tc.assertEqual(plaintext_to_dane_hosts(lab_json), [])
    certs = delivered_certificates(relay.evidence)
    for domain, (status, _) in expected.items():
        with tc.subTest(domain=domain):
            got = received(lab_json, f"user@{domain}")
            if status != "sent":
                tc.assertEqual(got, [])
                continue
            tc.assertEqual(len(got), 1)
            tc.assertTrue(got[0]["tls"])
            tc.assertEqual(got[0]["mail_from"], sender)
            host = [h for h in lab_json["hosts"].values() if h["sink"] == got[0]["sink"]][0]
            anonymous = lab_json["sinks"][got[0]["sink"]].get("ciphers")  # no certificate
            tc.assertEqual(certs.get(f"user@{domain}"), "" if anonymous else host["cert_sha256"])


def server_cert(directory):
    """A self-signed P-256 certificate for the relay's STARTTLS: (cert, key) paths."""
    cert, key = (os.path.join(directory, n) for n in ("cert.pem", "key.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                    "/CN=relay.test", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def starttls_session(source=None):
    """smtplib to the relay (from `source`, an address), after STARTTLS and a second EHLO;
    the relay's certificate is not checked."""
    s = smtplib.SMTP("127.0.0.1", 10025, timeout=30,
                     source_address=(source, 0) if source else None)
    s.ehlo("client.test")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s.starttls(context=ctx)
    s.ehlo("client.test")
    return s

#!/usr/bin/python3
"""`dane-relay serve` end to end inside the lab: swaks (a real SMTP client)
hands mail to the relay, which delivers it to the lab's sinks with DANE.

Asserts per scenario what the sinks received (over TLS, with the right
certificate) or did not receive, the Postfix-format log lines, pflogsumm's
counts against our own ground truth, access control, expiry, SIGHUP and
SIGTERM. Expected outcomes come from RFC 7672 and Postfix's behaviour.
"""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

import relaylab
from relaylab import BINARY, Relay, sink_records

# recipient domain -> (status, dsn, TLS level logged for the connection or None)
EXPECTED = {
    "ee-good.test": ("sent", "2.0.0", "Verified"),
    "ta-good.test": ("sent", "2.0.0", "Verified"),
    "cname-mx.test": ("sent", "2.0.0", "Verified"),
    "two-mx.test": ("sent", "2.0.0", "Verified"),
    "insecure-mx.test": ("sent", "2.0.0", "Trusted"),
    "unsigned.test": ("sent", "2.0.0", "Untrusted"),
    "ee-badhex.test": ("deferred", "4.7.5", None),
    "no-starttls.test": ("deferred", "4.7.4", None),
    "bogus-mx.test": ("deferred", "4.4.3", None),
    "null-mx.test": ("bounced", "5.1.10", None),
    "nxdomain.test": ("bounced", "5.4.4", None),
    "rcpt-reject.test": ("bounced", "5.1.1", None),
}

NOBODY = int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout)

LINE = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d relay\.test dane-relay/(\w+)\[\d+\]: (.*)$")
DELIVERY = re.compile(
    r"^(?P<qid>[0-9A-Z]{10,16}): to=<(?P<rcpt>[^>]*)>, relay=(?P<relay>\S+), "
    r"(conn_use=\d+, )?delay=(?P<delay>[\d.]+), delays=(?P<a>[\d.]+)/[\d.]+/[\d.]+/[\d.]+, "
    r"(tls=(?P<tls>dane|verify|encrypt|may(/none)?|none|[a-z-]+\?), )?"
    r"dsn=(?P<dsn>\d\.\d{1,3}\.\d{1,3}), status=(?P<status>sent|deferred|bounced) \((?P<text>.*)\)$")


# ee-good.test "down": the policy table sends it to a port where nothing listens.
DOWN = '[policy.domains]\n"ee-good.test" = { level = "dane", nexthop = "[mx.ee-good.test]:2526" }\n'


def deliveries(relay):
    """The smtp delivery lines of the relay's log, parsed, in log order; "line"
    is the line's index in relay.lines()."""
    out = []
    for i, line in enumerate(relay.lines()):
        m = LINE.match(line)
        d = DELIVERY.match(m.group(2)) if m and m.group(1) == "smtp" else None
        if d:
            out.append(dict(d.groupdict(), line=i))
    return out


def attempts(relay, rcpt):
    """The delivery lines for one recipient, in log order."""
    return [d for d in deliveries(relay) if d["rcpt"] == rcpt]


def wait_attempts(relay, rcpt, n, timeout=30):
    """Waits for at least n delivery lines for rcpt and returns them all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = attempts(relay, rcpt)
        if len(got) >= n:
            return got
        relay.check_running()
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} delivery lines for <{rcpt}>:\n" + "\n".join(relay.lines()))


def line_index(relay, pattern, nth=0):
    """Index in relay.lines() of the nth (from 0) line matching pattern."""
    found = [i for i, l in enumerate(relay.lines()) if re.search(pattern, l)]
    if len(found) <= nth:
        raise AssertionError(f"no line #{nth} matching {pattern!r}:\n" + "\n".join(relay.lines()))
    return found[nth]


def received_qid(message):
    """The queue ID our Received: header gave the message a sink got."""
    with open(message["body_file"], errors="replace") as f:
        m = re.search(r"\bid ([0-9A-Z]{10,16})\b", f.read())
    return m.group(1) if m else None


def swaks(to, *extra, server="127.0.0.1:10025"):
    return subprocess.run(["swaks", "--server", server, "--from", "sender@relay.test", "--to", to,
                           "--h-Subject", f"test for {to}", *extra],
                          capture_output=True, text=True, timeout=60)


class ServeLab(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.environ["LAB_JSON"]) as f:
            cls.lab = json.load(f)

    def sink_records(self, sink):
        return sink_records(self.lab, sink)

    def test_scenarios_logs_and_pflogsumm(self):
        # Debian 12's pflogsumm (1.1.5) predates Postfix 3.11's tls= field and counts no
        # delivery line that has it: Postfix's smtp_log_tls_feature_status = no.
        # (lab_log_order reads the field, which is on by default.)
        relay = Relay(extra="tls_feature_status = false\n")
        try:
            for domain in EXPECTED:
                p = swaks(f"user@{domain}")
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertRegex(p.stdout, r"<[-~]  250 2\.0\.0 Ok: queued as [0-9A-Z]{10,16}")
            for domain in EXPECTED:
                relay.wait_for(rf"to=<user@{re.escape(domain)}>")
            # Each bounce sends a notice back to sender@relay.test; wait for their fate too.
            bounces = sum(1 for v in EXPECTED.values() if v[0] == "bounced")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and sum(
                    "to=<sender@relay.test>" in l for l in relay.lines()) < bounces:
                time.sleep(0.1)
            # The deferred ones must have been retried at least once: a second
            # delivery line for the same queue ID, later in the log, that waited in
            # the deferred queue (Postfix's delays "a") for the 1 s backoff.
            for domain, (status, dsn, _) in EXPECTED.items():
                if status != "deferred":
                    continue
                with self.subTest(retry=domain):
                    first, retry = wait_attempts(relay, f"user@{domain}", 2, 15)[:2]
                    self.assertEqual(retry["qid"], first["qid"])
                    self.assertEqual((retry["status"], retry["dsn"]), ("deferred", dsn), retry)
                    self.check_was_a_retry(first, retry)
        finally:
            self.assertEqual(relay.stop(), 0, "SIGTERM: clean exit")
        lines = relay.lines()
        for line in lines:
            self.assertRegex(line, LINE, "every line in Postfix's syslog format")
            self.assertNotIn(", tls=", line, "[log] tls_feature_status = false")
        first = {}
        for d in deliveries(relay):
            first.setdefault(d["rcpt"].split("@")[1], d)
        for domain, (status, dsn, level) in EXPECTED.items():
            with self.subTest(domain=domain):
                d = first[domain]
                self.assertEqual((d["status"], d["dsn"]), (status, dsn), d)
                if level:
                    host = d["relay"].split("[")[0]
                    self.assertTrue(any(f"{level} TLS connection established to {host}[" in l
                                        for l in lines), f"{level} TLS line for {host}")
                    self.check_sink_got_it(domain, host)
        self.assertEqual(relaylab.plaintext_to_dane_hosts(self.lab), [])
        self.check_pflogsumm(relay)
        self.check_evidence(relay)

    def check_evidence(self, relay):
        # SPEC §6: one JSON line per delivery attempt with the DANE evidence.
        with open(relay.evidence) as f:
            attempts = [json.loads(line) for line in f]
        first = {}
        for a in attempts:
            first.setdefault(a["domain"], a)
        self.assertLessEqual(set(EXPECTED), set(first))  # plus relay.test: the notices
        good = first["ee-good.test"]
        self.assertEqual(good["mx"]["security"], "secure")
        self.assertEqual(good["hosts"][0]["tlsa"][0]["security"], "secure")
        tls = good["connections"][-1]["tls"]
        self.assertEqual(tls["trust"], "Verified")
        self.assertTrue(tls["matched"]["record"].startswith("3 1 1 "))
        self.assertEqual(tls["matched"]["depth"], 0)
        host = self.lab["hosts"][good["hosts"][0]["name"]]
        self.assertEqual(tls["peer_cert_sha256"], host["cert_sha256"])
        self.assertEqual(good["recipients"][0]["status"], "sent")
        bad = first["ee-badhex.test"]
        self.assertEqual(bad["connections"][0]["tls"]["failure"]["reason"],
                         "Server certificate not verified")
        self.assertEqual(bad["recipients"][0]["status"], "deferred")
        half = first["insecure-mx.test"]
        self.assertEqual(half["mx"]["security"], "insecure")
        self.assertEqual(half["connections"][-1]["tls"]["trust"], "Trusted")

    def check_was_a_retry(self, earlier, later, backoff=1.0):
        """`later` is a later attempt than `earlier` for the same message: after
        it in the log, older (delay since arrival) and, unlike a first attempt,
        taken from the deferred queue after at least the backoff (delays "a")."""
        self.assertGreater(later["line"], earlier["line"])
        self.assertGreater(float(later["delay"]), float(earlier["delay"]), (earlier, later))
        self.assertGreaterEqual(float(later["a"]), backoff, later)

    def check_sink_got_it(self, domain, host):
        sink = self.lab["hosts"][host]["sink"] if host in self.lab["hosts"] else host
        got = [m for r in self.sink_records(sink) for m in r["messages"]
               if f"user@{domain}" in m["rcpt_to"]]
        self.assertEqual(len(got), 1, f"{sink} received the message once")
        self.assertTrue(got[0]["tls"], "over TLS")
        self.assertEqual(got[0]["mail_from"], "sender@relay.test")

    def check_pflogsumm(self, relay):
        p = subprocess.run(["pflogsumm", "--syslog-name=dane-relay", relay.log],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)

        def count(label):
            m = re.search(rf"^\s*(\d+)\s+{label}\b", p.stdout, re.M)
            self.assertIsNotNone(m, f"pflogsumm has no '{label}' line:\n{p.stdout[:800]}")
            return int(m.group(1))
        want = {s: sum(1 for v in EXPECTED.values() if v[0] == s)
                for s in ("sent", "deferred", "bounced")}
        self.assertEqual(count("received"), len(EXPECTED))
        self.assertEqual(count("delivered"), want["sent"])
        self.assertEqual(count("deferred"), want["deferred"])
        # Each bounce sends a notice to sender@relay.test, a name the lab does not
        # have: the notices bounce as well (and, null sender, get no notice).
        self.assertEqual(count("bounced"), 2 * want["bounced"])

    def test_bounce_reaches_the_sender(self):
        relay = Relay()
        try:
            p = subprocess.run(["swaks", "--server", "127.0.0.1:10025", "--from",
                                "sender@ee-good.test", "--to",
                                "user@null-mx.test,user@rcpt-reject.test"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout)
            line = relay.wait_for(r"sender non-delivery notification: [0-9A-Z]{10,16}")
            qid = line.rsplit(" ", 1)[1]
            relay.wait_for(rf"{qid}: to=<sender@ee-good\.test>, .*status=sent")
            # A bounce of a bounce is never sent (RFC 3464 §2, RFC 5321 §4.5.5).
            p = subprocess.run(["swaks", "--server", "127.0.0.1:10025", "--from", "<>",
                                "--to", "other@null-mx.test"], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout)
            relay.wait_for(r"no non-delivery notification: null sender")
        finally:
            relay.stop()
        notices = [m for r in self.sink_records("mx.ee-good.test") for m in r["messages"]
                   if m["mail_from"] == "" and "sender@ee-good.test" in m["rcpt_to"]]
        self.assertEqual(len(notices), 1)
        self.assertTrue(notices[0]["tls"])
        with open(notices[0]["body_file"]) as f:
            body = f.read()
        self.assertIn("multipart/report; report-type=delivery-status", body)
        self.assertIn("Final-Recipient: rfc822; user@null-mx.test", body)
        self.assertIn("Status: 5.1.10", body)
        self.assertIn("Action: failed", body)
        # RFC 3464 §2.3.5-6: the remote MTA and its reply, as Postfix reports them; our own
        # verdict (null MX) has no Remote-MTA and an X-Postfix diagnostic.
        reports = body.replace("\r\n", "\n").split("\nFinal-Recipient: ")
        null_mx = [r for r in reports if r.startswith("rfc822; user@null-mx.test")][0]
        rejected = [r for r in reports if r.startswith("rfc822; user@rcpt-reject.test")][0]
        self.assertNotIn("Remote-MTA:", null_mx.split("\n\n")[0])
        self.assertIn("Diagnostic-Code: X-Postfix; Domain null-mx.test does not accept mail "
                      "(nullMX)", null_mx)
        self.assertIn("\nRemote-MTA: dns; mx.rcpt-reject.test\n", rejected)
        self.assertIn("\nDiagnostic-Code: smtp; 550 5.1.1 lab: no such recipient\n", rejected)
        self.assertIn("<user@rcpt-reject.test>: host mx.rcpt-reject.test said: 550 5.1.1 lab: "
                      "no such recipient", " ".join(body.split()))  # wrapped at 76 columns

    def test_destination_down_then_up_gets_its_mail_on_a_retry(self):
        # "Down" (DOWN), then "up": SIGHUP with the entry removed; the retry delivers.
        relay = Relay(extra=DOWN)
        try:
            self.assertEqual(swaks("retry@ee-good.test").returncode, 0)
            line = relay.wait_for(r"to=<retry@ee-good\.test>.*status=deferred")
            self.assertIn("dsn=4.4.1", line)
            self.assertIn("Connection refused", line)
            relay.write_conf(extra="")
            relay.proc.send_signal(signal.SIGHUP)
            relay.wait_for(r"reload -- version")
            relay.wait_for(r"to=<retry@ee-good\.test>.*status=sent", 30)
        finally:
            self.assertEqual(relay.stop(), 0)
        tries = attempts(relay, "retry@ee-good.test")
        first, last = tries[0], tries[-1]
        # Deferred (once, or more if a retry came before the SIGHUP), then sent
        # once, all one message; the sent line is a retry made after the reload.
        self.assertEqual([d["status"] for d in tries], ["deferred"] * (len(tries) - 1) + ["sent"],
                         tries)
        self.assertEqual({d["qid"] for d in tries}, {first["qid"]})
        self.assertEqual({d["dsn"] for d in tries[:-1]}, {"4.4.1"})
        self.assertGreater(last["line"], line_index(relay, r"reload -- version"))
        self.check_was_a_retry(first, last)
        # The JSON evidence has the same attempts: one per line, the last one sent.
        with open(relay.evidence) as f:
            evidence = [r for a in map(json.loads, f) for r in a["recipients"]
                        if r["recipient"] == "retry@ee-good.test"]
        self.assertEqual([(r["queue_id"], r["status"]) for r in evidence],
                         [(d["qid"], d["status"]) for d in tries])
        got = [m for r in self.sink_records("mx.ee-good.test") for m in r["messages"]
               if "retry@ee-good.test" in m["rcpt_to"]]
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0]["tls"])
        self.assertEqual(received_qid(got[0]), first["qid"])

    def test_queue_admin_on_the_running_daemon(self):
        relay = Relay(backoff="1h")  # only a flush retries

        def queue(*args):
            return subprocess.run([BINARY, "queue", "-c", relay.conf, *args],
                                  capture_output=True, text=True, timeout=30)
        try:
            self.assertEqual(swaks("admin@no-starttls.test").returncode, 0)
            line = relay.wait_for(r"to=<admin@no-starttls\.test>.*status=deferred")
            qid = line.split(": ")[1]
            p = queue("list")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(qid, p.stdout)
            self.assertIn("TLS is required, but was not offered", p.stdout)
            self.assertEqual(queue("hold", qid).stdout, f"{qid}: held\n")
            self.assertEqual(queue("release", qid).stdout, f"{qid}: released\n")
            before = len(relay.lines())
            self.assertEqual(queue("flush").returncode, 0)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(
                    "to=<admin@no-starttls.test>" in l for l in relay.lines()[before:]):
                time.sleep(0.1)
            self.assertTrue(any("to=<admin@no-starttls.test>" in l for l in relay.lines()[before:]),
                            "flush made the deferred mail due at once")
            self.assertEqual(queue("delete", qid).stdout, f"{qid}: removed\n")
            self.assertNotIn(qid, queue("list").stdout)
            self.assertEqual(queue("delete", "NOSUCHID000").returncode, 1)
        finally:
            self.assertEqual(relay.stop(), 0)

    def nobody_relay(self, **kw):
        """A relay started as root with user = "nobody", on a spool that user owns, as
        deploy/start and a package arrange; its log and evidence files do not exist yet."""
        relay = Relay(user="nobody", start=False, **kw)
        os.chmod(relay.dir, 0o755)
        os.mkdir(os.path.join(relay.dir, "spool"))
        os.chown(os.path.join(relay.dir, "spool"), NOBODY, NOBODY)
        return relay

    def test_binds_then_drops_root(self):
        # SPEC §3: bind first, then run as [server] user; the files root creates for it are its.
        relay = self.nobody_relay()
        relay.start()
        try:
            with open(f"/proc/{relay.proc.pid}/status") as f:
                uid = [l.split()[1] for l in f if l.startswith("Uid:")][0]
            self.assertEqual(int(uid), NOBODY)
            self.assertEqual(swaks("dropped@ee-good.test").returncode, 0)
            relay.wait_for(r"to=<dropped@ee-good\.test>.*status=sent")
        finally:
            self.assertEqual(relay.stop(), 0)
        for path in (relay.log, relay.evidence):
            self.assertEqual(os.stat(path).st_uid, NOBODY, path)
        # `dane-relay queue` as root on the stopped spool works as its owner (postsuper does
        # the same): the lock file it has to create is not root's.
        os.unlink(os.path.join(relay.dir, "spool", "lock"))
        p = subprocess.run([BINARY, "queue", "-c", relay.conf, "list"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(os.stat(os.path.join(relay.dir, "spool", "lock")).st_uid, NOBODY)

    def test_first_dns_query_runs_unprivileged(self):
        # The trust anchor is read at the first query: with a copy only root can read, the
        # relay must fail to validate (before the fix it read it as root and started).
        unbound = os.path.join(tempfile.mkdtemp(prefix="dr-ub-"), "unbound.conf")
        os.chmod(os.path.dirname(unbound), 0o755)
        anchor = os.path.join(os.path.dirname(unbound), "root.ds")
        with open(os.environ["LAB_UNBOUND_CONF"]) as f:
            conf = f.read()
        original = re.search(r'trust-anchor-file: "([^"]+)"', conf).group(1)
        with open(original) as f, open(anchor, "w") as out:
            out.write(f.read())
        os.chmod(anchor, 0o600)
        with open(unbound, "w") as f:
            f.write(conf.replace(original, anchor))
        os.chmod(unbound, 0o644)
        relay = self.nobody_relay()
        relay.write_conf(extra="")
        with open(relay.conf) as f:
            text = f.read().replace(os.environ["LAB_UNBOUND_CONF"], unbound)
        with open(relay.conf, "w") as f:
            f.write(text)
        p = subprocess.run([BINARY, "serve", "-c", relay.conf], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("root DNSKEY", p.stderr)
        self.assertFalse(any("daemon started" in l for l in relay.lines()))

    def test_not_an_open_relay(self):
        relay = Relay(allowed='["127.0.0.1/32"]')
        try:
            p = swaks("user@ee-good.test", "--local-interface", "127.0.0.2")
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("554 5.7.1", p.stdout)
            self.assertIn("Relay access denied", p.stdout)
            time.sleep(0.5)
            self.assertFalse(any("client=" in l for l in relay.lines()), "nothing queued")
            self.assertEqual(os.listdir(os.path.join(relay.dir, "spool", "queue")), [])
        finally:
            self.assertEqual(relay.stop(), 0)

    def test_expired_mail_is_returned(self):
        # A destination that stays down (DANE mismatch) past a short queue
        # lifetime: the message is returned, and the notice reaches the
        # sender's lab domain over DANE.
        relay = Relay(lifetime="3s")
        try:
            p = subprocess.run(["swaks", "--server", "127.0.0.1:10025", "--from",
                                "expiry@ta-good.test", "--to", "late@ee-badhex.test"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout)
            relay.wait_for(r"status=expired, returned to sender", 30)
            line = relay.wait_for(r"to=<late@ee-badhex\.test>.*status=deferred")
            self.assertIn("dsn=4.7.5", line)
            notice = relay.wait_for(r"sender non-delivery notification: [0-9A-Z]+").rsplit(" ", 1)[1]
            relay.wait_for(rf"{notice}: to=<expiry@ta-good\.test>, .*status=sent", 30)
        finally:
            relay.stop()
        got = relaylab.received(self.lab, "expiry@ta-good.test")
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["mail_from"], "")
        self.assertTrue(got[0]["tls"])
        with open(got[0]["body_file"]) as f:
            body = f.read()
        self.assertIn("Final-Recipient: rfc822; late@ee-badhex.test", body)
        self.assertIn("Action: failed", body)
        self.assertIn("Status: 4.7.5", body)

    def test_sighup_keeps_old_config_when_new_is_bad(self):
        relay = Relay()
        try:
            with open(relay.conf, "a") as f:
                f.write("\n[server]\nbogus = 1\n")
            relay.proc.send_signal(signal.SIGHUP)
            relay.wait_for(r"configuration not reloaded, keeping the old one: .*relay\.toml:\d+:\d+")
            self.assertEqual(swaks("hup@ee-good.test").returncode, 0)
            relay.wait_for(r"to=<hup@ee-good\.test>.*status=sent")
        finally:
            self.assertEqual(relay.stop(), 0)

    def test_queue_survives_restart(self):
        # Deferred while ee-good.test is "down", SIGKILLed, restarted with it
        # "up": the new run delivers that very message from the spool, once.
        relay = Relay(extra=DOWN)
        try:
            self.assertEqual(swaks("restart@ee-good.test").returncode, 0)
            line = relay.wait_for(r"to=<restart@ee-good\.test>.*status=deferred")
            qid = line.split(": ")[1]
        finally:
            relay.stop(signal.SIGKILL)
        relay.write_conf(extra="")
        relay.start()
        try:
            relay.wait_for(r"daemon started .*, 1 queued message", 20)
            relay.wait_for(rf": {qid}: to=<restart@ee-good\.test>, .*status=sent", 30)
        finally:
            self.assertEqual(relay.stop(), 0)
        restarted = line_index(relay, r"daemon started", 1)
        tries = attempts(relay, "restart@ee-good.test")
        self.assertEqual({d["qid"] for d in tries}, {qid})
        sent = [d for d in tries if d["status"] == "sent"]
        self.assertEqual(len(sent), 1, tries)
        self.assertGreater(sent[0]["line"], restarted, "sent by the new run")
        got = [m for r in self.sink_records("mx.ee-good.test") for m in r["messages"]
               if "restart@ee-good.test" in m["rcpt_to"]]
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0]["tls"])
        self.assertEqual(received_qid(got[0]), qid)


if __name__ == "__main__":
    unittest.main(verbosity=2)

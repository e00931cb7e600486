#!/usr/bin/python3
"""REQUIRETLS (RFC 8689) end to end in the lab: `dane-relay serve` with a certificate for
STARTTLS, the lab CA for PKIX ([tls] ca_file), and the lab's sinks, of which mx.ee-good.test
and mx.sts-enforce.test offer REQUIRETLS after STARTTLS (labgen.py, Sink.extensions) and
mx.ee-301.test does not.

Expected outcomes, from RFC 8689 unless said otherwise:
- inbound: REQUIRETLS is offered after STARTTLS only (§3: the option needs a TLS session;
  without one the MAIL parameter is refused, 530 5.7.10, our choice of reply);
- a REQUIRETLS message goes only over TLS authenticated for the MX name, DANE or MTA-STS
  (§4.2.1), to a server that offers REQUIRETLS, with the MAIL parameter (§4.2.1);
- a server that does not offer it: the message is bounced with 5.7.30 (§5);
- a domain where no host can be authenticated (unsigned, no MTA-STS): bounced with 5.7.10
  (§5: "REQUIRETLS needed"; permanent, as retrying cannot authenticate the host);
- "TLS-Required: No" (§4.2.2): delivered without DANE's verdict (TLS when offered, not
  verified), unless [requiretls] tls_required_no = "ignore", when DANE applies as to any
  message (deferred 4.7.5 on a mismatch).
Runs inside the lab (tests/lab/lab run -- ...)."""
import json
import re
import smtplib
import time
import unittest

import relaylab
from relaylab import Relay, sink_records
from sts_delivery_lab_test import DEFAULTS, serve_policies

LAB = relaylab.lab()
STS = LAB["sts"]

DELIVERY = re.compile(r"dane-relay/smtp\[\d+\]: \w+: to=<(?P<rcpt>[^>]+)>, relay=(?P<relay>\S+), "
                      r".*tls=(?P<tls>\S+), dsn=(?P<dsn>[\d.]+), status=(?P<status>\w+) "
                      r"\((?P<text>.*)\)$")


def tls_client():
    return relaylab.starttls_session()


def message(rcpt, extra_header=""):
    return (f"From: sender@relay.test\r\nTo: {rcpt}\r\nSubject: requiretls\r\n{extra_header}"
            f"\r\nhello\r\n")


class RequireTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = serve_policies()
        cls.srv.answers = {d: (200, "text/plain", p, {}) for d, p in DEFAULTS.items()}

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()

    def setUp(self):
        self.relays = []

    def tearDown(self):
        for r in self.relays:
            if r.proc and r.proc.poll() is None:
                r.stop()

    def relay(self, more=""):
        r = Relay(start=False, backoff="1h")
        cert, key = relaylab.server_cert(r.dir)
        r.write_conf(extra=f'[tls]\ncert = "{cert}"\nkey = "{key}"\nca_file = "{STS["ca"]}"\n'
                           f'{more}')
        r.start()
        self.relays.append(r)
        return r

    def verdict(self, relay, rcpt, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in relay.lines():
                m = DELIVERY.search(line)
                if m and m["rcpt"] == rcpt:
                    return m.groupdict()
            relay.check_running()
            time.sleep(0.1)
        raise AssertionError(f"no delivery line for {rcpt}:\n" + "\n".join(relay.lines()))

    def at_sink(self, host, rcpt):
        sink = LAB["hosts"][host]["sink"]
        return [m for rec in sink_records(LAB, sink) for m in rec["messages"]
                if rcpt in m["rcpt_to"]]

    def send_requiretls(self, rcpt):
        with tls_client() as s:
            self.assertTrue(s.has_extn("requiretls"))
            s.sendmail("sender@relay.test", [rcpt], message(rcpt), mail_options=["REQUIRETLS"])

    def test_offered_after_starttls_only_and_refused_in_clear(self):
        self.relay()
        with smtplib.SMTP("127.0.0.1", 10025, timeout=30) as s:
            s.ehlo("client.test")
            self.assertTrue(s.has_extn("starttls"))
            self.assertFalse(s.has_extn("requiretls"))
            code, text = s.mail("sender@relay.test", ["REQUIRETLS"])
            self.assertEqual((code, text.decode()[:6]), (530, "5.7.10"))
        with tls_client() as s:
            self.assertTrue(s.has_extn("requiretls"))

    def test_offer_false_does_not_offer_it(self):
        self.relay('[requiretls]\noffer = false\n')
        with tls_client() as s:
            self.assertFalse(s.has_extn("requiretls"))
            code, _ = s.mail("sender@relay.test", ["REQUIRETLS"])
            self.assertEqual(code, 555)

    def test_over_dane_to_a_server_offering_it_with_the_parameter(self):
        r = self.relay()
        self.send_requiretls("r1@ee-good.test")
        v = self.verdict(r, "r1@ee-good.test")
        self.assertEqual((v["status"], v["tls"]), ("sent", "dane"), v)
        (m,) = self.at_sink("mx.ee-good.test", "r1@ee-good.test")
        self.assertTrue(m["tls"])
        self.assertIn("REQUIRETLS", m["mail_params"].split())
        self.assertTrue(any("Verified TLS connection established to mx.ee-good.test" in l
                            for l in r.lines()))

    def test_over_mta_sts_to_a_server_offering_it(self):
        r = self.relay()
        self.send_requiretls("r2@sts-enforce.test")
        v = self.verdict(r, "r2@sts-enforce.test")
        self.assertEqual((v["status"], v["tls"]), ("sent", "sts"), v)
        (m,) = self.at_sink("mx.sts-enforce.test", "r2@sts-enforce.test")
        self.assertIn("REQUIRETLS", m["mail_params"].split())
        # The evidence line names the policy and what the message asked.
        with open(r.evidence) as f:
            (e,) = [json.loads(l) for l in f if "r2@sts-enforce.test" in l]
        self.assertEqual(e["requested"], "requiretls")
        self.assertEqual((e["sts"]["policy"]["mode"], e["sts"]["policy"]["mx"]),
                         ("enforce", ["mx.sts-enforce.test"]))
        self.assertTrue(e["hosts"][0]["plan"]["sts"])

    def test_a_server_not_offering_it_bounces_5_7_30(self):
        r = self.relay()
        self.send_requiretls("r3@ee-301.test")
        v = self.verdict(r, "r3@ee-301.test")
        self.assertEqual((v["status"], v["dsn"]), ("bounced", "5.7.30"), v)
        self.assertIn("REQUIRETLS support required", v["text"])
        self.assertEqual(self.at_sink("mx.ee-301.test", "r3@ee-301.test"), [])

    def test_no_authenticated_host_bounces_5_7_10_without_connecting(self):
        r = self.relay()
        self.send_requiretls("r4@unsigned.test")
        v = self.verdict(r, "r4@unsigned.test")
        self.assertEqual((v["status"], v["dsn"]), ("bounced", "5.7.10"), v)
        self.assertIn("REQUIRETLS: no authenticated TLS for MX host", v["text"])
        self.assertEqual(self.at_sink("mx.unsigned.test", "r4@unsigned.test"), [])

    def test_tls_required_no_is_honoured_or_ignored_as_configured(self):
        header = "TLS-Required: No\r\n"
        r = self.relay()
        with smtplib.SMTP("127.0.0.1", 10025, timeout=30) as s:
            s.sendmail("sender@relay.test", ["n1@ee-badhex.test"],
                       message("n1@ee-badhex.test", header))
        v = self.verdict(r, "n1@ee-badhex.test")
        self.assertEqual((v["status"], v["tls"]), ("sent", "may"), v)
        self.assertTrue(any(l.endswith(": TLS-Required: No (RFC 8689)") for l in r.lines()))
        (m,) = self.at_sink("mx.ee-badhex.test", "n1@ee-badhex.test")
        self.assertTrue(m["tls"])  # TLS still, only not verified
        r.stop()
        r2 = self.relay('[requiretls]\ntls_required_no = "ignore"\n')
        with smtplib.SMTP("127.0.0.1", 10025, timeout=30) as s:
            s.sendmail("sender@relay.test", ["n2@ee-badhex.test"],
                       message("n2@ee-badhex.test", header))
        v = self.verdict(r2, "n2@ee-badhex.test")
        self.assertEqual((v["status"], v["dsn"], v["tls"]), ("deferred", "4.7.5", "dane"), v)
        self.assertEqual(relaylab.plaintext_to_dane_hosts(LAB), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)

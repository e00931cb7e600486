"""What delivering one message to each lab scenario domain must give:
(status in our log, RFC 3463 code). Derived from RFC 7672 and Postfix's
behaviour (see the comments in check_scenarios_test.py for the why); the
lab's sinks that refuse at RCPT or DATA answer as tests/lab/labgen.py says."""

DELIVERY = {
    # DANE-EE: the key alone counts (no name or date checks).
    "ee-good.test": ("sent", "2.0.0"),
    "ee-301.test": ("sent", "2.0.0"),
    "ee-312.test": ("sent", "2.0.0"),
    "ee-expired.test": ("sent", "2.0.0"),
    "ee-wrongname.test": ("sent", "2.0.0"),
    "rollover.test": ("sent", "2.0.0"),
    "ee-badhex.test": ("deferred", "4.7.5"),
    # DANE-TA: chain to the TA and a matching name.
    "ta-good.test": ("sent", "2.0.0"),
    "ta-nexthop.test": ("sent", "2.0.0"),
    "ta-badname.test": ("deferred", "4.7.5"),
    # TLS required but not to be had.
    "no-starttls.test": ("deferred", "4.7.4"),
    "starttls-refused.test": ("deferred", "4.7.5"),
    # No DANE: opportunistic TLS; half-dane; unusable records: encrypt.
    "unsigned.test": ("sent", "2.0.0"),
    "no-tlsa.test": ("sent", "2.0.0"),
    "anon-only.test": ("sent", "2.0.0"),  # over Anonymous TLS, not plaintext
    "insecure-addr.test": ("sent", "2.0.0"),
    "insecure-mx.test": ("sent", "2.0.0"),
    "tlsa-unusable.test": ("sent", "2.0.0"),
    # Bogus or failed lookups defer, never "not found".
    "bogus-mx.test": ("deferred", "4.4.3"),
    "bogus-tlsa.test": ("deferred", "4.7.5"),
    "tlsa-servfail.test": ("deferred", "4.7.5"),
    "tlsa-timeout.test": ("deferred", "4.7.5"),
    # Several MX hosts; implicit MX; CNAME; IPv6 only.
    "two-mx.test": ("sent", "2.0.0"),
    "two-equal.test": ("sent", "2.0.0"),
    "no-mx.test": ("sent", "2.0.0"),
    "cname-mx.test": ("sent", "2.0.0"),
    "v6only.test": ("sent", "2.0.0"),
    # The remote server's own replies.
    "rcpt-tempfail.test": ("deferred", "4.3.0"),
    "rcpt-reject.test": ("bounced", "5.1.1"),
    "data-tempfail.test": ("deferred", "4.3.0"),
    # RFC 7505 null MX; a domain that does not exist.
    "null-mx.test": ("bounced", "5.1.10"),
    "nxdomain.test": ("bounced", "5.4.4"),
    # RSA and ECDSA certificates, TLSA for the ECDSA key: a sender offering ECDSA gets it.
    "dual-key.test": ("sent", "2.0.0"),
}

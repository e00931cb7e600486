#!/usr/bin/python3
"""tests/package/container_test's client, run inside its network namespace:
waits for the relay on 127.0.0.1:10025, hands it one message (250 to DATA),
then checks that 127.0.0.1:9190/metrics counts it as accepted."""
import smtplib
import sys
import time
import urllib.request


def main():
    deadline = time.monotonic() + 20
    while True:
        try:
            smtp = smtplib.SMTP("127.0.0.1", 10025, timeout=10)
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit("container_smtp: nothing listens on 127.0.0.1:10025 after 20 s")
            time.sleep(0.2)
    with smtp:
        smtp.ehlo("mta.test")
        msg = "From: a@mta.test\r\nTo: b@example.test\r\nSubject: one\r\n\r\nbody\r\n"
        smtp.sendmail("a@mta.test", ["b@example.test"], msg)  # raises unless accepted
    with urllib.request.urlopen("http://127.0.0.1:9190/metrics", timeout=10) as r:
        page = r.read().decode()
    if "\ndane_relay_messages_accepted_total 1\n" not in "\n" + page:
        sys.exit("container_smtp: /metrics does not count one accepted message")
    print("container_smtp: one message accepted, /metrics counts it")


main()

#!/usr/bin/python3
"""Second opinion on our notices from an independent parser (Python's email package).

Usage: dsn_check.py FILE...  Each FILE is one notice. Exits 1 and says why on the first
problem: a parser defect, not multipart/report, not three parts of the expected types, a
delivery-status without per-recipient Final-Recipient/Action/Status fields.
"""
import email
import email.policy
import sys

REPORT_TYPES = {"delivery-status", "global-delivery-status"}
STATUS_TYPES = {"message/delivery-status", "message/global-delivery-status"}
RETURNED_TYPES = {"message/rfc822", "text/rfc822-headers", "message/global",
                  "message/global-headers"}


def check(path):
    raw = open(path, "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    problems = []
    for part in msg.walk():
        if part.defects:
            problems.append(f"{part.get_content_type()}: {part.defects}")
    if msg.get_content_type() != "multipart/report":
        problems.append(f"top type {msg.get_content_type()}")
    if msg.get_param("report-type") not in REPORT_TYPES:
        problems.append(f"report-type {msg.get_param('report-type')}")
    parts = list(msg.iter_parts())
    types = [p.get_content_type() for p in parts]
    if len(parts) != 3 or types[0] != "text/plain" or types[1] not in STATUS_TYPES \
            or types[2] not in RETURNED_TYPES:
        problems.append(f"parts {types}")
    elif types[1] == "message/delivery-status":
        blocks = parts[1].get_payload()
        if len(blocks) < 2 or "Reporting-MTA" not in blocks[0]:
            problems.append("no per-message fields")
        for b in blocks[1:]:
            for name in ("Final-Recipient", "Action", "Status"):
                if name not in b:
                    problems.append(f"recipient block without {name}")
    for name in ("From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted"):
        if msg[name] is None:
            problems.append(f"no {name}")
    return problems


def main():
    bad = 0
    for path in sys.argv[1:]:
        for p in check(path):
            print(f"{path}: {p}")
            bad = 1
    print(f"checked {len(sys.argv) - 1} notices")
    return bad


if __name__ == "__main__":
    sys.exit(main())

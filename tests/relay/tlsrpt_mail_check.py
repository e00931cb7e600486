#!/usr/bin/python3
"""Second opinion on a TLSRPT report mail (RFC 8460 §5.3) from Python's email package.

Usage: tlsrpt_mail_check.py MAIL JSON  Exits 1 and says why on the first problem: a parser
defect, not multipart/report; report-type="tlsrpt", missing TLS-Report-Domain,
TLS-Report-Submitter or "TLS-Required: No", a Subject not as §5.3 gives it, no
application/tlsrpt+gzip attachment named submitter!domain!begin!end!id.json.gz (§5.1), or
an attachment that does not gunzip to the report in JSON (compared as JSON values).
"""
import email
import email.policy
import gzip
import json
import re
import sys


def check(mail_path, json_path):
    with open(mail_path, "rb") as f:
        msg = email.message_from_bytes(f.read(), policy=email.policy.default)
    for part in msg.walk():
        if part.defects:
            return f"{part.get_content_type()}: {part.defects}"
    if msg.get_content_type() != "multipart/report" or msg.get_param("report-type") != "tlsrpt":
        return f"top type {msg.get_content_type()} report-type {msg.get_param('report-type')}"
    domain, submitter = msg["TLS-Report-Domain"], msg["TLS-Report-Submitter"]
    if not domain or not submitter:
        return "no TLS-Report-Domain or TLS-Report-Submitter"
    if msg["TLS-Required"] != "No":
        return f"TLS-Required: {msg['TLS-Required']}"
    m = re.fullmatch(r"Report Domain: (\S+) Submitter: (\S+) Report-ID: <([^>]+)>",
                     str(msg["Subject"]))
    if not m or m.group(1) != domain or m.group(2) != submitter:
        return f"Subject {msg['Subject']!r}"
    reports = [p for p in msg.iter_parts() if p.get_content_type() == "application/tlsrpt+gzip"]
    if len(reports) != 1:
        return f"{len(reports)} application/tlsrpt+gzip parts"
    name = reports[0].get_filename()
    if not re.fullmatch(re.escape(submitter) + "!" + re.escape(domain) + r"!\d+!\d+!.+\.json\.gz",
                        name or ""):
        return f"file name {name!r}"
    begin, end = (int(x) for x in name.split("!")[2:4])
    if end - begin != 86399:
        return f"begin {begin} end {end}: not one day"
    got = json.loads(gzip.decompress(reports[0].get_content()))
    with open(json_path) as f:
        want = json.load(f)
    if got != want:
        return f"the attachment is {got}, not {want}"
    return None


if __name__ == "__main__":
    problem = check(sys.argv[1], sys.argv[2])
    if problem:
        print(f"{sys.argv[1]}: {problem}", file=sys.stderr)
        sys.exit(1)

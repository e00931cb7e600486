#!/usr/bin/python3
"""A TLSRPT report checked against RFC 8460 §4.4 (tlsrpt_schema.json beside this file) by
python3-jsonschema, a second opinion on what relay/tlsrpt/tally_json.cpp writes.

Usage: tlsrpt_schema_check.py REPORT.json  Exits 1 and prints every problem, with its path.
"""
import json
import os
import sys

import jsonschema

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tlsrpt_schema.json")


def problems(report):
    """The schema's complaints about `report` (a parsed JSON value), one text each."""
    with open(SCHEMA) as f:
        validator = jsonschema.Draft7Validator(json.load(f))
    return ["/".join(str(p) for p in e.absolute_path) + ": " + e.message
            for e in validator.iter_errors(report)]


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        found = problems(json.load(f))
    for p in found:
        print(f"{sys.argv[1]}: {p}", file=sys.stderr)
    sys.exit(1 if found else 0)

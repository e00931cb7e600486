#!/usr/bin/python3
"""dane-relay(8) (deploy/man/dane-relay.8) covers the program: every command of
`dane-relay --help` in SYNOPSIS and COMMANDS, every option of each command's
--help, every key of deploy/dane-relay.toml under its section, and `man -l`
renders it without a groff warning.
    man_page_test.py BINARY
"""
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MAN = os.path.join(ROOT, "deploy", "man", "dane-relay.8")
EXAMPLE = os.path.join(ROOT, "deploy", "dane-relay.toml")
BINARY = sys.argv.pop(1) if len(sys.argv) > 1 else os.path.join(ROOT, "build/relay/dane-relay")


def man_source():
    with open(MAN) as f:
        return f.read()


def man_part(src, start, stop):
    """The roff text from the line starting with `start` to the next `stop` line."""
    m = re.search(r"^" + re.escape(start) + r"\s*$(.*?)(?=^" + stop + r"|\Z)", src, re.M | re.S)
    return m.group(1) if m else ""


def plain(roff):
    """roff text with the escapes that matter here undone (\\- is -, fonts dropped)."""
    return re.sub(r"\\f[BIRP]", "", roff.replace("\\-", "-"))


def commands():
    out = subprocess.run([BINARY, "--help"], capture_output=True, text=True, check=True).stdout
    part = out.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  (\w+) ", part, re.M)


def example_keys():
    """(section, key) for every key of the example file, the commented-out ones too."""
    keys, section = [], None
    with open(EXAMPLE) as f:
        for line in f:
            m = re.match(r"^\[([a-z.]+)\]", line)
            if m:
                section = m.group(1)
                continue
            m = re.match(r"^#? ?([a-z_]+) *= ", line)
            if m and section:
                keys.append((section, m.group(1)))
    return keys


class ManPageTest(unittest.TestCase):
    def test_every_command_has_its_synopsis_and_entry(self):
        src = man_source()
        synopsis = plain(man_part(src, ".SH SYNOPSIS", r"\.SH"))
        entries = plain(man_part(src, ".SH COMMANDS", r"\.SH"))
        cmds = commands()
        self.assertIn("serve", cmds)
        for cmd in cmds:
            with self.subTest(command=cmd):
                self.assertTrue(re.search(r"\.B dane-relay " + cmd + r"\b", synopsis),
                                f"{cmd}: not in SYNOPSIS")
                self.assertTrue(re.search(r"\.T[PQ]\n\.B[IR]? \"?" + cmd + r"\b", entries),
                                f"{cmd}: no entry in COMMANDS")

    def test_every_option_of_every_command(self):
        text = plain(man_source())
        for cmd in commands():
            out = subprocess.run([BINARY, cmd, "--help"], capture_output=True, text=True).stdout
            for opt in sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", out)) - {"--help"}):
                if f"({opt} " in out and "not available" in out:
                    continue  # announced as not available yet
                with self.subTest(command=cmd, option=opt):
                    self.assertTrue(opt in text, f"{cmd} {opt}: not in the man page")

    def test_every_configuration_key_under_its_section(self):
        src = man_source()
        keys = example_keys()
        self.assertGreater(len(keys), 40)
        for section, key in keys:
            part = man_part(src, f".SS [{section.split('.')[0]}]", r"\.S[SH]")
            with self.subTest(section=section, key=key):
                self.assertTrue(re.search(r"(?m)^\.B[IR]? .*\b" + key + r"\b", part),
                                f"[{section}] {key}: not in the man page's section")

    def test_man_renders_without_warnings(self):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        r = subprocess.run(["man", "--warnings", "-l", MAN], capture_output=True, text=True,
                           env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertIn("DANE-RELAY(8)", r.stdout)
        self.assertIn("dane-relay - SMTP smarthost that enforces DANE", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""systemd's Type=notify protocol, as the unit deploy/systemd/dane-relay.service
relies on it: `dane-relay serve` with NOTIFY_SOCKET set sends READY=1 once the
resolver has validated the (lab) root and the listeners accept mail,
RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on SIGTERM; with a root
trust anchor that does not match it never says READY=1 and exits 1.

The notification socket is a Python AF_UNIX datagram socket, as systemd's own.
"""
import os
import re
import socket
import subprocess
import time
import unittest

import relaylab
from relaylab import BINARY, Relay


class NotifySocket:
    def __init__(self, directory):
        self.path = os.path.join(directory, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def next(self, timeout=30):
        """The next datagram as a dict of its VAR=value lines (AssertionError on timeout)."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            raise AssertionError(f"no notification within {timeout}s") from None
        return dict(line.split("=", 1) for line in data.splitlines() if "=" in line)

    def close(self):
        self.sock.close()


class NotifyTest(unittest.TestCase):
    def test_1_ready_after_validation_reloading_and_stopping(self):
        relay = Relay(start=False)
        notify = NotifySocket(relay.dir)
        try:
            relay.env["NOTIFY_SOCKET"] = notify.path
            t0 = time.monotonic()
            relay.start()
            ready = notify.next()
            print(f"\nREADY=1 {time.monotonic() - t0:.2f}s after the start", flush=True)
            self.assertEqual(ready.get("READY"), "1", ready)
            self.assertIn("accepting mail", ready.get("STATUS", ""))
            # READY comes after the resolver validated and the spool and queue started.
            self.assertTrue(any("daemon started" in l for l in relay.lines()))
            with socket.create_connection(("127.0.0.1", 10025), timeout=5) as s:
                self.assertTrue(s.recv(512).startswith(b"220 "))

            relay.proc.send_signal(1)  # SIGHUP
            self.assertEqual(notify.next().get("RELOADING"), "1")
            self.assertEqual(notify.next().get("READY"), "1")
            relay.wait_for(r"reload -- version")

            relay.proc.terminate()
            self.assertEqual(notify.next().get("STOPPING"), "1")
            self.assertEqual(relay.proc.wait(timeout=30), 0)
        finally:
            if relay.proc.poll() is None:
                relay.proc.kill()
            notify.close()

    def test_2_no_ready_when_the_root_does_not_validate(self):
        """A root DS that matches no root key: the resolver cannot validate, so the daemon
        exits 1 at start and systemd must never hear READY=1 (SPEC §7)."""
        relay = Relay(start=False)
        notify = NotifySocket(relay.dir)
        try:
            lab_conf = os.environ["LAB_UNBOUND_CONF"]
            with open(lab_conf) as f:
                conf = f.read()
            ds_path = re.search(r'trust-anchor-file: "([^"]+)"', conf).group(1)
            lines = []
            with open(ds_path) as f:
                for line in f.read().splitlines():
                    digest = line.split()[-1]  # each DS gets another digest
                    lines.append(line[:-1] + ("0" if digest[-1] != "0" else "1"))
            bad_ds = os.path.join(relay.dir, "root.ds")
            with open(bad_ds, "w") as f:
                f.write("\n".join(lines) + "\n")
            bad_conf = os.path.join(relay.dir, "unbound.conf")
            with open(bad_conf, "w") as f:
                f.write(conf.replace(ds_path, bad_ds))
            with open(relay.conf) as f:
                toml = f.read()
            with open(relay.conf, "w") as f:
                f.write(toml.replace(lab_conf, bad_conf))
            env = dict(os.environ, NOTIFY_SOCKET=notify.path)
            proc = subprocess.run([BINARY, "serve", "-c", relay.conf], env=env,
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 1, proc.stderr)
            self.assertIn("cannot validate", proc.stderr)
            notify.sock.setblocking(False)
            try:
                got = notify.sock.recv(4096)
            except BlockingIOError:
                got = b""
            self.assertNotIn(b"READY=1", got)
        finally:
            notify.close()


if __name__ == "__main__":
    relaylab.lab()  # inside `lab run`
    unittest.main(verbosity=2)

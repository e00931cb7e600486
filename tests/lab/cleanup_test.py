#!/usr/bin/python3
# Checks that `lab run` leaves nothing behind: exit status passed through, netns
# deleted, no process left in it, state dir removed (kept with --keep), also when
# lab gets SIGTERM or SIGINT while CMD runs, and with two labs side by side.
# Run as root outside any lab: /usr/bin/python3 cleanup_test.py
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

LAB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab")
failures = []

# CMD prefix: note where we are, so the test can look for leftovers afterwards.
NOTE = ('echo "$LAB_NETNS" > "$OUT/netns"; echo "$LAB_DIR" > "$OUT/dir"; '
        'stat -L -c %i /proc/self/ns/net > "$OUT/ino"; ')


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def netns_names():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def procs_in_netns(ino):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino == ino:
                found.append(pid)
        except OSError:
            pass
    return found


def read(out, name):
    with open(os.path.join(out, name)) as f:
        return f.read().strip()


def check_gone(out, label, keep=False):
    netns, state, ino = read(out, "netns"), read(out, "dir"), int(read(out, "ino"))
    check(netns not in netns_names(), f"{label}: netns {netns} deleted")
    check(not procs_in_netns(ino), f"{label}: no process left in the lab netns")
    check(os.path.isdir(state) == keep, f"{label}: state dir {'kept' if keep else 'removed'}")
    if keep:
        shutil.rmtree(state)


def lab(args, out, **kw):
    env = dict(os.environ, OUT=out, LAB_STATE_ROOT=out)
    return subprocess.Popen([LAB, *args], env=env, **kw)


def wait_file(path, timeout=30):
    deadline = time.time() + timeout
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.05)
    return os.path.exists(path)


def test_exit_status(out):
    rc = lab(["run", "--", "sh", "-c", NOTE + "exit 7"], out).wait()
    check(rc == 7, f"exit status passed through (got {rc})")
    check_gone(out, "normal exit")


def test_keep(out):
    rc = lab(["run", "--keep", "--", "sh", "-c", NOTE + "test -s $LAB_JSON"], out).wait()
    check(rc == 0, f"--keep run (got {rc})")
    check_gone(out, "--keep", keep=True)


def test_signal(out, sig):
    p = lab(["run", "--", "sh", "-c", NOTE + "exec sleep 60"], out)
    check(wait_file(os.path.join(out, "ino")), f"signal {sig}: lab came up")
    time.sleep(0.2)
    p.send_signal(sig)  # to lab only, as `kill` would
    try:
        rc = p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    check(rc == 128 + sig, f"signal {sig}: exit status {rc}")
    check_gone(out, f"signal {sig}")


def test_parallel(out):
    outs = [tempfile.mkdtemp(dir=out) for _ in range(2)]
    probe = ("import socket; socket.create_connection(('127.0.1.1', 25), 5).recv(100)")
    procs = [lab(["run", "--", "sh", "-c", NOTE + "sleep 1; /usr/bin/python3 "
                  f"-c \"{probe}\""], o) for o in outs]
    rcs = [p.wait() for p in procs]
    check(rcs == [0, 0], f"two labs in parallel (got {rcs})")
    for o in outs:
        check_gone(o, "parallel")


def main():
    if os.geteuid() != 0:
        print("cleanup_test: needs root")
        return 1
    for test in (test_exit_status, test_keep, lambda o: test_signal(o, signal.SIGTERM),
                 lambda o: test_signal(o, signal.SIGINT), test_parallel):
        out = tempfile.mkdtemp(prefix="drlab-cleanup-")
        try:
            test(out)
        finally:
            shutil.rmtree(out, ignore_errors=True)
    print(f"cleanup_test: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

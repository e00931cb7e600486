#!/usr/bin/python3
"""The side-by-side benchmark (issue 9), run inside the lab by relay_vs_postfix:
the same workload (bench_inject: M messages of S bytes over C pipelining connections
to recipients in D DANE domains) through dane-relay and then through a private
Postfix 3.7 configured as a DANE smarthost, each delivering to the lab's sinks.
Before them, the ceilings: bench_inject against a null server, and against the
lab's sinks directly (with STARTTLS). Prints one table; exits 1 if any message
was not delivered over DANE-verified TLS."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TICK = os.sysconf("SC_CLK_TCK")
DNS_STUB = "127.0.3.1"   # tests/lab/ubstub.py, Postfix's resolver (127/8 is all on lo)
RELAY_PORT, POSTFIX_PORT, NULL_PORT = 10025, 10026, 10099
SENT = re.compile(r"to=<(user\d+@[^>]+)>, .*delay=([\d.]+), .*status=sent")


def fail(msg):
    print(f"relay_vs_postfix: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


# ---- processes: CPU and memory of a process tree --------------------------------------

def stat(pid):
    """(ppid, own CPU ticks, reaped children's CPU ticks) from /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def tree(root):
    """root and its descendants (Postfix's master forks every daemon itself)."""
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit() and (s := stat(int(p))):
            kids.setdefault(s[0], []).append(int(p))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def tree_cpu(root):
    """CPU seconds of root, its live descendants, and every child they reaped."""
    total = 0
    for p in tree(root):
        if s := stat(p):
            total += s[1] + s[2]
    return total / TICK


def runqueue_wait(root):
    """Seconds the threads of root's live process tree spent runnable but waiting for a
    CPU (/proc/PID/task/TID/schedstat): how much a busy machine held the MTA back."""
    total = 0
    for p in tree(root):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            try:
                with open(f"/proc/{p}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return total / 1e9


def cpu_times():
    """(busy, iowait, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4], v[4], sum(v)


def memory(pids):
    """(RSS, PSS) in KiB summed over pids, from smaps_rollup."""
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


class PeakMemory(threading.Thread):
    """Samples the summed RSS and PSS of a process tree every 0.25 s; keeps the peak."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root, self.rss, self.pss, self.done = root, 0, 0, threading.Event()

    def run(self):
        while not self.done.wait(0.25):
            rss, pss = memory(tree(self.root))
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)

    def stop(self):
        self.done.set()
        self.join()


# ---- the injector and the sinks ------------------------------------------------------

def inject(a, servers, starttls=False):
    cmd = [a.inject, "--json", "--messages", str(a.messages), "--size", str(a.size),
           "--conns", str(a.conns), "--domains", ",".join(a.domain_list)]
    for s in servers:
        cmd += ["--server", s]
    if starttls:
        cmd.append("--starttls")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if not p.stdout.strip():
        fail(f"bench_inject printed nothing: {p.stderr}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    if r["accepted"] != a.messages:
        fail(f"bench_inject {servers}: {r['accepted']} of {a.messages} accepted: {p.stderr}")
    return r


class Sinks:
    """The bulk sinks' connection records written since the last mark()."""

    def __init__(self, lab):
        self.logs = [lab["sinks"][s]["log"] for s in lab["bulk"]["sinks"]]
        self.addrs = [f"{lab['sinks'][s]['ipv4']}:{lab['sinks'][s]['port']}"
                      for s in lab["bulk"]["sinks"]]
        self.mark()

    def mark(self):
        self.offsets = {p: os.path.getsize(p) for p in self.logs}

    def records(self):
        out = []
        for p in self.logs:
            with open(p) as f:
                f.seek(self.offsets[p])
                out += [json.loads(line) for line in f if line.strip()]
        return out

    def wait_quiet(self, seconds=1.0):
        """Waits until no sink log has grown for `seconds` (connections closed)."""
        last, since = None, time.monotonic()
        while time.monotonic() - since < seconds:
            size = [os.path.getsize(p) for p in self.logs]
            if size != last:
                last, since = size, time.monotonic()
            time.sleep(0.1)


def sink_summary(records, expected):
    """TLS sessions, resumptions, and the checks that every expected recipient got
    exactly one message, over TLS."""
    tls = [r for r in records if r["tls"]]
    got = [rc for r in records for m in r["messages"] if m["accepted"] for rc in m["rcpt_to"]]
    plain = [m for r in records for m in r["messages"] if not m["tls"]]
    problems = []
    if sorted(got) != sorted(expected):
        problems.append(f"sinks got {len(got)} messages ({len(set(got))} recipients), "
                        f"expected {len(expected)}")
    if plain:
        problems.append(f"{len(plain)} messages without TLS at the sinks")
    return {"sessions": len(tls), "resumed": sum(1 for r in tls if r["session_reused"]),
            "problems": problems}


# ---- one MTA's run ----------------------------------------------------------------------

class MailLog:
    """Reads an MTA's log as it grows: delivered recipients with their delay=, and the
    TLS levels of its "... TLS connection established" lines."""

    def __init__(self, path):
        self.path, self.offset = path, 0
        self.delays, self.levels, self.other_tls = {}, {}, []

    def poll(self):
        if not os.path.exists(self.path):
            return
        with open(self.path) as f:
            f.seek(self.offset)
            text = f.read()
        cut = text.rfind("\n") + 1
        self.offset += len(text[:cut].encode())
        for line in text[:cut].splitlines():
            if m := SENT.search(line):
                self.delays.setdefault(m.group(1), float(m.group(2)))
                # dane-relay's tls= field (Postfix 3.11's) is the TLS level applied.
                if (t := re.search(r"\btls=([^,]+)", line)) and t.group(1) != "dane":
                    self.other_tls.append(line)
            elif m := re.search(r"(\w+) TLS connection established", line):
                self.levels[m.group(1)] = self.levels.get(m.group(1), 0) + 1


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


class SyncCounter:
    """fsync and fdatasync calls on the whole machine while it runs (perf's syscall
    tracepoints; the MTA under test is the only thing here that syncs): the group-commit
    figure per message. None when perf or its tracepoints are missing."""
    EVENTS = ("syscalls:sys_enter_fsync", "syscalls:sys_enter_fdatasync")

    def __init__(self, work):
        self.out = os.path.join(work, f"perf-sync-{time.monotonic_ns()}.csv")
        self.proc = None
        if shutil.which("perf"):
            self.proc = subprocess.Popen(
                ["perf", "stat", "-a", "-x", ",", "-o", self.out, "-e", ",".join(self.EVENTS)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)

    def stop(self):
        """{"fsync": n, "fdatasync": n}, or None."""
        if not self.proc:
            return None
        self.proc.send_signal(2)
        self.proc.wait()
        counts = {}
        with open(self.out) as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) > 2 and parts[2].startswith("syscalls:sys_enter_"):
                    if not parts[0].isdigit():
                        return None
                    counts[parts[2].removeprefix("syscalls:sys_enter_")] = int(parts[0])
        return counts if len(counts) == 2 else None


def run_workload(a, name, root, port, log, sinks, watch):
    """Injects the workload into an MTA (process tree at root) and waits for every
    delivery in its log; returns the figures and checks them. watch: {figure: pid} of
    helpers whose CPU is shown per message (the sinks, Postfix's DNS stub)."""
    expected = {f"user{i}@{a.domain_list[i % len(a.domain_list)]}" for i in range(a.messages)}
    sinks.mark()
    ml = MailLog(log)
    ml.poll()
    ml.delays.clear(), ml.levels.clear()
    cpu0, machine0, wait0 = tree_cpu(root), cpu_times(), runqueue_wait(root)
    watch0 = {k: stat(p)[1] for k, p in watch.items()}
    mem = PeakMemory(root)
    mem.start()
    syncs = SyncCounter(tempfile.gettempdir())
    t0 = time.monotonic()
    inj = inject(a, [f"127.0.0.1:{port}"])
    while len(ml.delays) < a.messages and time.monotonic() - t0 < a.timeout:
        time.sleep(0.1)
        ml.poll()
    elapsed = time.monotonic() - t0
    cpu = tree_cpu(root) - cpu0
    busy, iowait, total = (b - a for a, b in zip(machine0, cpu_times()))
    waited = runqueue_wait(root) - wait0
    mem.stop()
    synced = syncs.stop()
    watched = {k: (stat(p)[1] - watch0[k]) / TICK for k, p in watch.items()}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(sink_summary(sinks.records(), expected)["problems"]):
        time.sleep(0.5)  # the last connections' records come when they close
    sinks.wait_quiet()
    s = sink_summary(sinks.records(), expected)
    problems = s["problems"]
    if set(ml.delays) != expected:
        problems.append(f"{len(ml.delays)} of {a.messages} recipients have status=sent")
    if set(ml.levels) != {"Verified"} or ml.other_tls:
        problems.append(f"TLS levels in the log: {ml.levels}, {len(ml.other_tls)} deliveries "
                        "without tls=dane")
    if problems:
        fail(f"{name}: " + "; ".join(problems))
    n = len(ml.delays)
    return {"msgs/s": n / elapsed, "CPU ms/msg": 1000 * cpu / n,
            "p50 s": pct(ml.delays.values(), .5), "p99 s": pct(ml.delays.values(), .99),
            "peak RSS MiB": mem.rss / 1024, "peak PSS MiB": mem.pss / 1024,
            "TLS sessions": s["sessions"], "TLS resumptions": s["resumed"],
            "Verified TLS lines": ml.levels.get("Verified", 0), "delivered": n,
            "seconds": elapsed, "injector msgs/s": inj["msgs_per_s"],
            "injector CPU ms/msg": inj["cpu_ms_per_msg"],
            "MTA cores used": cpu / elapsed, "machine busy %": 100 * busy / total,
            "machine iowait %": 100 * iowait / total, "run-queue wait ms/msg": 1000 * waited / n,
            **({"fsync per msg": synced["fsync"] / n, "fdatasync per msg": synced["fdatasync"] / n}
               if synced else {}),
            **{k: 1000 * v / n for k, v in watched.items()}}


def wait_port(port, timeout=30):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    fail(f"nothing listens on 127.0.0.1:{port}")


# ---- the two MTAs -----------------------------------------------------------------------

def start_relay(a, work):
    log = os.path.join(work, "relay.log")
    conf = os.path.join(work, "relay.toml")
    with open(conf, "w") as f:
        f.write(f"""[server]
listen = ["127.0.0.1:{RELAY_PORT}"]
hostname = "relay.test"
user = ""
max_connections_per_client = 1000
[spool]
dir = "{work}/spool"
[dns]
unbound_conf = "{os.environ['LAB_UNBOUND_CONF']}"
[log]
target = "file:{log}"
""")
    relay = subprocess.Popen([a.relay, "serve", "-c", conf])
    deadline = time.monotonic() + 30
    while not (os.path.exists(log) and "daemon started" in open(log).read()):
        if relay.poll() is not None or time.monotonic() > deadline:
            fail(f"dane-relay did not start (exit {relay.poll()})")
        time.sleep(0.05)
    return relay, log


MAIN_CF = """compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = bench-postfix
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
myhostname = relay.test
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = all
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_dns_support_level = dnssec
smtp_tls_security_level = dane
smtp_tls_loglevel = 1
smtp_tls_session_cache_database = btree:{d}/data/smtp_scache
biff = no
"""

# Debian's master.cf services, without chroot, smtpd on the bench port.
MASTER_CF = """127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def start_dns_stub(work):
    ready = os.path.join(work, "ubstub.ready")
    stub = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/lab/ubstub.py"), "-C",
                             os.environ["LAB_UNBOUND_CONF"], DNS_STUB, ready])
    deadline = time.monotonic() + 20
    while not os.path.exists(ready):
        if stub.poll() is not None or time.monotonic() > deadline:
            fail("the DNS stub (tests/lab/ubstub.py) did not start")
        time.sleep(0.05)
    return stub


def start_postfix(work):
    """A private Postfix instance whose every process resolves through the DNS stub:
    its master starts in its own mount namespace, with a resolv.conf bind-mounted
    over /etc/resolv.conf (the system's file is untouched)."""
    pf = os.path.join(work, "postfix")
    for sub in ("etc", "queue", "data"):
        os.makedirs(os.path.join(pf, sub))
    os.chmod(work, 0o755)
    shutil.chown(os.path.join(pf, "data"), "postfix")
    with open(os.path.join(pf, "etc", "main.cf"), "w") as f:
        f.write(MAIN_CF.format(d=pf))
    with open(os.path.join(pf, "etc", "master.cf"), "w") as f:
        f.write(MASTER_CF.format(port=POSTFIX_PORT))
    resolv = os.path.join(pf, "resolv.conf")
    with open(resolv, "w") as f:
        f.write(f"nameserver {DNS_STUB}\noptions trust-ad edns0\n")
    etc = os.path.join(pf, "etc")
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        f"mount --bind {resolv} /etc/resolv.conf && exec postfix -c {etc} start"],
                       capture_output=True, text=True)
    if p.returncode:
        fail(f"postfix start: {p.stdout}{p.stderr}")
    wait_port(POSTFIX_PORT)
    with open(os.path.join(pf, "queue", "pid", "master.pid")) as f:
        return pf, int(f.read().strip())


def stop_postfix(pf, master):
    subprocess.run(["postfix", "-c", os.path.join(pf, "etc"), "stop"], capture_output=True)
    deadline = time.monotonic() + 10
    while stat(master) and time.monotonic() < deadline:
        time.sleep(0.1)


# ---- ceilings, the table, main ------------------------------------------------------------

def sink_pid():
    """The lab's sink process (one for every sink), found by its command line."""
    lab_dir = os.environ["LAB_DIR"]
    for p in os.listdir("/proc"):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if any(x.endswith(b"sink.py") for x in args) and any(
                x.startswith(lab_dir.encode()) for x in args):
            return int(p)
    fail("the lab's sink process is not running")


def ceilings(a, sinks, sink):
    null = subprocess.Popen([a.null_smtp, "127.0.0.1", str(NULL_PORT)])
    try:
        wait_port(NULL_PORT)
        n = inject(a, [f"127.0.0.1:{NULL_PORT}"])
    finally:
        null.terminate()
        null.wait()
    sinks.mark()
    cpu0 = stat(sink)[1]
    t = inject(a, sinks.addrs, starttls=True)
    sinks.wait_quiet()
    expected = [f"user{i}@{a.domain_list[i % len(a.domain_list)]}" for i in range(a.messages)]
    s = sink_summary(sinks.records(), expected)
    if s["problems"]:
        fail("sink ceiling: " + "; ".join(s["problems"]))
    t["sink CPU ms/msg"] = 1000 * (stat(sink)[1] - cpu0) / TICK / a.messages
    return n, t


# (figure, format); RSS and PSS are summed over every process of the MTA.
ROWS = [("msgs/s", "{:.0f}"), ("CPU ms/msg", "{:.2f}"), ("p50 s", "{:.2f}"), ("p99 s", "{:.2f}"),
        ("peak RSS MiB", "{:.1f}"), ("peak PSS MiB", "{:.1f}"), ("TLS sessions", "{}"),
        ("TLS resumptions", "{}"), ("Verified TLS lines", "{}"), ("delivered", "{}"),
        ("injector msgs/s", "{:.0f}"), ("injector CPU ms/msg", "{:.2f}"),
        ("sink CPU ms/msg", "{:.2f}"),
        ("DNS stub CPU ms/msg", "{:.2f}"), ("MTA cores used", "{:.2f}"),
        ("run-queue wait ms/msg", "{:.2f}"), ("machine busy %", "{:.0f}"),
        ("machine iowait %", "{:.0f}"), ("fsync per msg", "{:.2f}"),
        ("fdatasync per msg", "{:.2f}")]


def table(a, relay, postfix, null, sink):
    print(f"\n{a.messages} messages of {a.size} B, {a.conns} injecting connections, "
          f"{len(a.domain_list)} DANE domains (3 1 1), {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, load average at the end "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'figure':<34} {'dane-relay':>11} {'Postfix 3.7':>12} {'relay/Postfix':>14}")
    for name, fmt in ROWS:
        r, p = relay.get(name), postfix.get(name)
        cell = lambda v: fmt.format(v) if v is not None else "-"
        ratio = f"{r / p:.2f}" if r is not None and p else "-"
        print(f"{name:<34} {cell(r):>11} {cell(p):>12} {ratio:>14}")
    print(f"{'ceiling: injector -> null server':<34} {null['msgs_per_s']:>11.0f} msgs/s, "
          f"injector CPU {null['cpu_ms_per_msg']:.3f} ms/msg (plain text)")
    print(f"{'ceiling: injector -> lab sinks':<34} {sink['msgs_per_s']:>11.0f} msgs/s over "
          f"STARTTLS, {sink['tls_sessions']} sessions, sink CPU {sink['sink CPU ms/msg']:.2f} "
          f"ms/msg, injector CPU {sink['cpu_ms_per_msg']:.3f} ms/msg")


def args():
    p = argparse.ArgumentParser()
    p.add_argument("--messages", type=int, default=5000)
    p.add_argument("--size", type=int, default=10 * 1024)
    p.add_argument("--conns", type=int, default=20)
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait per MTA")
    p.add_argument("--relay-only", action="store_true",
                   help="measure dane-relay alone (quick iterations; no ratios)")
    p.add_argument("--relay", default=os.path.join(ROOT, "build/relay/dane-relay"))
    p.add_argument("--inject", default=os.path.join(ROOT, "build/tests/bench/bench_inject"))
    p.add_argument("--null-smtp", default=os.path.join(ROOT, "build/tests/bench/bench_null_smtp"))
    a = p.parse_args()
    lab = json.load(open(os.environ["LAB_JSON"]))
    if not lab["bulk"]:
        fail("run inside `tests/lab/lab run --bulk D`")
    a.domain_list = lab["bulk"]["domains"]
    return a, lab


def main():
    a, lab = args()
    sinks, sink = Sinks(lab), sink_pid()
    work = tempfile.mkdtemp(prefix="dr-vs-postfix-")
    try:
        measure(a, sinks, sink, work)
    except SystemExit:
        print(f"relay_vs_postfix: the MTAs' logs and queues are kept in {work}", file=sys.stderr)
        raise
    shutil.rmtree(work, ignore_errors=True)


def measure(a, sinks, sink, work):
    null, sink_ceiling = ceilings(a, sinks, sink)
    relay, log = start_relay(a, work)
    try:
        r = run_workload(a, "dane-relay", relay.pid, RELAY_PORT, log, sinks,
                         {"sink CPU ms/msg": sink})
    finally:
        relay.terminate()
        relay.wait()
    if a.relay_only:
        for k, v in r.items():
            print(f"{k:>28}: {v}")
        return
    stub = start_dns_stub(work)
    try:
        pf, master = start_postfix(work)
        try:
            p = run_workload(a, "Postfix", master, POSTFIX_PORT, os.path.join(pf, "maillog"),
                             sinks, {"sink CPU ms/msg": sink, "DNS stub CPU ms/msg": stub.pid})
        finally:
            stop_postfix(pf, master)
    finally:
        stub.terminate()
        stub.wait()
    table(a, r, p, null, sink_ceiling)


if __name__ == "__main__":
    main()

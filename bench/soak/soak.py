"""The isolation soak (issue 10): healthy guests keep working while a hostile peer repeats every attack.

Theory of operation: one `switchyard up` (private run directory, web view on loopback) serves
  * healthy traffic: two namespaces (soak-a 10.0.2.101, soak-b 10.0.2.102) on netns ports, with iperf3
    between them for a few seconds every minute (L2 throughput) and a 10 MB download by soak-a from an
    HTTP server on the host's loopback through the gateway (NAT); plus two stream peers echoing 100
    frames a second, whose longest silence is recorded (a frozen loop shows here first);
  * the hostile peer: bench/soak/hostile.py's attacks one after another, without pause, for the whole
    run (rogue vhost-user front-ends, stream and control floods, MAC/DHCP/flow floods), and from a third
    namespace (soak-c 10.0.2.103) 600 stalled TCP flows to a host peer that never reads, and 70 idle
    connections to the daemon's own web port through the gateway.
Every minute it records the daemon's RSS, descriptors, mappings, threads and CPU time from /proc, and
the healthy figures; the report (markdown) goes to --out with the command that produced it. The run is
bounded by --minutes; every namespace and process it made is removed at the end, even on Ctrl-C.
Safety: traffic goes only to the daemon's sockets, to the soak's namespaces and to host loopback.
"""
import argparse
import datetime
import http.server
import json
import os
import platform
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile  # noqa: E402

NAMESPACES = {"soak-a": "10.0.2.101", "soak-b": "10.0.2.102", "soak-c": "10.0.2.103"}
BLOB = os.urandom(10 * 1024 * 1024)


def run(*args, check=True, timeout=60, **kw):
    return subprocess.run(args, check=check, timeout=timeout, capture_output=True, text=True, **kw)


def ns_name(prefix, short):
    return f"{prefix}-{short}"


class Blob(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", str(len(BLOB)))
        self.end_headers()
        try:
            self.wfile.write(BLOB)
        except OSError:
            pass

    def log_message(self, *args):
        pass


class Sink:
    """A host TCP peer that accepts and never reads (the stalled flows' far end)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.sock.settimeout(0.5)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
                if len(self.held) > 2000:
                    self.held.pop(0).close()
            except OSError:
                pass


class EchoPair:
    """Two stream peers: A sends B 100 frames a second, B echoes; the longest silence at A is recorded."""

    def __init__(self, stream_socket):
        self.a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.a.connect(stream_socket)
        self.b = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.b.connect(stream_socket)
        self.mac_a = b"\x02\x5e\x00\x00\xaa\x01"
        self.mac_b = b"\x02\x5e\x00\x00\xaa\x02"
        self.sent = 0
        self.echoed = 0
        self.last = time.monotonic()
        self.max_gap = 0.0
        self.failure = None
        self.stop = False
        for target in (self._send, self._echo, self._receive):
            threading.Thread(target=target, daemon=True).start()

    def take_gap(self):
        now = time.monotonic()
        gap = max(self.max_gap, now - self.last)
        self.max_gap = 0.0
        return gap

    @staticmethod
    def _frames(sock):
        buf = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buf += chunk
            while len(buf) >= 4:
                n = struct.unpack(">I", buf[:4])[0]
                if len(buf) < 4 + n:
                    break
                yield buf[4:4 + n]
                buf = buf[4 + n:]

    def _frame(self, dst, src, seq):
        f = dst + src + b"\x88\xb5" + struct.pack(">Q", seq) + bytes(38)
        return struct.pack(">I", len(f)) + f

    def _send(self):
        seq = 0
        try:
            while not self.stop:
                self.a.sendall(self._frame(self.mac_b, self.mac_a, seq))
                self.sent += 1
                seq += 1
                time.sleep(0.01)
        except OSError as e:
            self.failure = self.failure or f"A send: {e}"

    def _echo(self):
        try:
            for f in self._frames(self.b):
                if f[6:12] == self.mac_a and f[12:14] == b"\x88\xb5":
                    self.b.sendall(self._frame(self.mac_a, self.mac_b, struct.unpack(">Q", f[14:22])[0]))
            self.failure = self.failure or "B closed by the daemon"
        except OSError as e:
            self.failure = self.failure or f"B: {e}"

    def _receive(self):
        try:
            for f in self._frames(self.a):
                if f[6:12] == self.mac_b and f[12:14] == b"\x88\xb5":
                    now = time.monotonic()
                    self.max_gap = max(self.max_gap, now - self.last)
                    self.last = now
                    self.echoed += 1
            self.failure = self.failure or "A closed by the daemon"
        except OSError as e:
            self.failure = self.failure or f"A: {e}"


STALLED_FLOWS = r"""
import socket, sys, time
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for _ in range(count):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, port)); s.setblocking(False)
        try:
            while True: s.send(b"x" * 65536)
        except OSError: pass
        held.append(s)
    except OSError:
        s.close()
time.sleep(10)
print(len(held))
"""

OWN_LISTENER = r"""
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
held, ok = [], 0
for _ in range(70):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, port)); held.append(s)
    except OSError:
        s.close()
s = socket.socket(); s.settimeout(3)
try:
    s.connect((host, port)); s.sendall(b"GET /api/state HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    ok = 1 if s.recv(100).startswith(b"HTTP/1.1 200") else 0
except OSError:
    pass
time.sleep(2)
print(len(held), ok)
"""


class Soak:
    def __init__(self, args):
        self.args = args
        self.prefix = f"sysoak{os.getpid()}"
        self.run_dir = tempfile.mkdtemp(prefix="sy-soak-")
        self.daemon = None
        self.rows = []
        self.attacks = {name: 0 for name, _ in hostile.ROUND}
        self.attack_errors = {}
        self.guest_attacks = {"stalled-flows": [], "own-web-port": []}
        self.stop = threading.Event()
        self.log_path = os.path.join(self.run_dir, "daemon.log")

    # ---- setup ----
    def start(self):
        log = open(self.log_path, "w")
        self.daemon = subprocess.Popen([self.args.bin, "up", "--run-dir", self.run_dir, "--http", "127.0.0.1:0"],
                                       stdout=subprocess.PIPE, stderr=log, text=True)
        self.http_port = None
        deadline = time.time() + 60
        for line in self.daemon.stdout:
            m = re.search(r"web view http://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.http_port = int(m.group(1))
            if line.strip() == "switchyard: ready" or time.time() > deadline:
                break
        threading.Thread(target=lambda: [None for _ in self.daemon.stdout], daemon=True).start()
        if self.http_port is None:
            raise SystemExit("soak: the daemon did not print its web port; see " + self.log_path)

        self.web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Blob)
        threading.Thread(target=self.web.serve_forever, daemon=True).start()
        self.sink = Sink()
        for short, ip in NAMESPACES.items():
            ns = ns_name(self.prefix, short)
            run("ip", "netns", "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
            run(self.args.bin, "port", "add", "default", short, f"netns,name={ns}", "--run-dir", self.run_dir)
            run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
            run("ip", "-n", ns, "link", "set", "eth0", "up")
            run("ip", "-n", ns, "route", "add", "default", "via", "10.0.2.2")
        self.iperf_server = subprocess.Popen(["ip", "netns", "exec", ns_name(self.prefix, "soak-b"), "iperf3", "-s", "-B", NAMESPACES["soak-b"]],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        self.echo = EchoPair(os.path.join(self.run_dir, "stream.sock"))

    def cleanup(self):
        self.stop.set()
        for p in (getattr(self, "iperf_server", None),):
            if p and p.poll() is None:
                p.terminate()
                p.wait(5)
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
        for short in NAMESPACES:
            run("ip", "netns", "del", ns_name(self.prefix, short), check=False)

    # ---- the hostile peer ----
    def attack_loop(self):
        while not self.stop.is_set():
            for name, attack in hostile.ROUND:
                if self.stop.is_set() or self.daemon.poll() is not None:
                    return
                try:
                    attack(self.run_dir, self.sink.port)
                except Exception as e:  # an attack that cannot even start is recorded, never fatal
                    self.attack_errors[name] = f"{type(e).__name__}: {e}"
                self.attacks[name] += 1

    def guest_attack_loop(self):
        ns = ns_name(self.prefix, "soak-c")
        while not self.stop.is_set() and self.daemon.poll() is None:
            r = run("ip", "netns", "exec", ns, "/usr/bin/python3", "-c", STALLED_FLOWS, "10.0.2.2", str(self.sink.port), "600",
                    check=False, timeout=120)
            self.guest_attacks["stalled-flows"].append(r.stdout.strip() or r.stderr.strip()[-80:])
            r = run("ip", "netns", "exec", ns, "/usr/bin/python3", "-c", OWN_LISTENER, "10.0.2.2", str(self.http_port),
                    check=False, timeout=120)
            self.guest_attacks["own-web-port"].append(r.stdout.strip() or r.stderr.strip()[-80:])
            self.stop.wait(5)

    # ---- measurements ----
    def proc(self):
        pid = self.daemon.pid
        status = open(f"/proc/{pid}/status").read()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) // 1024
        threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        maps = sum(1 for _ in open(f"/proc/{pid}/maps"))
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return rss, fds, maps, threads, cpu

    def healthy(self):
        a = ns_name(self.prefix, "soak-a")
        r = run("ip", "netns", "exec", a, "iperf3", "-c", NAMESPACES["soak-b"], "-t", "5", "-J", check=False, timeout=40)
        try:
            gbps = json.loads(r.stdout)["end"]["sum_received"]["bits_per_second"] / 1e9
        except (ValueError, KeyError):
            gbps = 0.0
        start = time.monotonic()
        r = run("ip", "netns", "exec", a, "busybox", "wget", "-q", "-O", "/dev/null", f"http://10.0.2.2:{self.web.server_port}/blob",
                check=False, timeout=60)
        download = time.monotonic() - start if r.returncode == 0 else None
        return gbps, download

    def sample(self, minute):
        alive = self.daemon.poll() is None
        rss = fds = maps = threads = cpu = None
        if alive:
            rss, fds, maps, threads, cpu = self.proc()
        gbps, download = self.healthy() if alive else (0.0, None)
        row = {
            "minute": minute, "alive": alive, "rss_mb": rss, "fds": fds, "maps": maps, "threads": threads, "cpu_s": cpu,
            "l2_gbps": gbps, "nat_10mb_s": download, "echoed": self.echo.echoed, "echo_max_gap_s": self.echo.take_gap(),
            "attack_rounds": min(self.attacks.values()),
        }
        self.rows.append(row)
        print("soak: " + " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), file=sys.stderr, flush=True)
        return alive

    def main(self):
        self.start()
        self.sample(0)
        threading.Thread(target=self.attack_loop, daemon=True).start()
        threading.Thread(target=self.guest_attack_loop, daemon=True).start()
        end = time.monotonic() + 60 * self.args.minutes
        minute = 0
        while time.monotonic() < end:
            self.stop.wait(max(0.0, min(60.0, end - time.monotonic()) - 6))  # the sample itself takes ~6 s
            minute += 1
            if not self.sample(minute):
                break
        self.stop.set()
        time.sleep(15)  # let the last attacks end and their resources go back
        self.sample(minute + 1)
        self.report()

    def report(self):
        rows = self.rows
        alive = all(r["alive"] for r in rows)
        live = [r for r in rows if r["alive"]]
        def col(key):
            return [r[key] for r in live if r[key] is not None]
        commit = run("git", "rev-parse", "--short", "HEAD", check=False).stdout.strip()
        out = [
            f"# Isolation soak, {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC",
            "",
            f"Command: `{self.args.command}` (commit {commit}, {os.cpu_count()} CPUs, Linux {platform.release()})",
            "",
            "One `switchyard up` with default limits; healthy guests: namespaces soak-a and soak-b on netns ports (iperf3 5 s "
            "every minute, and a 10 MB download by soak-a from host loopback through the gateway), and two stream peers echoing "
            "100 frames/s. The hostile peer repeats every attack of bench/soak/hostile.py without pause, and namespace soak-c "
            "repeatedly holds 600 stalled TCP flows and 70 connections to the daemon's own web port through the gateway.",
            "",
            f"**Daemon survived: {'yes' if alive and self.daemon.poll() is None else 'NO'}**; echo pair: {self.echo.echoed} of "
            f"{self.echo.sent} frames echoed, failure: {self.echo.failure or 'none'}.",
            "",
        ]
        if col("rss_mb"):
            out += [
                "| | first | median | max | last |",
                "|---|---|---|---|---|",
            ]
            for key, label in (("rss_mb", "RSS (MiB)"), ("fds", "descriptors"), ("maps", "mappings"), ("threads", "threads"),
                               ("l2_gbps", "L2 iperf3 a→b (Gbit/s)"), ("nat_10mb_s", "10 MB via NAT (s)"), ("echo_max_gap_s", "echo max gap (s)")):
                v = col(key)
                if v:
                    out.append(f"| {label} | {v[0]:.2f} | {statistics.median(v):.2f} | {max(v):.2f} | {v[-1]:.2f} |")
            out.append("")
        out += ["Attacks completed: " + ", ".join(f"{k} ×{v}" for k, v in self.attacks.items()), ""]
        if self.attack_errors:
            out += ["Attacks that could not run (last error): " + "; ".join(f"{k}: {v}" for k, v in self.attack_errors.items()), ""]
        for k, v in self.guest_attacks.items():
            out.append(f"Guest attack {k}: {len(v)} rounds; last results (flows held / `connections GET-ok`): {v[-3:]}")
        out += ["", "## Every minute", "",
                "| minute | alive | RSS MiB | fds | maps | threads | CPU s | L2 Gbit/s | NAT 10 MB s | echoed | echo max gap s | attack rounds |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            out.append("| " + " | ".join(
                (f"{r[k]:.2f}" if isinstance(r[k], float) else str(r[k])) for k in
                ("minute", "alive", "rss_mb", "fds", "maps", "threads", "cpu_s", "l2_gbps", "nat_10mb_s", "echoed", "echo_max_gap_s", "attack_rounds")) + " |")
        if not alive:
            out += ["", "The daemon died. Its last log lines:", "", "```", *open(self.log_path).read().splitlines()[-30:], "```"]
        text = "\n".join(out) + "\n"
        with open(self.args.out, "w") as f:
            f.write(text)
        print(text)
        print(f"soak: report in {self.args.out}", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", required=True, help="the switchyard executable")
    p.add_argument("--minutes", type=float, default=60, help="how long the attacks go on (default 60)")
    p.add_argument("--out", required=True, help="the report (markdown)")
    p.add_argument("--command", default=" ".join(sys.argv), help=argparse.SUPPRESS)
    args = p.parse_args()
    soak = Soak(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        soak.main()
    finally:
        soak.cleanup()


if __name__ == "__main__":
    main()

"""The hostile peer of the soak (bench/run-soak.sh): every attack of issue 10, one round at a time.

Theory of operation: each function below is one attack, written the way a rogue front-end, stream peer or
guest would mount it, against a daemon whose run directory is RUN_DIR. An attack never waits for the
daemon to misbehave: it does its harm, gives the daemon a moment, and cleans up what it holds, so a round
is bounded in time and in what the attacker keeps. What the daemon did about it is read from its counters
and /proc by the soak driver, not here. Nothing here sends traffic anywhere but the daemon's sockets in
RUN_DIR and, for the guest-side attacks, addresses inside the soak's own namespaces.
"""
import mmap
import os
import random
import socket
import struct
import time

# vhost-user requests (interop.md §2; vhost-user.rst)
GET_FEATURES, SET_FEATURES, SET_OWNER, SET_MEM_TABLE = 1, 2, 3, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, SET_VRING_KICK, SET_VRING_CALL = 8, 9, 10, 12, 13
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, ADD_MEM_REG = 15, 16, 37
VERSION_1 = 1 << 32
PROTOCOL_FEATURES = 1 << 30
PROTOCOL_CONFIGURE_MEM_SLOTS = 1 << 15
EFD_MAX = 0xFFFFFFFFFFFFFFFE
UADDR = 0x7F0000000000
RING = 256


class FrontEnd:
    """A minimal vhost-user front-end: just enough protocol to reach the data path with hostile fds."""

    def __init__(self, path, timeout=3.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)

    def send(self, request, payload=b"", fds=()):
        header = struct.pack("<III", request, 0x1, len(payload))
        if fds:
            socket.send_fds(self.sock, [header + payload], list(fds))
        else:
            self.sock.sendall(header + payload)

    def get_u64(self, request):
        self.send(request)
        header = self._recv_exact(12)
        _, _, size = struct.unpack("<III", header)
        return struct.unpack("<Q", self._recv_exact(size)[:8])[0]

    def _recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed by the daemon")
            data += chunk
        return data

    def closed_by_daemon(self, wait=1.0):
        self.sock.settimeout(wait)
        try:
            while True:
                if not self.sock.recv(4096):
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True

    def close(self):
        self.sock.close()

    def start(self, protocol=0):
        offered = self.get_u64(GET_FEATURES)
        if protocol and offered & PROTOCOL_FEATURES:
            _ = self.get_u64(GET_PROTOCOL_FEATURES)
            self.send(SET_PROTOCOL_FEATURES, struct.pack("<Q", protocol))
        self.send(SET_OWNER)
        self.send(SET_FEATURES, struct.pack("<Q", VERSION_1 | (PROTOCOL_FEATURES if protocol else 0)))

    def mem_table(self, fd, size):
        region = struct.pack("<QQQQ", 0, size, UADDR, 0)
        self.send(SET_MEM_TABLE, struct.pack("<II", 1, 0) + region, [fd])

    def ring(self, index, kick_fd, call_fd, base):
        desc = UADDR + base
        avail = desc + 16 * RING
        used = avail + 0x1000
        self.send(SET_VRING_NUM, struct.pack("<II", index, RING))
        self.send(SET_VRING_ADDR, struct.pack("<IIQQQQ", index, 0, desc, used, avail, 0))
        self.send(SET_VRING_BASE, struct.pack("<II", index, 0))
        self.send(SET_VRING_CALL, struct.pack("<Q", index), [call_fd])
        self.send(SET_VRING_KICK, struct.pack("<Q", index), [kick_fd])


def _guest_memory(size, sealable):
    fd = os.memfd_create("sy-soak-guest", os.MFD_CLOEXEC | (os.MFD_ALLOW_SEALING if sealable else 0))
    os.ftruncate(fd, size)
    return fd


def _one_tx_frame(fd, size):
    """Writes one 60-byte frame on TX ring 1 (at 0x10000) so that a kick makes the daemon read guest memory."""
    m = mmap.mmap(fd, size)
    base = 0x10000
    frame_at = 0x40000
    m[base:base + 16] = struct.pack("<QIHH", frame_at, 12 + 60, 0, 0)
    avail = base + 16 * RING
    m[avail:avail + 6] = struct.pack("<HHH", 0, 1, 0)
    m[frame_at:frame_at + 12 + 60] = bytes(12) + b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x99" + b"\x88\xb5" + bytes(46)
    m.close()


def truncated_memory(run_dir, sealable):
    """Hole 1: map guest memory, set up a TX ring, shrink the memfd to 0, kick."""
    size = 1 << 20
    fe = FrontEnd(os.path.join(run_dir, "vhost-user.sock"))
    fd = _guest_memory(size, sealable)
    kicks = [os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK) for _ in range(2)]
    calls = [os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK) for _ in range(2)]
    try:
        _one_tx_frame(fd, size)
        fe.start()
        fe.mem_table(fd, size)
        fe.ring(0, kicks[0], calls[0], 0x20000)
        fe.ring(1, kicks[1], calls[1], 0x10000)
        time.sleep(0.1)
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass  # sealed by the daemon: the attack is over
        os.eventfd_write(kicks[1], 1)
        fe.closed_by_daemon(0.5)
    except OSError:
        pass
    finally:
        fe.close()
        for f in [fd, *kicks, *calls]:
            os.close(f)


def saturated_call_fd(run_dir):
    """Hole 2: a blocking call eventfd whose counter is at its maximum, then a frame for the guest."""
    size = 1 << 20
    fe = FrontEnd(os.path.join(run_dir, "vhost-user.sock"))
    fd = _guest_memory(size, True)
    kicks = [os.eventfd(0, os.EFD_CLOEXEC) for _ in range(2)]
    calls = [os.eventfd(0, os.EFD_CLOEXEC) for _ in range(2)]  # blocking
    try:
        os.eventfd_write(calls[0], EFD_MAX)
        os.eventfd_write(calls[1], EFD_MAX)
        fe.start()
        fe.mem_table(fd, size)
        fe.ring(0, kicks[0], calls[0], 0x20000)
        fe.ring(1, kicks[1], calls[1], 0x10000)
        _one_tx_frame(fd, size)
        os.eventfd_write(kicks[1], 1)
        time.sleep(1.0)
    except OSError:
        pass
    finally:
        fe.close()
        for f in [fd, *kicks, *calls]:
            os.close(f)


def odd_kick_fds(run_dir):
    """Holes 5 and 6: a memfd (epoll cannot watch it) and a socket whose peer closed, as kick fds."""
    size = 1 << 20
    for kind in ("memfd", "dead-socket"):
        fe = FrontEnd(os.path.join(run_dir, "vhost-user.sock"))
        fd = _guest_memory(size, True)
        if kind == "memfd":
            odd = os.memfd_create("sy-soak-kick", os.MFD_CLOEXEC)
            keep = []
        else:
            a, b = socket.socketpair()
            b.close()
            odd = os.dup(a.fileno())
            keep = [a]
        call = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            fe.start()
            fe.mem_table(fd, size)
            fe.ring(0, odd, call, 0x20000)
            fe.ring(1, odd, call, 0x10000)
            fe.closed_by_daemon(1.0)
        except OSError:
            pass
        finally:
            fe.close()
            for f in (fd, odd, call):
                os.close(f)
            for s in keep:
                s.close()


def many_mappings(run_dir, connections=8, regions=509):
    """Hole 3: many connections, each adding hundreds of distinct 4 KiB regions."""
    held = []
    try:
        for _ in range(connections):
            fe = FrontEnd(os.path.join(run_dir, "vhost-user.sock"))
            held.append(fe)
            try:
                fe.start(protocol=PROTOCOL_CONFIGURE_MEM_SLOTS)
                for i in range(regions):
                    fd = os.memfd_create("sy-soak-reg", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
                    os.ftruncate(fd, 4096)
                    region = struct.pack("<QQQQ", i * 0x10000, 4096, UADDR + i * 0x10000, 0)
                    fe.send(ADD_MEM_REG, struct.pack("<Q", 0) + region, [fd])
                    os.close(fd)
            except OSError:
                pass
        time.sleep(1.0)
    finally:
        for fe in held:
            fe.close()


def connection_flood(run_dir, count=600, hold=2.0):
    """Hole 4: hold hundreds of idle connections to the stream socket and the control socket."""
    held = []
    for name in ("stream.sock", "control.sock"):
        for _ in range(count // 2):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(os.path.join(run_dir, name))
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            held.append(s)
    time.sleep(hold)
    for s in held:
        s.close()


def _stream_peer(run_dir):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.path.join(run_dir, "stream.sock"))
    return s


def _frame(dst, src, ethertype, payload):
    frame = dst + src + struct.pack(">H", ethertype) + payload
    frame += bytes(max(0, 60 - len(frame)))
    return struct.pack(">I", len(frame)) + frame


def _mac(i):
    return bytes([0x02, 0xBA, (i >> 24) & 0xFF, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])


def bad_stream_peers(run_dir):
    """A zero and an oversized length prefix: only that connection closes."""
    for prefix in (struct.pack(">I", 0), struct.pack(">I", 69633)):
        s = _stream_peer(run_dir)
        try:
            s.sendall(prefix)
            s.settimeout(1.0)
            while s.recv(4096):
                pass
        except OSError:
            pass
        finally:
            s.close()


GATEWAY_MAC = b"\x52\x55\x0a\x00\x02\x02"


def mac_flood(run_dir, count=20000):
    """FDB: one peer's 20,000 source MACs. Sent to the gateway's MAC (known, so not flooded): what is tested is
    the forwarding database, and flooding 20,000 frames to the soak's own echo peers would measure their reader."""
    s = _stream_peer(run_dir)
    try:
        burst = b"".join(_frame(GATEWAY_MAC, _mac(0x100000 + i), 0x88B5, b"flood") for i in range(count))
        s.sendall(burst)
        time.sleep(0.5)
    except OSError:
        pass
    finally:
        s.close()


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def _ipv4_udp(src_ip, dst_ip, sport, dport, payload):
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src_ip, dst_ip)
    header = header[:10] + struct.pack(">H", _checksum(header)) + header[12:]
    return header + udp


def _ipv4_tcp_syn(src_ip, dst_ip, sport, dport):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, random.getrandbits(32), 0, 5 << 4, 0x02, 65535, 0, 0)
    pseudo = src_ip + dst_ip + struct.pack(">BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack(">H", _checksum(pseudo + tcp)) + tcp[18:]
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, src_ip, dst_ip)
    header = header[:10] + struct.pack(">H", _checksum(header)) + header[12:]
    return header + tcp


def dhcp_flood(run_dir, count=300):
    """DHCP: DISCOVERs from hundreds of MACs on one port."""
    s = _stream_peer(run_dir)
    try:
        out = []
        for i in range(count):
            mac = _mac(0x200000 + i)
            bootp = struct.pack(">BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, random.getrandbits(32), 0, 0x8000,
                                bytes(4), bytes(4), bytes(4), bytes(4), mac + bytes(10), bytes(64), bytes(128))
            options = b"\x63\x82\x53\x63" + b"\x35\x01\x01" + b"\xff"
            ip = _ipv4_udp(bytes(4), b"\xff\xff\xff\xff", 68, 67, bootp + options)
            out.append(_frame(b"\xff" * 6, mac, 0x0800, ip))
        s.sendall(b"".join(out))
        time.sleep(1.0)
    except OSError:
        pass
    finally:
        s.close()


def spoofed_flow_flood(run_dir, host_port, macs=8, per_mac=2500):
    """Hole 9: TCP SYNs to the gateway from a handful of spoofed MACs and addresses."""
    s = _stream_peer(run_dir)
    try:
        gateway_mac = GATEWAY_MAC
        out = []
        for m in range(macs):
            mac = _mac(0x300000 + m)
            src_ip = bytes([10, 0, 2, 200 + m])
            for i in range(per_mac):
                out.append(_frame(b"\xff" * 6 if i == 0 else gateway_mac, mac, 0x0800,
                                  _ipv4_tcp_syn(src_ip, bytes([10, 0, 2, 2]), 20000 + i, host_port)))
        s.sendall(b"".join(out))
        time.sleep(1.0)
    except OSError:
        pass
    finally:
        s.close()


ROUND = [
    ("truncated-memory (unsealable memfd)", lambda d, p: truncated_memory(d, sealable=False)),
    ("truncated-memory (sealable memfd)", lambda d, p: truncated_memory(d, sealable=True)),
    ("saturated-call-fd", lambda d, p: saturated_call_fd(d)),
    ("odd-kick-fds", lambda d, p: odd_kick_fds(d)),
    ("many-mappings", lambda d, p: many_mappings(d)),
    ("connection-flood", lambda d, p: connection_flood(d)),
    ("bad-stream-peers", lambda d, p: bad_stream_peers(d)),
    ("mac-flood", lambda d, p: mac_flood(d)),
    ("dhcp-flood", lambda d, p: dhcp_flood(d)),
    ("spoofed-flow-flood", lambda d, p: spoofed_flow_flood(d, p)),
]

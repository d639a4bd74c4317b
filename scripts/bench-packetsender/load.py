#!/usr/bin/env python3
"""Load generator for scripts/bench-packetsender.sh. Sends ONLY to 127.0.0.1 (the caller runs it
inside a private network namespace, so that is the namespace's own loopback).

  load.py udp PORT RATE SECS [SIZE]  -> prints "sent N secs T" (N datagrams of SIZE bytes, paced)
  load.py tcp PORT SECS WARMUP       -> prints "bytes B secs T": bytes the server consumed in the
                                       SECS after WARMUP (bytes written minus what still sits in the
                                       client's send queue and the server's receive queue)
"""
import fcntl
import os
import socket
import struct
import subprocess
import sys
import termios
import time

HOST = "127.0.0.1"  # never anything else
PER_PROC = 120_000  # datagrams/s one Python process paces reliably; above, fork more


def udp_one(port, rate, secs, size, out_fd):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    payload = b"x" * size
    dst = (HOST, port)
    sendto = s.sendto
    sent = 0
    t0 = time.perf_counter()
    end = t0 + secs
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        due = int((now - t0) * rate) - sent
        if due <= 0:
            time.sleep(0.0002)
            continue
        if due > 256:  # never burst more than 256 back to back
            due = 256
        for _ in range(due):
            try:
                sendto(payload, dst)
                sent += 1
            except (BlockingIOError, OSError):
                break
    os.write(out_fd, f"{sent} {time.perf_counter() - t0}\n".encode())


def udp(port, rate, secs, size=64):
    nproc = max(1, -(-rate // PER_PROC))
    r, w = os.pipe()
    pids = []
    for i in range(nproc):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            udp_one(port, rate // nproc, secs, size, w)
            os._exit(0)
        pids.append(pid)
    os.close(w)
    for pid in pids:
        os.waitpid(pid, 0)
    data = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    sent, longest = 0, 0.0
    for line in data.decode().split("\n"):
        if line.strip():
            n, t = line.split()
            sent += int(n)
            longest = max(longest, float(t))
    print(f"sent {sent} secs {longest:.3f}")


def server_recvq(port, client_port):
    """Bytes waiting in the server side's receive queue of our connection (ss, same namespace)."""
    out = subprocess.run(
        ["ss", "-Htn", "state", "established", f"( sport = :{port} and dport = :{client_port} )"],
        capture_output=True, text=True, timeout=5).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0].isdigit():
            return int(f[0])
    return 0


def tcp(port, secs, warmup):
    c = socket.create_connection((HOST, port), timeout=5)
    c.settimeout(0.2)
    client_port = c.getsockname()[1]
    buf = b"\0" * 65536
    written = 0

    def outq():
        return struct.unpack("i", fcntl.ioctl(c.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]

    def consumed():
        return written - outq() - server_recvq(port, client_port)

    def pump(until):
        nonlocal written
        while time.perf_counter() < until:
            try:
                written += c.send(buf)
            except socket.timeout:
                pass
            except (BrokenPipeError, ConnectionResetError):
                return False
        return True

    ok = pump(time.perf_counter() + warmup)
    start = consumed() if ok else 0
    t0 = time.perf_counter()
    ok = ok and pump(t0 + secs)
    t1 = time.perf_counter()
    end = consumed() if ok else 0
    print(f"bytes {max(0, end - start)} secs {t1 - t0:.3f} {'ok' if ok else 'closed-by-server'}")
    c.close()


def main():
    if sys.argv[1] == "udp":
        udp(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]),
            int(sys.argv[5]) if len(sys.argv) > 5 else 64)
    elif sys.argv[1] == "tcp":
        tcp(int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit("usage: load.py udp PORT RATE SECS [SIZE] | tcp PORT SECS WARMUP")


if __name__ == "__main__":
    main()

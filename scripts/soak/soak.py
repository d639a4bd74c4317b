#!/usr/bin/env python3
"""The soak: Sockpit's window with a TCP Server, a TCP Client and a UDP session receiving mixed
traffic for a long run with capture on, then every figure checked against what the peers sent.

Run by scripts/soak.sh (inside a network namespace of its own with only `lo`, on an Xvfb of its
own); talks only to 127.0.0.1. Every loop is bounded by the run's end time.

  soak.py --sockpit BIN --out DIR --minutes M

Peers (all paced, all counted and hashed per connection / per sender):
  * a device on 127.0.0.1:TCP_DEV that the window's TCP Client connects to; it sends chunks of
    1..4096 bytes (text lines, GBK text, random binary) at about DEV_RATE bytes/s;
  * CLIENTS clients of the window's TCP Server, each sending messages of 1..2048 bytes at
    CLIENT_MSGS per second, and reconnecting every RECONNECT_S seconds (churn);
  * UDP_SENDERS senders to the window's UDP session, UDP_RATE datagrams/s in all, 1..1472 bytes.

Watched while it runs: the window's resident memory and CPU every 10 s (from /proc), its
`--report` file, and an input-to-repaint probe (benches/x11_probe.py) every PROBE_EVERY_S.

At the end (exit 1 if any check fails):
  * each session's counters equal what the peers sent (bytes; datagrams for UDP), with no drops
    by Sockpit or the kernel (RcvbufErrors of this namespace);
  * each capture file holds every byte: per connection (and per UDP sender) the payload bytes
    read back from the pcapng, in order, hash to what that peer sent;
  * resident memory has a flat tail (the last third of the run grows by at most 5 %);
  * the window still answers input (the probe sees the hover highlight drawn).
Prints Markdown rows for the README's Reliability section.
"""
import argparse
import glob
import hashlib
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

TCP_SERVER_PORT = 41001   # the window's TCP Server listens here
TCP_DEV_PORT = 41002      # the device the window's TCP Client connects to
UDP_PORT = 41003          # the window's UDP session is bound here
DEV_RATE = 100_000        # bytes/s from the device to the TCP Client
CLIENTS = 4
CLIENT_MSGS = 20          # messages/s per TCP Server client
RECONNECT_S = 300
UDP_SENDERS = 2
UDP_RATE = 200            # datagrams/s in all
PROBE_EVERY_S = 600
SAMPLE_EVERY_S = 10
PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "benches",
                     "x11_probe.py")

lock = threading.Lock()
stop = threading.Event()
failures = []


def say(msg):
    print(f"soak: {msg}", file=sys.stderr, flush=True)


def payload(rng, n):
    kind = rng.randrange(3)
    if kind == 0:
        line = f"temp={rng.randrange(-400, 1200) / 10} rh={rng.randrange(1000) / 10}\r\n"
        data = (line * (n // len(line) + 1)).encode()
    elif kind == 1:
        data = ("温度正常，设备在线。" * (n // 20 + 1)).encode("gbk")
    else:
        data = rng.randbytes(n)
    return data[:n]


class Flow:
    """What one peer sent on one connection (or one UDP sender): bytes, count and hash."""

    def __init__(self, key):
        self.key = key
        self.bytes = 0
        self.messages = 0
        self.sha = hashlib.sha256()

    def add(self, data):
        self.bytes += len(data)
        self.messages += 1
        self.sha.update(data)


flows = {"tcp-server": [], "tcp-client": [], "udp": []}


def paced(rate, end):
    """Yields until `end`, `rate` times a second, keeping the schedule from the start."""
    start = time.monotonic()
    n = 0
    while not stop.is_set() and time.monotonic() < end:
        due = start + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(min(delay, 0.5))
            continue
        n += 1
        yield


def device(listener, end):
    """The TCP Client's peer: accepts the window's connection and streams to it."""
    rng = random.Random(1)
    listener.settimeout(1.0)
    while not stop.is_set() and time.monotonic() < end:
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        flow = Flow(conn.getpeername()[1])
        with lock:
            flows["tcp-client"].append(flow)
        conn.settimeout(5.0)
        try:
            for _ in paced(DEV_RATE / 2048, end):
                data = payload(rng, rng.randrange(1, 4097))
                conn.sendall(data)
                flow.add(data)
        except OSError as e:
            failures.append(f"device: {e}")
        # Kept open: closing would end the client's session; the run's end closes it.
        with lock:
            device.conns.append(conn)


device.conns = []


def next_client_port():
    """A port of its own for each connection, so the captures tell connections apart."""
    with lock:
        next_client_port.n += 1
        return 43000 + next_client_port.n


next_client_port.n = 0


def client(i, end):
    rng = random.Random(100 + i)
    while not stop.is_set() and time.monotonic() < end:
        until = min(end, time.monotonic() + RECONNECT_S * (0.5 + rng.random()))
        try:
            s = socket.create_connection(("127.0.0.1", TCP_SERVER_PORT), timeout=5,
                                         source_address=("127.0.0.1", next_client_port()))
        except OSError as e:
            failures.append(f"client {i}: connect: {e}")
            time.sleep(1)
            continue
        flow = Flow(s.getsockname()[1])
        with lock:
            flows["tcp-server"].append(flow)
        try:
            for _ in paced(CLIENT_MSGS, until):
                data = payload(rng, rng.randrange(1, 2049))
                s.sendall(data)
                flow.add(data)
            # A graceful close: the server sees the peer finish sending.
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            failures.append(f"client {i}: {e}")
        finally:
            s.close()


def udp_sender(i, end):
    rng = random.Random(200 + i)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    flow = Flow(s.getsockname()[1])
    with lock:
        flows["udp"].append(flow)
    for _ in paced(UDP_RATE / UDP_SENDERS, end):
        data = payload(rng, rng.randrange(1, 1473))
        try:
            s.sendto(data, ("127.0.0.1", UDP_PORT))
            flow.add(data)
        except OSError as e:
            failures.append(f"udp sender {i}: {e}")
    s.close()


def rcvbuf_errors():
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")])


def proc_sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return rss * 1024, ticks / os.sysconf("SC_CLK_TCK")


def probe(display):
    out = subprocess.run(["python3", PROBE, "latency", "345", "14", "600", "500", "7"],
                         env=dict(os.environ, DISPLAY=display), capture_output=True, text=True,
                         timeout=120)
    ms = sorted(float(l) for l in out.stdout.split() if l.strip())
    return ms[len(ms) // 2] if ms else None


def report(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def session(rep, tab):
    return next((s for s in rep["sessions"] if s["tab"] == tab), None)


def pcapng_flows(path):
    """Payload bytes and hash per (transport, peer port) of one capture, in file order.
    Reads the Ethernet/IPv4 frames Sockpit synthesises; the peer is the side that is not the
    session's own port."""
    out = {}
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    endian = "<"
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from(endian + "II", data, pos)
        if btype == 0x0A0D0D0A:
            magic = data[pos + 8:pos + 12]
            endian = "<" if magic == b"\x4d\x3c\x2b\x1a" else ">"
            btype, blen = struct.unpack_from(endian + "II", data, pos)
        if blen < 12 or pos + blen > len(data):
            break
        if btype == 6:
            caplen = struct.unpack_from(endian + "I", data, pos + 20)[0]
            frame = data[pos + 28:pos + 28 + caplen]
            if len(frame) >= 34 and frame[12:14] == b"\x08\x00":
                ip = frame[14:]
                ihl = (ip[0] & 15) * 4
                proto = ip[9]
                l4 = ip[ihl:]
                sport, dport = struct.unpack_from(">HH", l4, 0)
                if proto == 6:
                    body = l4[(l4[12] >> 4) * 4:]
                    kind = "tcp"
                else:
                    body = l4[8:]
                    kind = "udp"
                if body:
                    # Keyed by the port that is not a fixed one of the run: the client's (TCP
                    # Server), the window's own (TCP Client), the sender's (UDP); and by
                    # whether the bytes went towards the window.
                    inbound = dport in (TCP_SERVER_PORT, UDP_PORT) or sport == TCP_DEV_PORT
                    port = dport if sport == TCP_DEV_PORT else sport if inbound else dport
                    flow = out.setdefault((kind, port, inbound), [0, hashlib.sha256()])
                    flow[0] += len(body)
                    flow[1].update(body)
        pos += blen
    return {k: (v[0], v[1].hexdigest()) for k, v in out.items()}


def check(what, ok, detail):
    mark = "ok" if ok else "FAILED"
    say(f"{what}: {mark} ({detail})")
    if not ok:
        failures.append(f"{what}: {detail}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sockpit", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every peer's rate (a shorter run that moves as many bytes)")
    args = ap.parse_args()
    global DEV_RATE, CLIENT_MSGS, UDP_RATE
    DEV_RATE *= args.scale
    CLIENT_MSGS *= args.scale
    UDP_RATE *= args.scale
    display = os.environ["DISPLAY"]
    out = os.path.abspath(args.out)
    captures = os.path.join(out, "captures")
    os.makedirs(captures, exist_ok=True)
    os.makedirs(os.path.join(out, "state"), exist_ok=True)
    report_path = os.path.join(out, "report.json")

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", TCP_DEV_PORT))
    listener.listen(4)
    kernel0 = rcvbuf_errors()
    env = dict(os.environ, SOCKPIT_STATE_DIR=os.path.join(out, "state"),
               HOME=os.path.join(out, "state"), LC_ALL="C.UTF-8", LANG="C.UTF-8")
    gui = subprocess.Popen(
        [args.sockpit, "gui", "--listen", f"127.0.0.1:{TCP_SERVER_PORT}", "--connect",
         f"127.0.0.1:{TCP_DEV_PORT}", "--bind", f"127.0.0.1:{UDP_PORT}", "--capture-dir",
         captures, "--report", report_path],
        env=env, stdout=open(os.path.join(out, "gui.log"), "w"), stderr=subprocess.STDOUT)
    started = time.monotonic()
    end_of_wait = started + 30
    while time.monotonic() < end_of_wait:
        rep = report(report_path)
        tabs = ("tcp-server", "tcp-client", "udp")
        if rep and all(session(rep, t) for t in tabs) \
                and session(rep, "tcp-server").get("listening") \
                and session(rep, "tcp-client").get("connected") \
                and session(rep, "udp").get("bound") \
                and all(session(rep, t).get("capture", {}).get("state") == "running"
                        for t in tabs):
            break
        time.sleep(0.2)
    else:
        say("the window did not start its sessions and captures within 30 s")
        gui.kill()
        return 1
    idle_probe = probe(display)
    say(f"window up in {time.monotonic() - started:.1f} s; idle probe {idle_probe} ms")

    end = time.monotonic() + args.minutes * 60
    threads = [threading.Thread(target=device, args=(listener, end), name="device")]
    threads += [threading.Thread(target=client, args=(i, end), name=f"client{i}")
                for i in range(CLIENTS)]
    threads += [threading.Thread(target=udp_sender, args=(i, end), name=f"udp{i}")
                for i in range(UDP_SENDERS)]
    for t in threads:
        t.start()
    samples = []   # (seconds into the run, rss bytes, cpu seconds)
    probes = []
    t0 = time.monotonic()
    next_probe = t0 + PROBE_EVERY_S
    try:
        while time.monotonic() < end and gui.poll() is None:
            rss, cpu = proc_sample(gui.pid)
            samples.append((time.monotonic() - t0, rss, cpu))
            with open(os.path.join(out, "samples.csv"), "a") as f:
                f.write(f"{samples[-1][0]:.0f},{rss},{cpu:.2f}\n")
            if time.monotonic() >= next_probe:
                probes.append(probe(display))
                next_probe += PROBE_EVERY_S
            time.sleep(min(SAMPLE_EVERY_S, max(0.0, end - time.monotonic())))
    finally:
        if gui.poll() is not None or time.monotonic() < end:
            stop.set()
        for t in threads:
            t.join(timeout=30)
    if gui.poll() is not None:
        say(f"the window exited ({gui.returncode}) during the run")
        return 1
    ran = time.monotonic() - t0

    # Wait for the window to have taken everything: counters equal to what was sent.
    want = {
        "tcp-server": sum(f.bytes for f in flows["tcp-server"]),
        "tcp-client": sum(f.bytes for f in flows["tcp-client"]),
        "udp": sum(f.bytes for f in flows["udp"]),
    }
    datagrams = sum(f.messages for f in flows["udp"])
    deadline = time.monotonic() + 60
    rep = None
    while time.monotonic() < deadline:
        rep = report(report_path)
        if rep and all((session(rep, t) or {}).get("rx_bytes") == want[t] for t in want):
            time.sleep(2)   # a last batch on its way to the capture file
            rep = report(report_path)
            break
        time.sleep(1)
    final_probe = probe(display)
    rss, cpu = proc_sample(gui.pid)
    samples.append((time.monotonic() - t0, rss, cpu))
    kernel = rcvbuf_errors() - kernel0

    for t in want:
        s = session(rep, t) if rep else None
        got = s.get("rx_bytes") if s else None
        check(f"{t} session: bytes received = bytes its peers sent", got == want[t],
              f"{got} of {want[t]}")
        cap = (s or {}).get("capture", {})
        check(f"{t} capture: running, nothing dropped", cap.get("state") == "running"
              and cap.get("dropped_records") == 0, json.dumps(cap))
    u = session(rep, "udp") if rep else {}
    check("udp: datagrams received = sent, none dropped by Sockpit or the kernel",
          u.get("received") == datagrams and u.get("dropped_by_sockpit") == 0
          and kernel == 0, f"received {u.get('received')} of {datagrams}, Sockpit dropped "
          f"{u.get('dropped_by_sockpit')}, kernel {kernel} (RcvbufErrors), window said "
          f"{u.get('dropped_by_kernel')}")

    # Every byte in the captures, per connection and sender, in order.
    read = {}
    for path in glob.glob(os.path.join(captures, "*.pcapng")):
        for k, v in pcapng_flows(path).items():
            read[k] = v
    for tab, kind in (("tcp-server", "tcp"), ("tcp-client", "tcp"), ("udp", "udp")):
        bad = [f for f in flows[tab]
               if read.get((kind, f.key, True)) != (f.bytes, f.sha.hexdigest())]
        check(f"{tab} capture: every peer's bytes, in order (sha256)", not bad,
              f"{len(flows[tab]) - len(bad)} of {len(flows[tab])} connections/senders match"
              + (f"; first differing: port {bad[0].key}, sent {bad[0].bytes} B, file "
                 f"{read.get((kind, bad[0].key, True), (0, ''))[0]} B" if bad else ""))

    # Flat tail: the last third of the samples.
    tail = [r for (t, r, _) in samples if t >= ran * 2 / 3]
    growth = (max(tail) - tail[0]) / tail[0] if tail else 0.0
    check("resident memory: flat tail (last third grows ≤ 5 %)", growth <= 0.05,
          f"{tail[0] / 2**20:.0f} → max {max(tail) / 2**20:.0f} MiB ({growth * 100:+.1f} %)"
          if tail else "no samples")
    check("window answers input at the end (hover drawn)", final_probe is not None,
          f"{final_probe} ms")
    cpu_share = (samples[-1][2] - samples[0][2]) / max(1e-9, samples[-1][0] - samples[0][0])

    for c in device.conns:
        c.close()
    gui.terminate()
    try:
        gui.wait(timeout=10)
    except subprocess.TimeoutExpired:
        gui.kill()

    total = sum(want.values())
    probes = [p for p in probes if p is not None]
    print(f"| soak: run length, three sessions with capture on | {ran / 60:.1f} min | | | | 60 min |")
    print(f"| soak: bytes received (TCP Server {want['tcp-server']:,}, TCP Client "
          f"{want['tcp-client']:,}, UDP {want['udp']:,}) | {total:,} B | | | | |")
    print(f"| soak: UDP datagrams received / sent / dropped (Sockpit + kernel) | "
          f"{u.get('received')} / {datagrams} / {u.get('dropped_by_sockpit')} + {kernel} | | | | "
          f"equal, 0 |")
    print(f"| soak: TCP connections to the server (churn), each checked | "
          f"{len(flows['tcp-server'])} | | | | |")
    print(f"| soak: connections and senders whose capture bytes hash as sent | "
          f"{sum(1 for tab, kind in (('tcp-server', 'tcp'), ('tcp-client', 'tcp'), ('udp', 'udp')) for f in flows[tab] if read.get((kind, f.key, True)) == (f.bytes, f.sha.hexdigest()))}"
          f" of {sum(len(v) for v in flows.values())} | | | | all |")
    if samples:
        print(f"| soak: resident memory at start / at one third / at the end | "
              f"{samples[0][1] / 2**20:.0f} / "
              f"{next((r for (t, r, _) in samples if t >= ran / 3), samples[-1][1]) / 2**20:.0f}"
              f" / {samples[-1][1] / 2**20:.0f} MiB | | | {growth * 100:+.1f} % over the last third"
              f" | ≤ +5 % |")
    print(f"| soak: whole-process CPU over the run | {cpu_share * 100:.1f} % | | | | |")
    print(f"| soak: input-to-repaint latency idle before / during (median of probes) / at the "
          f"end | {idle_probe} / "
          f"{sorted(probes)[len(probes) // 2] if probes else 'none'} / {final_probe} ms | | | | |")
    if failures:
        say("FAILED: " + "; ".join(failures[:10]))
        return 1
    say("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

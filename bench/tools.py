#!/usr/bin/env python3
"""Helpers for bench/run.sh: a TCP sink, a bulk TCP sender, idle keep-alive
connections, process CPU/RSS readings and wrk output parsing. Standard library only."""

import os
import socket
import sys
import time

CHUNK = 4 << 20


def sink(port):
    """Accepts connections and discards everything (one thread per connection)."""
    import threading

    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(128)

    def drain(c):
        buf = bytearray(CHUNK)
        while c.recv_into(buf):
            pass
        c.close()

    while True:
        c, _ = srv.accept()
        threading.Thread(target=drain, args=(c,), daemon=True).start()


def bulk(port, total):
    """Sends `total` bytes through the proxy; prints seconds taken."""
    data = memoryview(bytearray(CHUNK))
    s = socket.create_connection(("127.0.0.1", port))
    sent = 0
    t0 = time.monotonic()
    while sent < total:
        s.sendall(data)
        sent += len(data)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # wait for the proxy to close after the sink did
    dt = time.monotonic() - t0
    s.close()
    print(f"{sent} {dt:.6f}")


def idle(port, n, ready_file):
    """Opens n keep-alive connections, one request each, then holds them."""
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
        conns.append(s)
    for s in conns:
        got = b""
        while b"\r\n\r\n" not in got:
            part = s.recv(4096)
            if not part:
                break
            got += part
    with open(ready_file, "w") as f:
        f.write("ready\n")
    time.sleep(3600)


def cpu(pids):
    """utime+stime in seconds, summed over processes."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    print(f"{total / tick:.3f}")


def rss(pids):
    """VmRSS in kB, summed over processes."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    print(total)


def wrk(path):
    """Parses wrk --latency output: requests, req/s, p50 ms, p99 ms."""
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def ms(v):
        for u in ("us", "ms", "s"):
            if v.endswith(u):
                return float(v[: -len(u)]) * unit[u]
        return float(v)

    req = rps = p50 = p99 = 0.0
    with open(path) as f:
        for line in f:
            w = line.split()
            if "requests in" in line:
                req = float(w[0])
            elif line.startswith("Requests/sec:"):
                rps = float(w[1])
            elif w[:1] == ["50%"]:
                p50 = ms(w[1])
            elif w[:1] == ["99%"]:
                p99 = ms(w[1])
    print(f"{req:.0f} {rps:.1f} {p50:.3f} {p99:.3f}")


def report(path):
    """Medians per (lb, metric) and the ratio to HAProxy's."""
    import statistics
    from collections import defaultdict

    vals = defaultdict(list)
    with open(path) as f:
        for line in f:
            lb, metric, v = line.split()
            vals[(lb, metric)].append(float(v))
    lbs = [lb for lb in ("fulcrum", "haproxy", "nginx") if any(k[0] == lb for k in vals)]
    metrics = []
    for (_, m) in vals:
        if m not in metrics:
            metrics.append(m)
    print(f"{'metric':<28}" + "".join(f"{lb:>12}{'x HAP':>8}" for lb in lbs))
    for m in metrics:
        row = f"{m:<28}"
        base = vals.get(("haproxy", m))
        base = statistics.median(base) if base else None
        for lb in lbs:
            v = vals.get((lb, m))
            if not v:
                row += f"{'-':>12}{'':>8}"
                continue
            med = statistics.median(v)
            ratio = f"{med / base:.2f}" if base else "-"
            row += f"{med:>12.3f}{ratio:>8}"
        print(row)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sink":
        sink(int(args[0]))
    elif cmd == "bulk":
        bulk(int(args[0]), int(args[1]))
    elif cmd == "idle":
        idle(int(args[0]), int(args[1]), args[2])
    elif cmd == "cpu":
        cpu(args)
    elif cmd == "rss":
        rss(args)
    elif cmd == "wrk":
        wrk(args[0])
    elif cmd == "report":
        report(args[0])
    else:
        sys.exit(f"unknown command {cmd}")

#!/usr/bin/env python3
"""Receiver benchmark: the same sender stores ct-series (1000 CT files, 0.5 GB) into
`/usr/bin/storescp -od DIR` and into `ferry storescp -od DIR`, alternating, same run,
loopback, TCP_NODELAY=1 for DCMTK. Wall time is the sender's; the receiver's CPU time and
peak memory are read from /proc before it is stopped. A third row repeats ferry with
`--fsync` (every file durable before its response; DCMTK has no such option).

Senders (--sender): `dcmtk` is DCMTK `storescu +sd +r` (one store at a time; its own CPU,
about 0.8 s for this corpus here, bounds every receiver); `ferry` is
`ferry storescu --async-window N +sd +r` (--window, default 16), which proposes an Asynchronous Operations Window:
ferry storescp grants it, DCMTK storescp grants none and gets one store at a time.

Where the files go (--dir, default .build on the disk): on this machine's ext4, which has
no journal, an inode freed in the last one to five minutes is skipped one by one when new
ones are allocated (recently_deleted()), and page cache growing into untouched memory is
slow under the hypervisor; both make disk figures noisy. `--dir /dev/shm` (tmpfs) leaves
the receivers' own work. A journaled ext4, as most servers have, can be made on the same
disk with `truncate -s 4G IMG && mkfs.ext4 -q -F IMG && mount -o loop IMG DIR` (root).
Each run's files are removed before the next one.

Sender and receiver share the machine's cores, so the wall time cannot drop below their
CPU time together divided by the cores: the table prints that floor beside each row.

Usage: scripts/bench/storescp.py [--runs R] [--ferry PATH] [--existing] [--sender dcmtk|ferry] [--window N] [--dir DIR]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import measure

ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--ferry", help="a ferry binary to use instead of building the release one")
ap.add_argument("--existing", action="store_true", help="store over the files of an earlier run (each receiver first fills its folder, untimed)")
ap.add_argument("--sender", choices=["dcmtk", "ferry"], default="dcmtk")
ap.add_argument("--window", type=int, default=16, help="the ferry sender's --async-window")
ap.add_argument("--dir", default=os.path.join(measure.ROOT, ".build"), help="where the output folders are made")
a = ap.parse_args()

ferry = os.path.abspath(a.ferry) if a.ferry else measure.build_release()
env = measure.network_env()
directory, files, megabytes = measure.ready_corpus("ct-series")


def receiver_usage(pid):
    """(CPU seconds, peak RSS MiB) of a running process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = float("nan")
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) / 1024.0
    return cpu, rss


def sender(port):
    if a.sender == "ferry":
        return [ferry, "storescu", "--async-window", str(a.window), "+sd", "+r", "127.0.0.1", str(port), directory]
    return ["/usr/bin/storescu", "+sd", "+r", "127.0.0.1", str(port), directory]


def one_run(receiver_cmd):
    out = tempfile.mkdtemp(prefix="ferry-bench-rx-", dir=a.dir)
    port = measure.free_port()
    rx = subprocess.Popen(receiver_cmd(out, port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        measure.wait_port(port)
        if a.existing:
            measure.run(sender(port), env)  # the files the timed run stores over
        subprocess.run(["sync"])  # no dirty pages from earlier work
        cpu_before, _ = receiver_usage(rx.pid)
        wall, _, rc, sender_cpu = measure.run_with_cpu(sender(port), env)
        cpu, rss = receiver_usage(rx.pid)
        stored = sum(1 for _, _, fs in os.walk(out) for name in fs if not name.startswith("."))
        assert rc == 0 and stored == len(files), (rc, stored)
        return wall, cpu - cpu_before, rss, sender_cpu
    finally:
        rx.terminate()
        rx.wait()
        shutil.rmtree(out, ignore_errors=True)


receivers = {
    "DCMTK storescp -od DIR": lambda out, port: ["/usr/bin/storescp", "-od", out, str(port)],
    "ferry storescp -od DIR": lambda out, port: [ferry, "storescp", "-od", out, str(port)],
    "ferry storescp --fsync -od DIR": lambda out, port: [ferry, "storescp", "--fsync", "-od", out, str(port)],
}
results = {name: [] for name in receivers}
for _ in range(a.runs):
    for name, cmd in receivers.items():
        results[name].append(one_run(cmd))

where = "over the files of an earlier run" if a.existing else "into a fresh folder"
sent_by = f"ferry storescu --async-window {a.window} +sd +r" if a.sender == "ferry" else "DCMTK storescu +sd +r"
print(f"receiving {len(files)} files ({megabytes:,.0f} MB, ct-series) sent by {sent_by}, {where} under {a.dir}, median of {a.runs} runs")
print("| receiver | wall s | MB/s | receiver CPU s | sender CPU s | (receiver + sender CPU) / cores | receiver peak RSS MiB |")
print("|---|---|---|---|---|---|---|")
summary = {}
for name, rs in results.items():
    wall = statistics.median(r[0] for r in rs)
    cpu = statistics.median(r[1] for r in rs)
    rss = max(r[2] for r in rs)
    tx_cpu = statistics.median(r[3] for r in rs)
    summary[name] = wall
    floor = (cpu + tx_cpu) / os.cpu_count()
    print(f"| {name} | {wall:.2f} | {megabytes / wall:,.0f} | {cpu:.2f} | {tx_cpu:.2f} | {floor:.2f} | {rss:.1f} |")
base = summary["DCMTK storescp -od DIR"]
print(f"ratio ferry/DCMTK wall time: {summary['ferry storescp -od DIR'] / base:.2f} (target <= 0.7); "
      f"with --fsync: {summary['ferry storescp --fsync -od DIR'] / base:.2f}")

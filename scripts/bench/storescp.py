#!/usr/bin/env python3
"""Receiver benchmark: the same DCMTK `storescu +sd +r` run (ct-series, 1000 CT files, 0.5 GB)
into `/usr/bin/storescp -od DIR` and into `ferry storescp -od DIR`, alternating, same run,
loopback, TCP_NODELAY=1 for DCMTK. Wall time is the sender's; peak memory is the receiver's
(VmHWM read from /proc before it is stopped). A second pair of rows repeats it with
`ferry storescp --fsync` (every file durable before its response; DCMTK has no such option).

Usage: scripts/bench/storescp.py [--runs R] [--ferry PATH] [--existing]
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
a = ap.parse_args()

ferry = os.path.abspath(a.ferry) if a.ferry else measure.build_release()
env = measure.network_env()
directory, files, megabytes = measure.ready_corpus("ct-series")


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def one_run(receiver_cmd):
    subprocess.run(["sync"])  # start each run with no dirty pages from the last one
    out = tempfile.mkdtemp(prefix="ferry-bench-rx-", dir=os.path.join(measure.ROOT, ".build"))
    port = measure.free_port()
    rx = subprocess.Popen(receiver_cmd(out, port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        measure.wait_port(port)
        send = ["/usr/bin/storescu", "+sd", "+r", "127.0.0.1", str(port), directory]
        if a.existing:
            measure.run(send, env)  # the files the timed run stores over
            subprocess.run(["sync"])
        wall, _, rc = measure.run(send, env)
        rss = peak_rss_mib(rx.pid)
        stored = sum(len(fs) for _, _, fs in os.walk(out))
        assert rc == 0 and stored == len(files), (rc, stored)
        return wall, rss
    finally:
        rx.kill()
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
print(f"receiving {len(files)} files ({megabytes:,.0f} MB, ct-series) sent by DCMTK storescu +sd +r, {where}, median of {a.runs} runs")
print("| receiver | wall s | MB/s | receiver peak RSS MiB |")
print("|---|---|---|---|")
summary = {}
for name, rs in results.items():
    wall = statistics.median(r[0] for r in rs)
    rss = max(r[1] for r in rs)
    summary[name] = wall
    print(f"| {name} | {wall:.2f} | {megabytes / wall:,.0f} | {rss:.1f} |")
base = summary["DCMTK storescp -od DIR"]
print(f"ratio ferry/DCMTK wall time: {summary['ferry storescp -od DIR'] / base:.2f} (target <= 0.7); "
      f"with --fsync: {summary['ferry storescp --fsync -od DIR'] / base:.2f}")

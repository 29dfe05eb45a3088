#!/usr/bin/env python3
"""C-STORE sender benchmark: `ferry storescu +sd +r` against DCMTK `/usr/bin/storescu +sd +r`,
same files, same receiver (`/usr/bin/storescp --ignore`, which reads and discards), same run,
alternating tools, on loopback. Profiles: ct-series (1000 CT slices, ~0.5 GB) and large-cr
(20 CR images of ~15 MB). Both senders use DCMTK's default proposals and max PDU 16384.

Usage: scripts/bench/storescu.py [--runs R] [--profiles ct-series,large-cr]
"""
import argparse
import os
import statistics
import subprocess
import measure

ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--profiles", default="ct-series,large-cr")
a = ap.parse_args()

ferry = measure.build_release()
env = measure.network_env()






print("| profile | files | MB | tool | wall s | MB/s | peak RSS MiB |")
print("|---|---|---|---|---|---|---|")
ratios = []
for profile in a.profiles.split(","):
    directory, files, megabytes = measure.ready_corpus(profile)
    port = measure.free_port()
    scp = subprocess.Popen(["/usr/bin/storescp", "--ignore", str(port)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        measure.wait_port(port)
        results = {"ferry": [], "dcmtk": []}
        for _ in range(a.runs):
            results["ferry"].append(measure.run([ferry, "storescu", "+sd", "+r", "127.0.0.1", str(port), directory], env))
            results["dcmtk"].append(measure.run(["/usr/bin/storescu", "+sd", "+r", "127.0.0.1", str(port), directory], env))
        summary = {}
        for tool, rs in results.items():
            codes = {r[2] for r in rs}
            assert codes == {0}, f"{tool} exit codes {codes}"
            wall = statistics.median(r[0] for r in rs)
            rss = max(r[1] for r in rs)
            summary[tool] = (wall, rss)
            name = "ferry storescu +sd +r" if tool == "ferry" else "DCMTK storescu +sd +r"
            print(f"| {profile} | {len(files)} | {megabytes:,.0f} | {name} | {wall:.2f} | {megabytes / wall:,.0f} | {rss:.1f} |")
        ratios.append((profile, summary["ferry"][0] / summary["dcmtk"][0], summary["ferry"][1]))
    finally:
        scp.kill()
        scp.wait()

print()
for profile, ratio, rss in ratios:
    print(f"{profile}: wall-time ratio ferry/DCMTK = {ratio:.2f} (target <= 1.0); ferry peak RSS {rss:.1f} MiB (target < 64)")

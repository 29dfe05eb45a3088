#!/usr/bin/env python3
"""Sending over a simulated WAN: `ferry run` (defaults: 4 associations, an Asynchronous
Operations Window of 16; with --study-affinity spread, a study's files over the pool; and with
--async-window 1, one store at a time as before) against
DCMTK storescu and dcmsend, into `ferry storescp +xa --ignore` behind a delay proxy, at 0, 5
and 10 ms one-way (0, 10 and 20 ms round trip); same run, medians of --runs. Corpora: one
1,000-image CT study (ct-series) and the mixed corpus (many studies and modalities).

The proxy is scripts/bench/delay_proxy.py unless --proxy names another taking the same options
(--listen, --to, --delay-ms).

Usage: scripts/bench/wan.py [--runs 3] [--ferry PATH] [--proxy PATH] [--delays 0,5,10] [--profiles ct-series,mixed]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import measure

ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--ferry", help="a ferry binary to use instead of building the release one")
ap.add_argument("--proxy", help="a delay proxy taking --listen, --to, --delay-ms")
ap.add_argument("--delays", default="0,5,10", help="one-way delays in ms")
ap.add_argument("--profiles", default="ct-series,mixed")
a = ap.parse_args()

ferry = os.path.abspath(a.ferry) if a.ferry else measure.build_release()
proxy = [a.proxy] if a.proxy else [sys.executable, os.path.join(os.path.dirname(__file__), "delay_proxy.py")]
env = measure.network_env()
work = tempfile.mkdtemp(prefix="ferry-bench-wan-", dir=os.path.join(measure.ROOT, ".build"))
peers = measure.Peers(env)


print("| corpus | files | MB | RTT ms | tool | wall s (median) | MB/s |")
print("|---|---|---|---|---|---|---|")
ratios = []
try:
    receiver = measure.free_port()
    peers.start([ferry, "storescp", "+xa", "--ignore", str(receiver)], receiver)
    for profile in a.profiles.split(","):
        directory, files, megabytes = measure.ready_corpus(profile)
        for delay in [int(d) for d in a.delays.split(",")]:
            port, relay = receiver, None
            if delay > 0:
                port = measure.free_port()
                relay = peers.start(proxy + ["--listen", f"127.0.0.1:{port}", "--to", f"127.0.0.1:{receiver}",
                                       "--delay-ms", str(delay)], port)
            counter = [0]

            def ferry_run(extra):
                counter[0] += 1
                manifest = os.path.join(work, f"{profile}-{delay}-{counter[0]}.sqlite")
                return measure.run([ferry, "run", "--quiet", "--source", directory, "--dest",
                                    f"ANY-SCP@127.0.0.1:{port}", "--manifest", manifest] + extra, env)

            tools = {
                "ferry run (defaults: window 16)": lambda: ferry_run([]),
                "ferry run --study-affinity spread": lambda: ferry_run(["--study-affinity", "spread"]),
                "ferry run --async-window 1": lambda: ferry_run(["--async-window", "1"]),
                "DCMTK storescu +sd +r": lambda: measure.run(
                    ["/usr/bin/storescu", "+sd", "+r", "127.0.0.1", str(port), directory], env),
                "DCMTK dcmsend +sd +r": lambda: measure.run(
                    ["/usr/bin/dcmsend", "+sd", "+r", "127.0.0.1", str(port), directory], env),
            }
            if profile != "ct-series":
                # DCMTK storescu proposes uncompressed syntaxes for the compressed files of the
                # mixed corpus and fails them (exit 1); dcmsend is the tool users pick there.
                del tools["DCMTK storescu +sd +r"]
            results = {name: [] for name in tools}
            for _ in range(a.runs):
                for name, tool in tools.items():
                    results[name].append(tool())
            wall = {}
            for name, rs in results.items():
                codes = {r[2] for r in rs}
                assert codes == {0}, f"{name}: exit codes {codes}"
                wall[name] = statistics.median(r[0] for r in rs)
                print(f"| {profile} | {len(files)} | {megabytes:,.0f} | {2 * delay} | {name} | {wall[name]:.2f} | "
                      f"{megabytes / wall[name]:,.0f} |")
            f = wall["ferry run (defaults: window 16)"]
            storescu = wall.get("DCMTK storescu +sd +r")
            ratios.append((profile, 2 * delay, storescu and f / storescu, f / wall["DCMTK dcmsend +sd +r"]))
            if relay:
                peers.stop(relay)
finally:
    peers.stop_all()
    shutil.rmtree(work, ignore_errors=True)

print()
print("| corpus | RTT ms | ferry run / storescu | ferry run / dcmsend |")
print("|---|---|---|---|")
for profile, rtt, s, d in ratios:
    print(f"| {profile} | {rtt} | {f'{s:.2f}' if s else '-'} | {d:.2f} |")

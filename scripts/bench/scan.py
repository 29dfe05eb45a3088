#!/usr/bin/env python3
"""Header-only scan benchmark: `ferry scan` against `dcmdump -q +P 0008,0018` over the same
files (ct-series profile, 1000 CT slices) from a warm cache, in one process invocation each.

Usage: scripts/bench/scan.py [--count N] [--runs R]
"""
import argparse
import measure

ap = argparse.ArgumentParser()
ap.add_argument("--count", type=int, default=1000)
ap.add_argument("--runs", type=int, default=5)
a = ap.parse_args()

ferry = measure.build_release()
directory = measure.corpus("ct-series", a.count)
files = measure.files_under(directory)
measure.warm(files)

rows = []
f_wall, f_rss, f_rc = measure.best_of(a.runs, [ferry, "scan", directory])
d_wall, d_rss, d_rc = measure.best_of(a.runs, ["/usr/bin/dcmdump", "-q", "+P", "0008,0018"] + files)
assert f_rc == 0 and d_rc == 0, (f_rc, d_rc)
n = len(files)
print(f"header scan, {n} files (ct-series), warm cache, median of {a.runs} runs")
print(f"| tool | wall s | files/s | peak RSS MiB |")
print(f"|---|---|---|---|")
print(f"| ferry scan | {f_wall:.3f} | {n / f_wall:,.0f} | {f_rss:.1f} |")
print(f"| dcmdump -q +P 0008,0018 | {d_wall:.3f} | {n / d_wall:,.0f} | {d_rss:.1f} |")
print(f"ratio ferry/dcmdump wall time: {f_wall / d_wall:.3f} (ferry {d_wall / f_wall:.1f}x faster)")

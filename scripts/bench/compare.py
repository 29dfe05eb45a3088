#!/usr/bin/env python3
"""Ferry against an earlier Ferry, same run, same machine: the commands of the other benchmark
scripts (scan, storescu, storescp, run, transcoding on the way, codecs), each run alternately
with this checkout's release build and with `--baseline PATH` (a `ferry` binary built from
another commit, e.g. in a `git worktree`). Prints the median wall times and the ratio
new/baseline per benchmark (an architecture change must stay within 1.05).

Usage: scripts/bench/compare.py --baseline /path/to/old/.build/release/ferry [--new PATH] [--runs 5]
       [--only WORD,...] [--work DIR]

--work puts received files and manifests in DIR (e.g. /dev/shm: a tmpfs takes the disk's
write-back noise out of the receiver and pipeline figures). Medians and minimums are printed.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import measure

ap = argparse.ArgumentParser()
ap.add_argument("--baseline", required=True, help="ferry binary of the commit to compare with")
ap.add_argument("--new", help="ferry binary of this checkout (default: build it with swift build -c release)")
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--only", help="comma-separated words; run the benchmarks whose name contains one")
ap.add_argument("--work", help="folder for received files and manifests (default: .build)")
a = ap.parse_args()

binaries = {"new": os.path.abspath(a.new) if a.new else measure.build_release(), "baseline": os.path.abspath(a.baseline)}
env = measure.network_env()
work = tempfile.mkdtemp(prefix="ferry-bench-compare-", dir=a.work or os.path.join(measure.ROOT, ".build"))
ct_dir, ct_files, ct_mb = measure.ready_corpus("ct-series")
cr_dir, _, cr_mb = measure.ready_corpus("large-cr")

# 300 ct-series files as JPEG lossless SV1 (codecs.py's set) and 100 uncompressed ones.
sv1_dir = os.path.join(measure.ROOT, ".build", "bench-corpus", "ct-sv1-300")
if not os.path.exists(sv1_dir + ".complete"):
    os.makedirs(sv1_dir, exist_ok=True)
    for i, src in enumerate(ct_files[:300]):
        subprocess.run(["dcmcjpeg", "+e1", src, os.path.join(sv1_dir, f"f{i:04d}.dcm")], check=True)
    open(sv1_dir + ".complete", "w").close()
measure.warm(measure.files_under(sv1_dir))
native_dir = os.path.join(work, "native")
os.makedirs(native_dir)
for i, src in enumerate(ct_files[:100]):
    shutil.copy(src, os.path.join(native_dir, f"f{i:04d}.dcm"))


def start(cmd, port):
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    measure.wait_port(port)
    return p


def checked(result, what):
    assert result[2] == 0, (what, result[2])
    return result[0]


ignore_port = measure.free_port()
ignore = start(["/usr/bin/storescp", "--ignore", str(ignore_port)], ignore_port)
plain_port = measure.free_port()
plain = start(["/usr/bin/storescp", "--ignore", str(plain_port)], plain_port)
counter = [0]


def manifest():
    counter[0] += 1
    return os.path.join(work, f"m{counter[0]}.sqlite")


def receive(ferry):
    """DCMTK storescu +sd +r into `ferry storescp -od` (fresh folder): the sender's wall time."""
    out = tempfile.mkdtemp(dir=work)
    port = measure.free_port()
    rx = start([ferry, "storescp", "-od", out, str(port)], port)
    subprocess.run(["sync"])
    try:
        return checked(measure.run(["/usr/bin/storescu", "+sd", "+r", "127.0.0.1", str(port), ct_dir], env), "rx")
    finally:
        rx.kill()
        rx.wait()
        shutil.rmtree(out)


def transcode(ferry, source, to):
    out = tempfile.mkdtemp(dir=work)
    try:
        return checked(measure.run([ferry, "transcode", source, out, "--to", to], env), to)
    finally:
        shutil.rmtree(out)


rle_dir = os.path.join(work, "rle")
subprocess.run([binaries["new"], "transcode", native_dir, rle_dir, "--to", "rle"], check=True,
               stdout=subprocess.DEVNULL)

benchmarks = {
    "scan ct-series (1000 files)": lambda f: checked(measure.run([f, "scan", ct_dir]), "scan"),
    "storescu +sd +r ct-series": lambda f: checked(
        measure.run([f, "storescu", "+sd", "+r", "127.0.0.1", str(ignore_port), ct_dir], env), "storescu"),
    "storescu +sd +r large-cr": lambda f: checked(
        measure.run([f, "storescu", "+sd", "+r", "127.0.0.1", str(ignore_port), cr_dir], env), "storescu"),
    "storescp -od (DCMTK storescu, ct-series)": receive,
    "run ct-series, 1 association": lambda f: checked(measure.run(
        [f, "run", "--quiet", "--source", ct_dir, "--dest", f"ANY-SCP@127.0.0.1:{ignore_port}",
         "--associations", "1", "--manifest", manifest()], env), "run"),
    "run ct-series, 4 associations": lambda f: checked(measure.run(
        [f, "run", "--quiet", "--source", ct_dir, "--dest", f"ANY-SCP@127.0.0.1:{ignore_port}",
         "--associations", "4", "--manifest", manifest()], env), "run"),
    "run 300 SV1 to an uncompressed-only storescp": lambda f: checked(measure.run(
        [f, "run", "--quiet", "--source", sv1_dir, "--dest", f"ANY-SCP@127.0.0.1:{plain_port}",
         "--manifest", manifest()], env), "run sv1"),
    "transcode 100 CT to RLE": lambda f: transcode(f, native_dir, "rle"),
    "transcode 100 CT to JPEG-LS": lambda f: transcode(f, native_dir, "jpegls"),
    "transcode 100 RLE to explicit": lambda f: transcode(f, rle_dir, "explicit"),
}

if a.only:
    words = a.only.split(",")
    benchmarks = {k: v for k, v in benchmarks.items() if any(w in k for w in words)}
results = {name: {k: [] for k in binaries} for name in benchmarks}
try:
    for i in range(a.runs):
        for name, fn in benchmarks.items():
            order = list(binaries) if i % 2 == 0 else list(reversed(binaries))
            for which in order:
                results[name][which].append(fn(binaries[which]))
finally:
    ignore.kill()
    plain.kill()
    shutil.rmtree(work, ignore_errors=True)

print(f"new: {binaries['new']}\nbaseline: {binaries['baseline']}\nmedian and minimum of {a.runs} runs, alternating")
print("| benchmark | new s | baseline s | ratio new/baseline | ratio of minimums |")
print("|---|---|---|---|---|")
worst = 0.0
for name, by in results.items():
    new, base = statistics.median(by["new"]), statistics.median(by["baseline"])
    worst = max(worst, new / base)
    print(f"| {name} | {new:.3f} | {base:.3f} | {new / base:.2f} | {min(by['new']) / min(by['baseline']):.2f} |")
print(f"worst ratio: {worst:.2f} (target <= 1.05)")

#!/usr/bin/env python3
"""Pipeline benchmark, same run, against `/usr/bin/storescp --ignore` (TCP_NODELAY=1):
`ferry run` (planning and manifest included, fresh manifest each time) with 1, 2 and 4
associations on the ct-series profile (1000 CT files), against `/usr/bin/storescu +sd +r` and
`/usr/bin/dcmsend +sd +r` on the same files. Then, on 20,000 small files: `ferry plan` time,
a no-op re-run of the finished job, and the manifest's size per 1,000 instances.

Usage: scripts/bench/run.py [--runs R]
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import measure

ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--ferry", help="a ferry binary to use instead of building the release one")
a = ap.parse_args()

ferry = os.path.abspath(a.ferry) if a.ferry else measure.build_release()
env = measure.network_env()
directory, files, megabytes = measure.ready_corpus("ct-series")


port = measure.free_port()
scp = subprocess.Popen(["/usr/bin/storescp", "--ignore", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
measure.wait_port(port)

work = tempfile.mkdtemp(prefix="ferry-bench-run-", dir=os.path.join(measure.ROOT, ".build"))


def ferry_run(n, i):
    manifest = os.path.join(work, f"run-{n}-{i}.sqlite")
    return measure.run([ferry, "run", "--quiet", "--source", directory, "--dest", f"ANY-SCP@127.0.0.1:{port}",
                        "--associations", str(n), "--manifest", manifest], env)


tools = {
    "ferry run (1 association)": lambda i: ferry_run(1, i),
    "ferry run (2 associations)": lambda i: ferry_run(2, i),
    "ferry run (4 associations, default)": lambda i: ferry_run(4, i),
    "DCMTK storescu +sd +r": lambda i: measure.run(["/usr/bin/storescu", "+sd", "+r", "127.0.0.1", str(port), directory], env),
    "DCMTK dcmsend +sd +r": lambda i: measure.run(["/usr/bin/dcmsend", "+sd", "+r", "127.0.0.1", str(port), directory], env),
}
results = {k: [] for k in tools}
try:
    for i in range(a.runs):
        for name, fn in tools.items():
            results[name].append(fn(i))
finally:
    pass

print(f"ct-series: {len(files)} files, {megabytes:,.0f} MB, into storescp --ignore, median of {a.runs} runs")
print("| tool | wall s | MB/s | peak RSS MiB |")
print("|---|---|---|---|")
walls = {}
for name, rs in results.items():
    assert {r[2] for r in rs} == {0}, (name, [r[2] for r in rs])
    wall = statistics.median(r[0] for r in rs)
    walls[name] = wall
    print(f"| {name} | {wall:.2f} | {megabytes / wall:,.0f} | {max(r[1] for r in rs):.1f} |")
default = walls["ferry run (4 associations, default)"]
print(f"ratio ferry (default) / storescu: {default / walls['DCMTK storescu +sd +r']:.2f}; "
      f"/ dcmsend: {default / walls['DCMTK dcmsend +sd +r']:.2f} (target <= 0.8)")

# 20,000 small files: plan time, no-op re-run, manifest size.
many = os.path.join(measure.ROOT, ".build", "bench-corpus", "plan-20k")
if not os.path.exists(many + ".complete"):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian
    os.makedirs(many, exist_ok=True)
    for i in range(20000):
        ds = Dataset()
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.10.1515.20000.{i + 1}"
        ds.StudyInstanceUID = f"1.2.826.0.1.3680043.10.1515.20001.{i // 100 + 1}"
        ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.10.1515.20002.{i // 100 + 1}"
        ds.PatientID = f"P{i // 1000}"
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        sub = os.path.join(many, f"d{i // 1000:02d}")
        os.makedirs(sub, exist_ok=True)
        ds.save_as(os.path.join(sub, f"f{i:05d}.dcm"), enforce_file_format=True)
    open(many + ".complete", "w").close()
manifest = os.path.join(work, "many.sqlite")
plan_wall, plan_rss, rc = measure.run([ferry, "plan", "--source", many, "--manifest", manifest, "--format", "json"], env)
assert rc == 0
first_wall, _, rc = measure.run([ferry, "run", "--quiet", "--source", many, "--dest", f"ANY-SCP@127.0.0.1:{port}", "--manifest", manifest], env)
assert rc == 0, rc
noop_wall, _, rc = measure.run([ferry, "run", "--quiet", "--source", many, "--dest", f"ANY-SCP@127.0.0.1:{port}", "--manifest", manifest], env)
assert rc == 0
size = os.path.getsize(manifest) + (os.path.getsize(manifest + "-wal") if os.path.exists(manifest + "-wal") else 0)
print()
print("20,000 small files (1 KB each):")
print(f"| ferry plan | {plan_wall:.2f} s | peak RSS {plan_rss:.1f} MiB |")
print(f"| ferry run (first) | {first_wall:.2f} s |")
print(f"| ferry run (no-op re-run of the finished job) | {noop_wall:.2f} s (target < 5) |")
print(f"| manifest size | {size / 20:,.0f} bytes per 1,000 instances ({size / 1e6:.1f} MB in all) |")
scp.kill()

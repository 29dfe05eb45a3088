#!/usr/bin/env python3
"""Codec benchmarks, same run, against DCMTK and GDCM.

1. Transcoding on the way: 300 CT images (512x512x16) in JPEG lossless SV1 (made with DCMTK
   dcmcjpeg) sent to `/usr/bin/storescp --ignore` with its default configuration, which accepts
   only uncompressed syntaxes: `ferry run` (default settings, new manifest each run) against
   `/usr/bin/dcmsend` (which decompresses on the fly). Target: ferry <= 0.5 x dcmsend.
2. Per codec, decode and encode throughput in MB/s of native pixel data on 100 CT images:
   `ferry transcode DIR OUT --to SYNTAX` (one process for the directory, one core) against the
   DCMTK or GDCM command-line tool run once per file, as those tools are used.

Usage: scripts/bench/codecs.py [--runs R]
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
a = ap.parse_args()

ferry = measure.build_release()
env = measure.network_env()
source_dir, source_files, _ = measure.ready_corpus("ct-series")
work = tempfile.mkdtemp(prefix="ferry-bench-codecs-", dir=os.path.join(measure.ROOT, ".build"))


def encoded_set(name, count, tool):
    """`count` ct-series files re-encoded by `tool(src, dst)` (cached under .build/bench-corpus)."""
    out = os.path.join(measure.ROOT, ".build", "bench-corpus", f"{name}-{count}")
    if not os.path.exists(out + ".complete"):
        os.makedirs(out, exist_ok=True)
        for i, src in enumerate(source_files[:count]):
            subprocess.run(tool(src, os.path.join(out, f"f{i:04d}.dcm")), check=True, stdout=subprocess.DEVNULL)
        open(out + ".complete", "w").close()
    files = measure.files_under(out)
    measure.warm(files)
    return out, files


def timed(cmds):
    """Runs each command in turn; returns (wall seconds, peak RSS MiB), failing on an error."""
    wall, rss = 0.0, 0.0
    for cmd in cmds:
        w, r, status = measure.run(cmd, env)
        assert status == 0, (cmd, status)
        wall += w
        rss = max(rss, r)
    return wall, rss


# 1. 300 CT in SV1 to an uncompressed-only receiver.
sv1_dir, sv1_files = encoded_set("ct-sv1", 300, lambda s, d: ["dcmcjpeg", "+e1", s, d])
pixel_mb = 300 * 512 * 512 * 2 / 1e6
port = measure.free_port()
scp = subprocess.Popen(["/usr/bin/storescp", "--ignore", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
measure.wait_port(port)
results = {"ferry run": [], "dcmsend": []}
try:
    for i in range(a.runs):
        manifest = os.path.join(work, f"sv1-{i}.sqlite")
        results["ferry run"].append(timed([[ferry, "run", "--quiet", "--source", sv1_dir, "--dest", f"ANY-SCP@127.0.0.1:{port}", "--manifest", manifest]]))
        results["dcmsend"].append(timed([["/usr/bin/dcmsend", "+sd", "+r", "127.0.0.1", str(port), sv1_dir]]))
finally:
    scp.kill()
print(f"300 CT images in JPEG lossless SV1 ({sum(map(os.path.getsize, sv1_files)) / 1e6:.0f} MB, {pixel_mb:.0f} MB of pixels) "
      f"to storescp --ignore accepting only uncompressed syntaxes, median of {a.runs}:")
print("| tool | wall s | pixel MB/s | peak RSS MiB |")
print("|---|---|---|---|")
walls = {}
for name, rs in results.items():
    walls[name] = statistics.median(r[0] for r in rs)
    print(f"| {name} | {walls[name]:.2f} | {pixel_mb / walls[name]:,.0f} | {max(r[1] for r in rs):.1f} |")
print(f"ratio ferry run / dcmsend: {walls['ferry run'] / walls['dcmsend']:.2f} (target <= 0.5)")
print()

# 2. Per codec throughput on 100 CT images.
count = 100
native_dir = os.path.join(work, "native")
os.makedirs(native_dir)
for i, src in enumerate(source_files[:count]):
    shutil.copy(src, os.path.join(native_dir, f"f{i:04d}.dcm"))
native_files = measure.files_under(native_dir)
pixel_mb = count * 512 * 512 * 2 / 1e6
codecs = [
    # name, ferry --to, reference encoder, reference decoder
    ("RLE Lossless", "rle", lambda s, d: ["dcmcrle", s, d], lambda s, d: ["dcmdrle", s, d]),
    ("JPEG-LS lossless", "jpegls", lambda s, d: ["dcmcjpls", s, d], lambda s, d: ["dcmdjpls", s, d]),
    ("JPEG lossless SV1", "jpeg-lossless-sv1", lambda s, d: ["dcmcjpeg", "+e1", s, d], lambda s, d: ["dcmdjpeg", s, d]),
    ("JPEG 2000 lossless", "j2k-lossless", lambda s, d: ["gdcmconv", "--j2k", s, d], lambda s, d: ["gdcmconv", "--raw", s, d]),
    ("JPEG extended 12-bit (lossy)", None, lambda s, d: ["dcmcjpeg", "+ee", s, d], lambda s, d: ["dcmdjpeg", s, d]),
]
print(f"Per codec, {count} CT images (512x512x16, {pixel_mb:.0f} MB of pixels), median of {a.runs}; "
      "reference tools run once per file:")
print("| codec | direction | ferry s | ferry MB/s | reference | reference s | reference MB/s | ratio ferry/reference |")
print("|---|---|---|---|---|---|---|---|")
for name, to, encoder, decoder in codecs:
    enc_dir, enc_files = encoded_set("ct-" + name.split()[0].lower() + ("-ext" if to is None else ""), count, encoder)
    rows = []
    # Decode: compressed -> explicit VR little endian.
    out = os.path.join(work, "out")
    ferry_walls, ref_walls = [], []
    for _ in range(a.runs):
        shutil.rmtree(out, ignore_errors=True)
        ferry_walls.append(timed([[ferry, "transcode", enc_dir, out, "--to", "explicit"]])[0])
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        ref_walls.append(timed([decoder(f, os.path.join(out, os.path.basename(f))) for f in enc_files])[0])
    rows.append(("decode", statistics.median(ferry_walls), decoder("IN", "OUT")[0], statistics.median(ref_walls)))
    if to is not None:
        ferry_walls, ref_walls = [], []
        for _ in range(a.runs):
            shutil.rmtree(out, ignore_errors=True)
            ferry_walls.append(timed([[ferry, "transcode", native_dir, out, "--to", to]])[0])
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            ref_walls.append(timed([encoder(f, os.path.join(out, os.path.basename(f))) for f in native_files])[0])
        rows.append(("encode (verified)", statistics.median(ferry_walls), encoder("IN", "OUT")[0], statistics.median(ref_walls)))
    for direction, fw, tool, rw in rows:
        print(f"| {name} | {direction} | {fw:.2f} | {pixel_mb / fw:,.0f} | {tool} | {rw:.2f} | {pixel_mb / rw:,.0f} | {fw / rw:.2f} |")
shutil.rmtree(work, ignore_errors=True)

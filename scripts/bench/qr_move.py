#!/usr/bin/env python3
"""C-MOVE and C-GET of the ct-series study (1,000 CT images) from `ferry qrscp` and from DCMTK
dcmqrscp (fork mode), same run, same machine, medians and ratios ferry/dcmqrscp.

- C-MOVE: DCMTK movescu asks each SCP to move the study to DCMTK `storescp --fork --ignore`; with
  `--proxy PATH --delay-ms N`, the sub-associations go through that delay proxy (a program
  taking `--listen`, `--to` and `--delay-ms`), as they would cross a WAN between the archive and the
  destination.
- C-GET: DCMTK getscu and `ferry getscu` (which proposes an Asynchronous Operations Window of
  16; dcmqrscp ignores it, ferry qrscp sends that many sub-operations before their responses),
  -od into a scratch folder; with `--proxy`, each archive sits behind its own delay proxy, as
  it would across a WAN from the requestor.

Both archives hold the same files: dcmqrscp its copies (loaded by dcmsend), ferry the corpus
folder indexed in place (`--index-only`).

Usage: scripts/bench/qr_move.py [--runs 3] [--ferry PATH] [--proxy PATH --delay-ms 10] [--move-associations N]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import measure

ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--ferry", help="a ferry binary to use instead of building the release one")
ap.add_argument("--proxy", help="a delay proxy (latency-proxy's options) for the sub-associations")
ap.add_argument("--delay-ms", type=int, default=10)
ap.add_argument("--move-associations", type=int, help="ferry qrscp's --move-associations (default: its own, 4)")
a = ap.parse_args()

ferry = os.path.abspath(a.ferry) if a.ferry else measure.build_release()
env = measure.network_env()
corpus_dir, files, mb = measure.ready_corpus("ct-series")
work = tempfile.mkdtemp(prefix="ferry-bench-qrmove-", dir=os.path.join(measure.ROOT, ".build"))
processes = []


def start(cmd, port):
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(p)
    measure.wait_port(port)
    return p


try:
    sink_port = measure.free_port()
    # --fork: the destination takes parallel associations (single-process storescp would
    # serve them one after another).
    start(["/usr/bin/storescp", "--fork", "--ignore", "-aet", "SINK", str(sink_port)], sink_port)
    destination = sink_port
    if a.proxy:
        destination = measure.free_port()
        start([a.proxy, "--listen", f"127.0.0.1:{destination}", "--to", f"127.0.0.1:{sink_port}",
               "--delay-ms", str(a.delay_ms)], destination)
    hosts = f"HostTable BEGIN\nsink = (SINK, 127.0.0.1, {destination})\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
    servers = {}
    for name, binary in [("dcmqrscp", "/usr/bin/dcmqrscp"), ("ferry", ferry)]:
        area = os.path.join(work, name)
        os.makedirs(area)
        port = measure.free_port()
        cfg = os.path.join(work, name + ".cfg")
        with open(cfg, "w") as f:
            f.write(f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n{hosts}"
                    f"AETable BEGIN\nQR {area} RW (10, 1024mb) ANY\nAETable END\n")
        if name == "ferry":
            subprocess.run([ferry, "qrscp", "-c", cfg, "--index-only", corpus_dir], check=True,
                           stdout=subprocess.DEVNULL)
            extra = ["--move-associations", str(a.move_associations)] if a.move_associations else []
            start([ferry, "qrscp", "-c", cfg] + extra, port)
        else:
            start(["/usr/bin/dcmqrscp", "-c", cfg, str(port)], port)
            subprocess.run(["/usr/bin/dcmsend", "-aec", "QR", "+sd", "+r", "127.0.0.1", str(port), corpus_dir],
                           env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers[name] = port
    # C-GET's sub-operations travel on the requestor's association: the proxy goes in front of
    # each archive.
    get_ports = dict(servers)
    if a.proxy:
        for name, port in servers.items():
            get_ports[name] = measure.free_port()
            start([a.proxy, "--listen", f"127.0.0.1:{get_ports[name]}", "--to", f"127.0.0.1:{port}",
                   "--delay-ms", str(a.delay_ms)], get_ports[name])
    study = subprocess.run(["/usr/bin/dcmdump", "+P", "0020,000d", "-s", files[0]], capture_output=True,
                           text=True).stdout.split("[")[1].split("]")[0]
    keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study}"]
    out_dir = os.path.join(work, "got")

    def move(port):
        r = subprocess.run(["/usr/bin/movescu", "-S", "-aec", "QR", "-aem", "SINK"] + keys + ["127.0.0.1", str(port)],
                           env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"movescu failed: {r.stderr}")

    def get(client):
        def run(name):
            shutil.rmtree(out_dir, ignore_errors=True)
            os.makedirs(out_dir)
            r = subprocess.run(client + ["-S", "-aec", "QR", "-od", out_dir] + keys + ["127.0.0.1", str(get_ports[name])],
                               env=env, capture_output=True, text=True)
            got = len(os.listdir(out_dir))
            if r.returncode != 0 or got != len(files):
                raise SystemExit(f"{client[-1]} failed ({got} files): {r.stderr[-500:]}")
        return run

    def move_from(name):
        move(servers[name])

    link = f"through a {2 * a.delay_ms} ms RTT proxy" if a.proxy else "on loopback"
    print(f"ct-series: {len(files)} files, {mb:.0f} MB; C-MOVE sub-associations and C-GET associations {link}; "
          f"ferry --move-associations {a.move_associations or 'default (4)'}; median of {a.runs}")
    print(f"{'operation':28} {'ferry s':>8} {'dcmqrscp s':>11} {'ratio':>6}")
    for label, op in [
        ("C-MOVE to storescp --ignore", move_from),
        ("C-GET, DCMTK getscu -od", get(["/usr/bin/getscu"])),
        ("C-GET, ferry getscu -od", get([ferry, "getscu"])),
    ]:
        times = {"ferry": [], "dcmqrscp": []}
        for _ in range(a.runs):
            for name in ("dcmqrscp", "ferry"):
                os.sync()  # the previous run's 525 MB written back first, not during this one
                t = time.time()
                op(name)
                times[name].append(time.time() - t)
        f, d = statistics.median(times["ferry"]), statistics.median(times["dcmqrscp"])
        print(f"{label:28} {f:>8.2f} {d:>11.2f} {f / d:>6.2f}")
finally:
    for p in processes:
        p.terminate()
        p.wait()
    shutil.rmtree(work, ignore_errors=True)

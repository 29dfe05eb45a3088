#!/usr/bin/env python3
"""Pulling from a PACS (issue 30), same run, same machine, medians of --runs, at loopback and over a
simulated WAN (scripts/bench/delay_proxy.py on every link: to the source, from the source to the
move destination, to the destination). Two parts (--parts):

(a) `relay`: Ferry's pull job (`ferry run`, retrieve: move into its own receiver, forwarded by its
    sender) against the scripted DCMTK chain a migration team writes (findscu per day, movescu
    per study into a storescp, then storescu of what arrived to the destination). The
    destination is DCMTK storescp --fork --ignore (parallel associations are not serialised by
    the receiver).
(b) `move-direct`: Ferry's `retrieve: move-direct` (the source C-MOVEs each study straight to the
    destination; Ferry confirms each by C-FIND at the destination) against orthanc-tools'
    pacs_migrator (PyPI `orthanc-tools`, its command line) driving an Orthanc on this host in
    its own way: a C-FIND per Study Date through Orthanc's REST API, then per study a
    synchronous C-MOVE from the source with TargetAet the destination, in worker threads as
    many as Ferry's lanes (--max-retrieves; --migrator-threads to differ, its own default is 1).
    The destination is `ferry qrscp` (storage with a Q/R SCP, which move-direct needs for its
    checks; DCMTK dcmqrscp's flat index stored the mixed corpus ~2.6x slower, so the
    destination would have timed itself), a fresh empty one for every timed transfer. Checked:
    Ferry's manifest marks every instance received, and the destination's index holds every
    instance after either tool. For a corpus of one study (ct-series) the floor is printed too:
    the source's own send time, one DCMTK movescu of the study from the source into the same
    destination through the same links.

The source is DCMTK dcmqrscp (fork mode) holding the corpus (its files registered in place by
dcmqridx). Corpora: the mixed corpus (150 studies, 1,440 files, made uncompressed once with
`ferry transcode`, since dcmqrscp sends each SOP class on one context and the chain's storescp
takes uncompressed syntaxes) and the ct-series study (1,000 images).

Usage: scripts/bench/pull.py [--runs 3] [--ferry PATH] [--delays 0,10] [--profiles mixed,ct-series] [--max-retrieves N]
       [--study-affinity spread] [--parts relay,move-direct] [--migrator-threads N]
"""
import argparse
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import measure

ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--ferry", help="a ferry binary to use instead of building the release one")
ap.add_argument("--delays", default="0,10", help="one-way delays in ms (10: a 20 ms round trip)")
ap.add_argument("--profiles", default="mixed,ct-series")
ap.add_argument("--max-retrieves", type=int, default=2)
ap.add_argument("--study-affinity", help="Ferry's transfer.study_affinity (default: Ferry's own, one-association)")
ap.add_argument("--migrator-threads", type=int,
                help="pacs_migrator's --worker_threads_count (default: --max-retrieves; its own default is 1)")
ap.add_argument("--parts", default="relay,move-direct", help="relay: part (a), move-direct: part (b)")
a = ap.parse_args()
PARTS = a.parts.split(",")
if not PARTS or set(PARTS) - {"relay", "move-direct"}:
    ap.error("--parts: relay, move-direct or both")
if "move-direct" in PARTS:
    import importlib.util
    if importlib.util.find_spec("orthanc_tools") is None:
        sys.exit("part (b) drives orthanc-tools' pacs_migrator: pip install orthanc-tools (or --parts relay)")

ferry = os.path.abspath(a.ferry) if a.ferry else measure.build_release()
proxy = [sys.executable, os.path.join(os.path.dirname(__file__), "delay_proxy.py")]
env = measure.network_env()
work = tempfile.mkdtemp(prefix="ferry-bench-pull-", dir=os.path.join(measure.ROOT, ".build"))
peers = measure.Peers(env)


def plain_corpus(profile):
    """The corpus with every file uncompressed (explicit VR little endian), made once."""
    source = measure.corpus(profile)
    out = os.path.join(measure.ROOT, ".build", "bench-corpus", profile + "-plain")
    if not os.path.exists(out + ".complete"):
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([ferry, "transcode", source, out, "--to", "explicit"], check=True, stdout=subprocess.DEVNULL)
        open(out + ".complete", "w").close()
    files = measure.files_under(out)
    measure.warm(files)
    return out, files, sum(os.path.getsize(f) for f in files) / 1e6


def study_dates(files):
    """The first and last Study Date of the corpus (YYYYMMDD), and its Study Instance UIDs, read with pydicom."""
    import pydicom
    keys = ["StudyDate", "StudyInstanceUID"]
    heads = [pydicom.dcmread(f, stop_before_pixels=True, specific_tags=keys) for f in files]
    dates = {h.StudyDate for h in heads}
    return min(dates), max(dates), sorted({h.StudyInstanceUID for h in heads})


def days(first, last):
    import datetime
    d = datetime.date(int(first[:4]), int(first[4:6]), int(first[6:]))
    end = datetime.date(int(last[:4]), int(last[4:6]), int(last[6:]))
    while d <= end:
        yield d.strftime("%Y%m%d")
        d += datetime.timedelta(days=1)


def link(to_port, delay):
    """A port reaching `to_port`: itself at no delay, else a delay proxy in front of it."""
    if delay == 0:
        return to_port
    port = measure.free_port()
    peers.start(proxy + ["--listen", f"127.0.0.1:{port}", "--to", f"127.0.0.1:{to_port}", "--delay-ms", str(delay)], port)
    return port


def dcmqrscp(files, destinations):
    """dcmqrscp holding `files` in place; destinations: AE -> port of its host table."""
    d = tempfile.mkdtemp(dir=work)
    area = os.path.join(d, "DCMQR")
    os.makedirs(area)
    subprocess.run(["/usr/bin/dcmqridx", area] + files, check=True)
    port = measure.free_port()
    hosts = "\n".join(f"dest{i} = ({ae}, 127.0.0.1, {p})" for i, (ae, p) in enumerate(destinations.items()))
    with open(os.path.join(d, "qr.cfg"), "w") as f:
        f.write(f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 64\nHostTable BEGIN\n{hosts}\n"
                f"HostTable END\nVendorTable BEGIN\nVendorTable END\nAETable BEGIN\n"
                f"DCMQR {area} R (100000, 100000mb) ANY\nAETable END\n")
    peers.start(["/usr/bin/dcmqrscp", "-c", os.path.join(d, "qr.cfg"), str(port)], port)
    return port


def timed(step):
    begin = time.perf_counter()
    step()
    return time.perf_counter() - begin


def dcmtk_chain(source, destination, first, last, received, expected):
    """findscu per day, movescu per study into the chain's storescp, storescu of it all."""
    shutil.rmtree(received, ignore_errors=True)
    os.makedirs(received)
    studies = []
    for day in days(first, last):
        r = subprocess.run(
            ["/usr/bin/findscu", "-S", "-v", "-aec", "DCMQR", "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyDate={day}",
             "-k", "StudyInstanceUID", "127.0.0.1", str(source)], env=env, capture_output=True, text=True, check=True)
        studies += re.findall(r"\(0020,000d\) UI \[([0-9.]+)[ \x00]?\]", r.stdout + r.stderr)
    assert studies, ("findscu found no study", r.stdout[-1500:], r.stderr[-1500:])
    for study in studies:
        r = subprocess.run(
            ["/usr/bin/movescu", "-S", "-v", "-aec", "DCMQR", "-aem", "CHAIN", "-k", "QueryRetrieveLevel=STUDY",
             "-k", f"StudyInstanceUID={study}", "127.0.0.1", str(source)], env=env, capture_output=True, text=True)
        assert r.returncode == 0 and "Final Move Response (Success)" in r.stderr, ("movescu", r.stderr[-400:])
    r = subprocess.run(["/usr/bin/storescu", "+sd", "+r", "127.0.0.1", str(destination), received], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, ("storescu", r.returncode, r.stderr[-2000:])
    assert len(measure.files_under(received)) == expected, ("the chain received", len(measure.files_under(received)))
    return len(studies)


def ferry_pull(source, receiver, destination, run, expected):
    job = os.path.join(work, f"pull-{run}.yaml")
    with open(job, "w") as f:
        f.write(f"name: pull\nsource:\n  pacs: {{port: {source}, called_ae: DCMQR}}\n"
                f"  receiver: {{ae: FERRY, port: {receiver}}}\n  max_retrieves: {a.max_retrieves}\n"
                f"destination: {{port: {destination}, called_ae: STORESCP}}\n"
                + (f"transfer: {{study_affinity: {a.study_affinity}}}\n" if a.study_affinity else "")
                + f"manifest: {os.path.join(work, f'pull-{run}.sqlite')}\n")
    r = subprocess.run([ferry, "run", job, "--quiet"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    import sqlite3
    with sqlite3.connect(os.path.join(work, f"pull-{run}.sqlite")) as db:
        done = db.execute("SELECT COUNT(*) FROM instance WHERE state = 'done'").fetchone()[0]
    assert done == expected, ("ferry sent", done)


def relay_part():
    """Part (a): ferry run (retrieve: move, relayed) against the DCMTK chain; prints both tables."""
    print("| corpus | files | MB | RTT ms | tool | wall s (median) | MB/s |")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    for profile in a.profiles.split(","):
        directory, files, megabytes = plain_corpus(profile)
        first, last, _ = study_dates(files)
        for delay in [int(d) for d in a.delays.split(",")]:
            destination_port = measure.free_port()
            peers.start(["/usr/bin/storescp", "--fork", "--ignore", str(destination_port)], destination_port)
            chain_port, receiver = measure.free_port(), measure.free_port()
            chain_dir = os.path.join(work, "chain")
            os.makedirs(chain_dir, exist_ok=True)
            peers.start(["/usr/bin/storescp", "--fork", "-od", chain_dir, str(chain_port)], chain_port)
            source = dcmqrscp(files, {"CHAIN": link(chain_port, delay), "FERRY": link(receiver, delay)})
            source_link, destination_link = link(source, delay), link(destination_port, delay)
            walls = {"ferry run (pull by C-MOVE)": [], "DCMTK chain (findscu, movescu, storescu)": []}
            for _ in range(a.runs):
                run = next(run_numbers)
                walls["ferry run (pull by C-MOVE)"].append(
                    timed(lambda: ferry_pull(source_link, receiver, destination_link, run, len(files))))
                walls["DCMTK chain (findscu, movescu, storescu)"].append(
                    timed(lambda: dcmtk_chain(source_link, destination_link, first, last, chain_dir, len(files))))
            median = {}
            for name, w in walls.items():
                median[name] = statistics.median(w)
                print(f"| {profile} | {len(files)} | {megabytes:,.0f} | {2 * delay} | {name} | {median[name]:.2f} | "
                      f"{megabytes / median[name]:,.1f} |", flush=True)
            f, c = median.values()
            ratios.append((profile, 2 * delay, f / c))
            peers.stop_all()
    print()
    print("| corpus | RTT ms | ferry run / DCMTK chain |")
    print("|---|---|---|")
    for profile, rtt, r in ratios:
        print(f"| {profile} | {rtt} | {r:.2f} |")


DESTINATION_AE = "DEST"


def count(database, query):
    """The one number `query` answers from an SQLite file."""
    import sqlite3
    db = sqlite3.connect(database)
    try:
        return db.execute(query).fetchone()[0]
    finally:
        db.close()


def qrscp_destination(port):
    """A fresh, empty `ferry qrscp` on `port`: AE title DEST, one writable storage area."""
    d = tempfile.mkdtemp(dir=work)
    area = os.path.join(d, DESTINATION_AE)
    os.makedirs(area)
    config = os.path.join(d, "qr.cfg")
    with open(config, "w") as f:
        f.write(f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 64\nHostTable BEGIN\nHostTable END\n"
                f"VendorTable BEGIN\nVendorTable END\nAETable BEGIN\n"
                f"{DESTINATION_AE} {area} RW (1000, 1024mb) ANY\nAETable END\n")
    return peers.start([ferry, "qrscp", "-c", config, str(port)], port), d


def into_fresh_destination(port, transfer, expected):
    """Times `transfer` into a fresh destination on `port`, then stops it, checks that its index
    holds `expected` instances and removes it."""
    process, d = qrscp_destination(port)
    wall = timed(transfer)
    peers.stop(process)
    held = count(os.path.join(d, DESTINATION_AE, "ferry-index.sqlite"), "SELECT COUNT(*) FROM instance")
    shutil.rmtree(d)
    assert held == expected, ("the destination holds", held, "of", expected)
    return wall


def orthanc(source, destination):
    """Orthanc for pacs_migrator (AE MIGRATOR), the source and the destination its modalities; its HTTP port."""
    d = tempfile.mkdtemp(dir=work)
    dicom, http = measure.free_port(), measure.free_port()
    config = os.path.join(d, "orthanc.json")
    with open(config, "w") as f:
        json.dump({"Name": "bench", "DicomAet": "MIGRATOR", "DicomPort": dicom, "HttpPort": http,
                   "StorageDirectory": os.path.join(d, "storage"), "IndexDirectory": os.path.join(d, "index"),
                   "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "Plugins": [],
                   "DicomModalities": {"source": ["DCMQR", "127.0.0.1", source],
                                       "destination": [DESTINATION_AE, "127.0.0.1", destination]}}, f)
    peers.start(["/usr/sbin/Orthanc", "--logdir=" + d, config], http)
    return http


def ferry_move_direct(source, destination, run, expected):
    manifest = os.path.join(work, f"direct-{run}.sqlite")
    job = os.path.join(work, f"direct-{run}.yaml")
    with open(job, "w") as f:
        f.write(f"name: direct\nsource:\n  pacs: {{port: {source}, called_ae: DCMQR}}\n  retrieve: move-direct\n"
                f"  max_retrieves: {a.max_retrieves}\n"
                f"destination: {{port: {destination}, called_ae: {DESTINATION_AE}}}\nmanifest: {manifest}\n")
    r = subprocess.run([ferry, "run", job, "--quiet"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    received = count(manifest, "SELECT COUNT(*) FROM source_instance WHERE received")
    assert received == expected, ("ferry's manifest marks received", received)


def pacs_migrator(http, first, last, run):
    """orthanc-tools' pacs_migrator, as its documentation runs it: one pass over the Study Dates."""
    failed = os.path.join(work, f"migrator-{run}-failed.csv")
    r = subprocess.run(
        [sys.executable, "-m", "orthanc_tools.pacs_migrator", "--url", f"http://127.0.0.1:{http}",
         "--source_modality", "source", "--destination_aet", DESTINATION_AE, "--from_study_date", first,
         "--to_study_date", last, "--worker_threads_count", str(a.migrator_threads or a.max_retrieves),
         "--error_log_path", failed],
        capture_output=True, text=True)
    problems = [line for line in r.stderr.splitlines() if " - ERROR - " in line or " - WARNING - " in line]
    assert r.returncode == 0 and "Migration completed" in r.stderr and not problems and not os.path.exists(failed), \
        ("pacs_migrator", r.returncode, problems[:5], r.stderr[-1500:])


def source_send(source, study):
    """The floor: DCMTK movescu of the whole study from the source to the destination."""
    r = subprocess.run(
        ["/usr/bin/movescu", "-S", "-v", "-aec", "DCMQR", "-aem", DESTINATION_AE, "-k", "QueryRetrieveLevel=STUDY",
         "-k", f"StudyInstanceUID={study}", "127.0.0.1", str(source)], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and "Final Move Response (Success)" in r.stderr, ("movescu", r.stderr[-400:])


def move_direct_part():
    """Part (b): ferry run (retrieve: move-direct) against pacs_migrator driving Orthanc; prints its table."""
    print("| corpus | files | MB | RTT ms | ferry move-direct s | pacs_migrator s | ferry / pacs_migrator | "
          "source's send s (floor) |")
    print("|---|---|---|---|---|---|---|---|")
    for profile in a.profiles.split(","):
        directory, files, megabytes = plain_corpus(profile)
        first, last, studies = study_dates(files)
        for delay in [int(d) for d in a.delays.split(",")]:
            destination_port = measure.free_port()
            destination_link = link(destination_port, delay)
            source = dcmqrscp(files, {DESTINATION_AE: destination_link})
            source_link = link(source, delay)
            http = orthanc(source_link, destination_link)
            walls = {"ferry": [], "migrator": [], "floor": []}
            for _ in range(a.runs):
                run = next(run_numbers)
                walls["ferry"].append(into_fresh_destination(
                    destination_port, lambda: ferry_move_direct(source_link, destination_link, run, len(files)),
                    len(files)))
                walls["migrator"].append(into_fresh_destination(
                    destination_port, lambda: pacs_migrator(http, first, last, run), len(files)))
                if len(studies) == 1:
                    walls["floor"].append(into_fresh_destination(
                        destination_port, lambda: source_send(source_link, studies[0]), len(files)))
            f, m = statistics.median(walls["ferry"]), statistics.median(walls["migrator"])
            floor = f"{statistics.median(walls['floor']):.2f}" if walls["floor"] else "-"
            print(f"| {profile} | {len(files)} | {megabytes:,.0f} | {2 * delay} | {f:.2f} | {m:.2f} | {f / m:.2f} | "
                  f"{floor} |", flush=True)
            peers.stop_all()


run_numbers = itertools.count(1)
try:
    if "relay" in PARTS:
        relay_part()
    if "move-direct" in PARTS:
        if "relay" in PARTS:
            print()
        move_direct_part()
finally:
    peers.stop_all()
    shutil.rmtree(work, ignore_errors=True)

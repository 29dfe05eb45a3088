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
    synchronous C-MOVE from the source with TargetAet the destination, in --max-retrieves
    worker threads (Ferry's lanes get the same number). The destination is `ferry qrscp`
    (storage with a Q/R SCP, which move-direct needs for its checks; DCMTK dcmqrscp's flat
    index stored the mixed corpus ~2.6x slower than it, so it would have timed itself), a fresh
    one, empty, for every timed transfer. Checked: Ferry's manifest marks every instance
    received, and the destination's index holds every instance after either tool. For a corpus
    of one study (ct-series) the floor is printed too: the source's own send time, one DCMTK
    movescu of the study from the source into the same destination through the same links.

The source is DCMTK dcmqrscp (fork mode) holding the corpus (its files registered in place by
dcmqridx). Corpora: the mixed corpus (150 studies, 1,440 files, made uncompressed once with
`ferry transcode`, since dcmqrscp sends each SOP class on one context and the chain's storescp
takes uncompressed syntaxes) and the ct-series study (1,000 images).

Usage: scripts/bench/pull.py [--runs 3] [--ferry PATH] [--delays 0,10] [--profiles mixed,ct-series] [--max-retrieves N]
       [--study-affinity spread] [--parts relay,move-direct]
"""
import argparse
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
ap.add_argument("--parts", default="relay,move-direct", help="relay: part (a), move-direct: part (b)")
a = ap.parse_args()
PARTS = a.parts.split(",")
if not PARTS or set(PARTS) - {"relay", "move-direct"}:
    ap.error("--parts: relay, move-direct or both")

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
    heads = [pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["StudyDate", "StudyInstanceUID"]) for f in files]
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



#!/usr/bin/env python3
"""`ferry qrscp` over a million-instance index: STUDY-level queries on Study Date answered in
how long (issue 15's target: under 1 s). dcmqrscp cannot hold such an archive (500 studies
per storage area at most), so no DCMTK server is compared; DCMTK findscu is the client.

The index is made by ferry (an empty area indexed with --index-only creates its schema), then
filled with synthetic rows by SQLite directly: 2,000 patients, 10,000 studies over ten years
of Study Dates, 2 series each, 50 instances a series (1,000,000 instances), each level's
attributes encoded as ferry encodes them (explicit VR little endian).

Usage: scripts/bench/qr_index.py [--instances N] [--runs 5] [--ferry PATH]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import measure
import synthetic_index

ap = argparse.ArgumentParser()
ap.add_argument("--instances", type=int, default=1_000_000)
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--ferry", help="a ferry binary to use instead of building the release one")
ap.add_argument("--image-query", action="store_true",
                help="also a universal IMAGE-level query (every instance): time to its first answer, "
                     "its whole time and the server's peak RSS (pynetdicom as the client)")
a = ap.parse_args()

ferry = os.path.abspath(a.ferry) if a.ferry else measure.build_release()
work = tempfile.mkdtemp(prefix="ferry-bench-qr-", dir=os.path.join(measure.ROOT, ".build"))
area = os.path.join(work, "QRSCP")
os.makedirs(area)
empty = os.path.join(work, "empty")
os.makedirs(empty)
port = measure.free_port()
config = os.path.join(work, "qr.cfg")
with open(config, "w") as f:
    f.write(f"NetworkTCPPort = {port}\nHostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
            f"AETable BEGIN\nQRSCP {area} RW (100000, 1024mb) ANY\nAETable END\n")
subprocess.run([ferry, "qrscp", "-c", config, "--index-only", empty], check=True, stdout=subprocess.DEVNULL)


start = time.time()
instance_id, studies, patients = synthetic_index.fill(os.path.join(area, "ferry-index.sqlite"), a.instances)
print(f"index: {instance_id:,} instances, {studies:,} studies, {patients:,} patients, made in {time.time() - start:.0f} s")

def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def universal_image_query(port, pid):
    """Study Root, IMAGE level, every key universal: each instance is one answer."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind
    before = peak_rss_mb(pid)
    ae = AE(ae_title="BENCH")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    ae.dimse_timeout = ae.network_timeout = 600
    assoc = ae.associate("127.0.0.1", port, ae_title="QRSCP")
    assert assoc.is_established, "association refused"
    ds = Dataset()
    ds.QueryRetrieveLevel = "IMAGE"
    ds.StudyInstanceUID = ds.SeriesInstanceUID = ds.SOPInstanceUID = ""
    start = time.time()
    first, answers = None, 0
    for status, identifier in assoc.send_c_find(ds, StudyRootQueryRetrieveInformationModelFind):
        if status and status.Status in (0xFF00, 0xFF01):
            answers += 1
            if first is None:
                first = time.time() - start
    total = time.time() - start
    assoc.release()
    print(f"universal IMAGE query (pynetdicom): {answers:,} answers, first after {first:.3f} s, "
          f"all after {total:.1f} s; ferry qrscp peak RSS {before:.0f} MB before, {peak_rss_mb(pid):.0f} MB after")


server = subprocess.Popen([ferry, "qrscp", "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    measure.wait_port(port)
    env = measure.network_env()
    queries = {
        "one month of Study Dates, with NumberOfStudyRelatedInstances": [
            "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID", "-k", "StudyDate=20150101-20150131",
            "-k", "NumberOfStudyRelatedInstances"],
        "one day": ["-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID", "-k", "StudyDate=20150615"],
        "every study (no date)": ["-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID", "-k", "StudyDate"],
    }
    print(f"{'query (DCMTK findscu -S into ferry qrscp)':62} {'answers':>8} {'median s':>9}")
    for name, keys in queries.items():
        times, answers = [], 0
        for _ in range(a.runs):
            t = time.time()
            out = subprocess.run(["/usr/bin/findscu", "-S", "-v", "-aec", "QRSCP"] + keys + ["127.0.0.1", str(port)],
                                 env=env, capture_output=True, text=True, check=True)
            times.append(time.time() - t)
            answers = out.stderr.count("Find Response:")
        print(f"{name:62} {answers:>8} {statistics.median(times):>9.3f}")
    if a.image_query:
        universal_image_query(port, server.pid)
finally:
    server.terminate()
    server.wait()
    shutil.rmtree(work, ignore_errors=True)

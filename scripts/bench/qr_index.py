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
import sqlite3
import statistics
import struct
import subprocess
import tempfile
import time
import measure

ap = argparse.ArgumentParser()
ap.add_argument("--instances", type=int, default=1_000_000)
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--ferry", help="a ferry binary to use instead of building the release one")
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


def element(group, elem, vr, value):
    raw = value.encode()
    if len(raw) % 2:
        raw += b"\0" if vr == "UI" else b" "
    return struct.pack("<HH2sH", group, elem, vr.encode(), len(raw)) + raw


def blob(*elements):
    return b"".join(sorted(elements))


series_per_study, per_series = 2, 50
studies = max(1, a.instances // (series_per_study * per_series))
patients = max(1, studies // 5)
start = time.time()
db = sqlite3.connect(os.path.join(area, "ferry-index.sqlite"))
db.execute("PRAGMA synchronous = OFF")
cur = db.cursor()
root = "1.2.826.0.1.3680043.10.1515.77"
for p in range(patients):
    cur.execute("INSERT INTO patient (id, patient_id, issuer, charset, attributes) VALUES (?, ?, '', '', ?)",
                (p + 1, f"PID{p:07d}", blob(element(0x10, 0x10, "PN", f"DOE^PATIENT{p:07d}"),
                                           element(0x10, 0x20, "LO", f"PID{p:07d}"))))
instance_id = 0
for s in range(studies):
    day = time.gmtime(1262304000 + (s * 3650 // studies) * 86400)  # ten years from 2010-01-01
    date = time.strftime("%Y%m%d", day)
    suid = f"{root}.1.{s}"
    cur.execute("INSERT INTO study (id, patient, uid, date, time, accession, charset, attributes) "
                "VALUES (?, ?, ?, ?, '120000', ?, '', ?)",
                (s + 1, s % patients + 1, suid, date, f"ACC{s:08d}",
                 blob(element(0x08, 0x20, "DA", date), element(0x08, 0x30, "TM", "120000"),
                      element(0x08, 0x50, "SH", f"ACC{s:08d}"), element(0x20, 0x0D, "UI", suid))))
    for r in range(series_per_study):
        series_id = s * series_per_study + r + 1
        ruid = f"{root}.2.{s}.{r}"
        cur.execute("INSERT INTO series (id, study, uid, modality, charset, attributes) VALUES (?, ?, ?, 'CT', '', ?)",
                    (series_id, s + 1, ruid, blob(element(0x08, 0x60, "CS", "CT"), element(0x20, 0x0E, "UI", ruid))))
        rows = []
        for i in range(per_series):
            instance_id += 1
            iuid = f"{root}.3.{s}.{r}.{i}"
            rows.append((instance_id, series_id, iuid, f"/nonexistent/{iuid}", i + 1,
                         blob(element(0x08, 0x16, "UI", "1.2.840.10008.5.1.4.1.1.2"), element(0x08, 0x18, "UI", iuid),
                              element(0x20, 0x13, "IS", str(i + 1)))))
        cur.executemany("INSERT INTO instance (id, series, uid, sop_class, transfer_syntax, path, size, number, charset, "
                        "attributes) VALUES (?, ?, ?, '1.2.840.10008.5.1.4.1.1.2', '1.2.840.10008.1.2.1', ?, 1000, ?, '', ?)",
                        rows)
db.commit()
db.execute("ANALYZE")
db.close()
print(f"index: {instance_id:,} instances, {studies:,} studies, {patients:,} patients, made in {time.time() - start:.0f} s")

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
finally:
    server.terminate()
    server.wait()
    shutil.rmtree(work, ignore_errors=True)

#!/usr/bin/env python3
"""`ferry verify` of 10,000 instances in 100 studies (2 series of 50 each), against `ferry qrscp`
and against Orthanc: wall time and queries issued, compared in the same run with what a user
scripts today, a loop of DCMTK findscu at IMAGE level, one per study (which lists the instances
but checks nothing). Median of 3.

The instances are small synthetic images written by pydicom, sent once by `ferry run` to each
archive (not timed).

Usage: scripts/bench/verify.py [--studies 100] [--runs 3] [--ferry PATH] [--no-orthanc]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import measure

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ap = argparse.ArgumentParser()
ap.add_argument("--studies", type=int, default=100)
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--ferry", help="a ferry binary to use instead of building the release one")
ap.add_argument("--no-orthanc", action="store_true")
a = ap.parse_args()

ferry = os.path.abspath(a.ferry) if a.ferry else measure.build_release()
env = measure.network_env()
work = tempfile.mkdtemp(prefix="ferry-bench-verify-", dir=os.path.join(measure.ROOT, ".build"))
processes = []
SERIES, PER_SERIES = 2, 50


def write_corpus(root):
    studies = []
    pixels = np.zeros((8, 8), dtype=np.uint16).tobytes()
    for s in range(a.studies):
        study = generate_uid()
        studies.append(study)
        for r in range(SERIES):
            series = generate_uid()
            for i in range(PER_SERIES):
                ds = Dataset()
                ds.file_meta = FileMetaDataset()
                ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
                ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
                ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
                ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
                ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
                ds.PatientID, ds.PatientName = f"VERIFY{s % 20:03d}", f"VERIFY^{s % 20}"
                ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
                ds.StudyDate, ds.Modality, ds.InstanceNumber = "20260101", "OT", i + 1
                ds.Rows = ds.Columns = 8
                ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
                ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
                ds.PixelData = pixels
                path = os.path.join(root, f"s{s:03d}", f"r{r}", f"i{i:03d}.dcm")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                ds.save_as(path, enforce_file_format=True)
    return studies


def start(cmd, port):
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(p)
    measure.wait_port(port, seconds=60)
    return p


try:
    corpus = os.path.join(work, "corpus")
    studies = write_corpus(corpus)
    peers = {}
    port = measure.free_port()
    area = os.path.join(work, "QR")
    os.makedirs(area)
    with open(os.path.join(work, "qr.cfg"), "w") as f:
        f.write(f"NetworkTCPPort = {port}\nHostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
                f"AETable BEGIN\nQR {area} RW (1000, 1024mb) ANY\nAETable END\n")
    start([ferry, "qrscp", "-c", os.path.join(work, "qr.cfg")], port)
    peers["ferry qrscp"] = ("QR", port)
    if not a.no_orthanc and shutil.which("Orthanc"):
        dicom, http = measure.free_port(), measure.free_port()
        cfg = os.path.join(work, "orthanc.json")
        with open(cfg, "w") as f:
            json.dump({"Name": "bench", "StorageDirectory": os.path.join(work, "orthanc"),
                       "IndexDirectory": os.path.join(work, "orthanc"), "HttpPort": http, "DicomPort": dicom,
                       "DicomAet": "ORTHANC", "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
                       "Plugins": [], "DicomAlwaysAllowFind": True}, f)
        start(["Orthanc", cfg], dicom)
        peers["Orthanc"] = ("ORTHANC", dicom)

    print(f"{a.studies * SERIES * PER_SERIES} instances in {a.studies} studies; median of {a.runs}")
    print(f"{'peer':12} {'ferry verify s':>15} {'queries':>8} {'findscu loop s':>15} {'queries':>8} {'ratio':>6}")
    for name, (ae, p) in peers.items():
        manifest = os.path.join(work, f"{ae}.sqlite")
        job = ["--manifest", manifest, "--dest", f"{ae}@127.0.0.1:{p}", "--name", "bench", "--source", corpus]
        r = subprocess.run([ferry, "run", "--quiet"] + job, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"ferry run to {name} failed: {r.stderr[-500:]}")
        verify_times, loop_times, queries = [], [], 0
        for _ in range(a.runs):
            t = time.time()
            r = subprocess.run([ferry, "verify", "--quiet"] + job, capture_output=True, text=True)
            verify_times.append(time.time() - t)
            m = re.search(r"(\d+) verified, (\d+) missing.*\((\d+) queries", r.stdout)
            if r.returncode != 0 or not m or m.group(2) != "0":
                raise SystemExit(f"ferry verify against {name}: {r.stdout[-500:]} {r.stderr[-500:]}")
            queries = int(m.group(3))
            t = time.time()
            for study in studies:
                subprocess.run(["/usr/bin/findscu", "-S", "-aec", ae, "-k", "QueryRetrieveLevel=IMAGE",
                                "-k", f"StudyInstanceUID={study}", "-k", "SeriesInstanceUID", "-k", "SOPInstanceUID",
                                "127.0.0.1", str(p)], env=env, check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            loop_times.append(time.time() - t)
        v, l = statistics.median(verify_times), statistics.median(loop_times)
        print(f"{name:12} {v:>15.2f} {queries:>8} {l:>15.2f} {len(studies):>8} {v / l:>6.2f}")
finally:
    for p in processes:
        p.terminate()
        p.wait()
    shutil.rmtree(work, ignore_errors=True)

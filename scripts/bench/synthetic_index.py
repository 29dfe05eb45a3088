#!/usr/bin/env python3
"""Fills an empty `ferry qrscp` index with synthetic rows, by SQLite directly: patients (one
for five studies), studies spread over ten years of Study Dates from 2010, 2 series a study,
50 instances a series (fewer when asked for fewer), each level's attributes encoded as ferry
encodes them (explicit VR little endian). The files the rows name do not exist: for queries.

Used by scripts/bench/qr_index.py and by the tests of `ferry qrscp` under hostile queries.
The index must exist (an empty area indexed with `ferry qrscp --index-only EMPTY` creates it).

Usage: scripts/bench/synthetic_index.py INDEX.sqlite INSTANCES [SAME_DAY_STUDIES]
"""
import sqlite3
import struct
import sys
import time

ROOT = "1.2.826.0.1.3680043.10.1515.77"


def element(group, elem, vr, value):
    raw = value.encode()
    if len(raw) % 2:
        raw += b"\0" if vr == "UI" else b" "
    return struct.pack("<HH2sH", group, elem, vr.encode(), len(raw)) + raw


def blob(*elements):
    return b"".join(sorted(elements))


def study_uid(s):
    return f"{ROOT}.1.{s}"


def instance_uid(s, r, i):
    return f"{ROOT}.3.{s}.{r}.{i}"


def fill(path, instances, series_per_study=2, per_series=50, same_day=0):
    """Returns (instances, studies, patients) written. The first `same_day` studies are all
    on 2015-06-15, at times spread over the day (for tests of sources that cap answers)."""
    per_series = max(1, min(per_series, instances // series_per_study))
    studies = max(1, instances // (series_per_study * per_series))
    patients = max(1, studies // 5)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous = OFF")
    cur = db.cursor()
    for p in range(patients):
        cur.execute("INSERT INTO patient (id, patient_id, issuer, charset, attributes) VALUES (?, ?, '', '', ?)",
                    (p + 1, f"PID{p:07d}", blob(element(0x10, 0x10, "PN", f"DOE^PATIENT{p:07d}"),
                                               element(0x10, 0x20, "LO", f"PID{p:07d}"))))
    instance_id = 0
    for s in range(studies):
        day = time.gmtime(1262304000 + (s * 3650 // studies) * 86400)  # ten years from 2010-01-01
        date, clock = time.strftime("%Y%m%d", day), "120000"
        if s < same_day:
            date, clock = "20150615", time.strftime("%H%M%S", time.gmtime(s * 86399 // same_day))
        suid = study_uid(s)
        cur.execute("INSERT INTO study (id, patient, uid, date, time, accession, charset, attributes) "
                    "VALUES (?, ?, ?, ?, ?, ?, '', ?)",
                    (s + 1, s % patients + 1, suid, date, clock, f"ACC{s:08d}",
                     blob(element(0x08, 0x20, "DA", date), element(0x08, 0x30, "TM", clock),
                          element(0x08, 0x50, "SH", f"ACC{s:08d}"), element(0x20, 0x0D, "UI", suid))))
        for r in range(series_per_study):
            series_id = s * series_per_study + r + 1
            ruid = f"{ROOT}.2.{s}.{r}"
            cur.execute("INSERT INTO series (id, study, uid, modality, charset, attributes) "
                        "VALUES (?, ?, ?, 'CT', '', ?)",
                        (series_id, s + 1, ruid, blob(element(0x08, 0x60, "CS", "CT"), element(0x20, 0x0E, "UI", ruid))))
            rows = []
            for i in range(per_series):
                instance_id += 1
                iuid = instance_uid(s, r, i)
                rows.append((instance_id, series_id, iuid, f"/nonexistent/{iuid}", i + 1,
                             blob(element(0x08, 0x16, "UI", "1.2.840.10008.5.1.4.1.1.2"),
                                  element(0x08, 0x18, "UI", iuid), element(0x20, 0x13, "IS", str(i + 1)))))
            cur.executemany("INSERT INTO instance (id, series, uid, sop_class, transfer_syntax, path, size, number, "
                            "charset, attributes) VALUES (?, ?, ?, '1.2.840.10008.5.1.4.1.1.2', "
                            "'1.2.840.10008.1.2.1', ?, 1000, ?, '', ?)", rows)
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return instance_id, studies, patients


if __name__ == "__main__":
    n, studies, patients = fill(sys.argv[1], int(sys.argv[2]), same_day=int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    print(f"{n} instances, {studies} studies, {patients} patients")

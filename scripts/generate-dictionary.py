#!/usr/bin/env python3
"""Generate Ferry's data dictionary and UID registry from the DICOM standard's data.

The facts come from pydicom's tables as installed on this machine (themselves
generated from PS3.6); only facts are taken, no code. Which SOP classes are Storage SOP
classes (those a C-STORE carries: PS3.4 Annex B and the Non-Patient Object Storage classes)
comes from two implementations' own classifications, united: DCMTK's
dcmAllStorageSOPClassUIDs (read from the installed libdcmtk-dev by a three-line C++ program)
and pynetdicom's storage and non-patient object SOP class tables; the supplement UIDs below
say it themselves. The output is two Swift
files holding one tab-separated string literal each, which the core parses
lazily on first use (a literal array of 5,000 structs would take the Swift type
checker minutes).

Usage: scripts/generate-dictionary.py   (rewrites Sources/FerryDICOM/Dictionary/*+Generated.swift)
"""
import os
import subprocess
import sys
import tempfile

try:
    import pydicom
    from pydicom._dicom_dict import DicomDictionary, RepeatersDictionary
    from pydicom._uid_dict import UID_dictionary
except ImportError:
    sys.exit("generate-dictionary: needs pydicom (pip install pydicom)")

# Registered after pydicom 3.0's tables were made; facts from DCMTK 3.6.9's storescp man page
# and PS3.6 (UID, type, keyword, name).
SUPPLEMENT_STORAGE = {
    "1.2.840.10008.5.1.4.1.1.66.7", "1.2.840.10008.5.1.4.1.1.66.8",
    "1.2.840.10008.5.1.4.1.1.601.3", "1.2.840.10008.5.1.4.1.1.601.4",
}
SUPPLEMENT_UIDS = [
    ("1.2.840.10008.1.2.4.110", "Transfer Syntax", "JPEGXLLossless", "JPEG XL Lossless"),
    ("1.2.840.10008.1.2.4.111", "Transfer Syntax", "JPEGXLJPEGRecompression", "JPEG XL JPEG Recompression"),
    ("1.2.840.10008.1.2.4.112", "Transfer Syntax", "JPEGXL", "JPEG XL"),
    ("1.2.840.10008.5.1.4.1.1.66.7", "SOP Class", "LabelMapSegmentationStorage", "Label Map Segmentation Storage"),
    ("1.2.840.10008.5.1.4.1.1.66.8", "SOP Class", "HeightMapSegmentationStorage", "Height Map Segmentation Storage"),
    ("1.2.840.10008.5.1.4.1.1.601.3", "SOP Class", "DICONDEThermographyImageStorage", "DICONDE Thermography Image Storage"),
    ("1.2.840.10008.5.1.4.1.1.601.4", "SOP Class", "DICONDEThermographyMultiFrameImageStorage", "DICONDE Thermography Multi-frame Image Storage"),
]

OUT = os.path.join(os.path.dirname(__file__), "..", "Sources", "FerryDICOM", "Dictionary")


def vr_of(vr):
    # Ambiguous VRs ("US or SS", "OB or OW", "US or SS or OW") are kept whole: the
    # reader resolves them from context as DCMTK does (PixelRepresentation, Bits Allocated).
    return vr.replace(" or ", "|") if vr else "UN"


def clean(s):
    return s.replace("\t", " ").replace("\n", " ").replace('"""', "'''").replace("\\", "/")


def storage_sop_classes():
    """DCMTK's and pynetdicom's Storage SOP classes, united."""
    try:
        from pynetdicom import sop_class
    except ImportError:
        sys.exit("generate-dictionary: needs pynetdicom (pip install pynetdicom)")
    uids = set(SUPPLEMENT_STORAGE)
    for table in (sop_class._STORAGE_CLASSES, sop_class._NON_PATIENT_OBJECT_CLASSES):
        uids |= {str(uid) for uid in table.values()}
    program = ("#include <dcmtk/config/osconfig.h>\n#include <dcmtk/dcmdata/dcuid.h>\n#include <cstdio>\n"
               "int main() { for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; i++)"
               " printf(\"%s\\n\", dcmAllStorageSOPClassUIDs[i]); }\n")
    with tempfile.TemporaryDirectory() as d:
        source, binary = os.path.join(d, "storage.cc"), os.path.join(d, "storage")
        open(source, "w").write(program)
        built = subprocess.run(["c++", source, "-o", binary, "-ldcmdata", "-loflog", "-lofstd"])
        if built.returncode != 0:
            sys.exit("generate-dictionary: needs DCMTK's headers and libraries (apt-get install libdcmtk-dev)")
        uids |= set(subprocess.run([binary], capture_output=True, text=True, check=True).stdout.split())
    return uids


def main():
    lines = []
    for tag in sorted(DicomDictionary):
        vr, vm, name, retired, keyword = DicomDictionary[tag]
        lines.append("\t".join([f"{tag:08X}", vr_of(vr), vm, keyword, "R" if retired else "", clean(name)]))
    for mask in sorted(RepeatersDictionary):
        vr, vm, name, retired, keyword = RepeatersDictionary[mask]
        lines.append("\t".join([mask.upper().replace("X", "x"), vr_of(vr), vm, keyword, "R" if retired else "", clean(name)]))
    write("DataDictionary+Generated.swift", "DataDictionary", "table", lines,
          "tag (8 hex digits, x = any), VR, VM, keyword, R if retired, name")

    uids = []
    table = {uid: (v[0], v[1], v[3], v[4]) for uid, v in UID_dictionary.items()}
    for uid, kind, keyword, name in SUPPLEMENT_UIDS:
        table.setdefault(uid, (name, kind, "", keyword))
    storage = storage_sop_classes()
    for uid in sorted(table):
        name, kind, retired, keyword = table[uid]
        service = "Storage" if kind == "SOP Class" and uid in storage else ""
        uids.append("\t".join([uid, kind, keyword, "R" if retired else "", clean(name), service]))
    write("UIDRegistry+Generated.swift", "UIDRegistry", "table", uids,
          "UID, type, keyword, R if retired, name, Storage for a Storage SOP class")


def write(filename, type_name, prop, lines, columns):
    path = os.path.join(OUT, filename)
    with open(path, "w") as f:
        f.write("// swift-format-ignore-file\n")
        f.write(f"// Generated by scripts/generate-dictionary.py from pydicom {pydicom.__version__}'s tables (PS3.6). Do not edit.\n")
        f.write(f"// Columns, tab-separated: {columns}.\n\n")
        f.write(f"extension {type_name} {{\n")
        f.write(f"    static let {prop}: String = \"\"\"\n")
        for line in lines:
            f.write(line + "\n")
        f.write("\"\"\"\n}\n")
    print(f"generate-dictionary: {len(lines)} entries -> {path}")


if __name__ == "__main__":
    main()

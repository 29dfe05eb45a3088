/// Layouts that real archives hold and DCMTK's dcmdump reads without an error (issue 14).
public enum RealWorldFiles {
    /// An explicit VR big endian data set with no preamble and no file meta.
    public static func bigEndianWithoutMeta() -> [UInt8] {
        var b = Bytes(littleEndian: false)
        b.explicit(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7")
        b.explicit(0x0008, 0x0018, "UI", "1.2.826.0.1.3680043.10.2.1")
        b.explicit(0x0010, 0x0010, "PN", "DOE^JOHN")
        b.explicit(0x0010, 0x0020, "LO", "PID1")
        b.explicit(0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.10.2.2")
        b.explicit(0x0020, 0x000E, "UI", "1.2.826.0.1.3680043.10.2.3")
        return b.bytes
    }

    /// A Part 10 file whose meta group has no Transfer Syntax UID; the data set is implicit VR.
    public static func metaWithoutTransferSyntax() -> [UInt8] {
        var meta = Bytes()
        meta.explicit(0x0002, 0x0001, "OB", [0, 1])
        meta.explicit(0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.7")
        meta.explicit(0x0002, 0x0003, "UI", "1.2.826.0.1.3680043.10.2.4")
        meta.explicit(0x0002, 0x0012, "UI", "1.2.826.0.1.3680043.10.2.9")
        var b = Bytes()
        b.bytes = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        b.explicit(0x0002, 0x0000, "UL", [UInt8(meta.bytes.count), 0, 0, 0])
        b.bytes += meta.bytes
        for (e, value) in [
            (UInt16(0x0016), "1.2.840.10008.5.1.4.1.1.7"), (0x0018, "1.2.826.0.1.3680043.10.2.4"),
        ] {
            var v = Array(value.utf8)
            if v.count % 2 == 1 { v.append(0) }
            b.implicit(0x0008, e, v)
        }
        b.implicit(0x0010, 0x0020, Array("PID2".utf8))
        b.implicit(0x0020, 0x000D, Array("1.2.826.0.1.3680043.10.2.5".utf8))
        return b.bytes
    }

    /// A Secondary Capture whose defined-length Referenced Image Sequence holds an item whose
    /// length runs 12 bytes past the sequence, over the Patient ID that follows (as some
    /// DICOMDIR writers do): DCMTK reads the Patient ID into the item.
    public static func itemOverrunningItsSequence() -> [UInt8] {
        var b = Bytes.part10Header(transferSyntax: "1.2.840.10008.1.2.1")
        b.explicit(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7")
        b.explicit(0x0008, 0x0018, "UI", "1.2.826.0.1.3680043.10.2.6")
        var item = Bytes()
        item.explicit(0x0008, 0x1150, "UI", "1.2.840.10008.5.1.4.1.1.7")
        item.explicit(0x0008, 0x1155, "UI", "1.2.826.0.1.3680043.10.2.7")
        b.explicit(0x0008, 0x1140, "SQ", [], length: UInt32(8 + item.bytes.count))
        b.item(0xE000, length: UInt32(item.bytes.count + 12))
        b.bytes += item.bytes
        b.explicit(0x0010, 0x0020, "LO", "PID3")  // 12 bytes: inside the item by its length
        b.explicit(0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.10.2.8")
        b.explicit(0x0020, 0x000E, "UI", "1.2.826.0.1.3680043.10.2.9")
        return b.bytes
    }
}

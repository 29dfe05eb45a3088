/// Small Part 10 files whose headers lie about their pixel data (issue 14's hostile inputs).
public enum HostileFiles {
    /// The attributes a hostile file claims.
    public struct Claim: Sendable {
        public var rows, columns, samplesPerPixel, bitsAllocated: Int
        public init(rows: Int, columns: Int, samplesPerPixel: Int, bitsAllocated: Int) {
            self.rows = rows
            self.columns = columns
            self.samplesPerPixel = samplesPerPixel
            self.bitsAllocated = bitsAllocated
        }
        /// 65535 x 65535, 3 samples of 32 bits: 51.5 GB.
        public static let huge = Claim(rows: 65535, columns: 65535, samplesPerPixel: 3, bitsAllocated: 32)
    }

    /// An RLE Lossless CT image whose attributes claim `image` and whose one frame is an RLE
    /// header with the right number of tiny segments: a few hundred bytes in all.
    public static func rleClaiming(_ image: Claim, instance: String = "1.2.826.0.1.3680043.10.1.1") -> [UInt8] {
        encapsulated(
            transferSyntax: "1.2.840.10008.1.2.5", image: image,
            frame: rleFrame(segments: image.samplesPerPixel * image.bitsAllocated / 8), instance: instance)
    }

    /// A JPEG-LS frame, 256 x 256 x 12 bits, NEAR 2, whose scan stops after 4 bytes: CharLS
    /// 2.4.1 spends about 13 s in its bit reader on it before failing (a fuzzer finding).
    public static let stallingJPEGLSFrame: [UInt8] = [
        0xFF, 0xD8, 0xFF, 0xF7, 0x00, 0x0B, 0x0C, 0x01, 0x00, 0x01, 0x00, 0x01, 0x01, 0x11, 0x00,
        0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x02, 0x00, 0x00, 0xD9, 0xB2, 0xAE, 0x90,
    ]

    /// A JPEG-LS near-lossless CT image whose one frame is `stallingJPEGLSFrame`.
    public static func stallingJPEGLS(instance: String = "1.2.826.0.1.3680043.10.1.4") -> [UInt8] {
        encapsulated(
            transferSyntax: "1.2.840.10008.1.2.4.81",
            image: Claim(rows: 256, columns: 256, samplesPerPixel: 1, bitsAllocated: 16), bitsStored: 12,
            frame: stallingJPEGLSFrame, instance: instance)
    }

    /// A CT image of one encapsulated frame.
    static func encapsulated(
        transferSyntax: String, image: Claim, bitsStored: Int? = nil, frame: [UInt8], instance: String
    ) -> [UInt8] {
        var b = Bytes.part10Header(transferSyntax: transferSyntax)
        b.explicit(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.2")
        b.explicit(0x0008, 0x0018, "UI", instance)
        b.explicit(0x0008, 0x0060, "CS", "CT")
        b.explicit(0x0010, 0x0020, "LO", "HOSTILE")
        b.explicit(0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.10.1.2")
        b.explicit(0x0020, 0x000E, "UI", "1.2.826.0.1.3680043.10.1.3")
        b.explicit(0x0028, 0x0002, "US", le16(image.samplesPerPixel))
        b.explicit(0x0028, 0x0004, "CS", image.samplesPerPixel == 3 ? "RGB" : "MONOCHROME2")
        if image.samplesPerPixel == 3 { b.explicit(0x0028, 0x0006, "US", le16(0)) }
        b.explicit(0x0028, 0x0010, "US", le16(image.rows))
        b.explicit(0x0028, 0x0011, "US", le16(image.columns))
        let stored = bitsStored ?? image.bitsAllocated
        b.explicit(0x0028, 0x0100, "US", le16(image.bitsAllocated))
        b.explicit(0x0028, 0x0101, "US", le16(stored))
        b.explicit(0x0028, 0x0102, "US", le16(stored - 1))
        b.explicit(0x0028, 0x0103, "US", le16(0))
        b.explicit(0x7FE0, 0x0010, "OB", [], length: 0xFFFF_FFFF)
        b.item(0xE000, length: 0)
        let padded = frame.count % 2 == 0 ? frame : frame + [0]
        b.item(0xE000, length: UInt32(padded.count))
        b.bytes += padded
        b.item(0xE0DD, length: 0)
        return b.bytes
    }

    /// An RLE frame header for `segments` segments of two bytes each (a replicate run of 2).
    public static func rleFrame(segments: Int) -> [UInt8] {
        var b = Bytes()
        b.u32(UInt32(segments))
        for i in 0..<15 { b.u32(i < segments ? UInt32(64 + 2 * i) : 0) }
        for _ in 0..<segments { b.bytes += [0xFF, 0x00] }
        return b.bytes
    }

    static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
}

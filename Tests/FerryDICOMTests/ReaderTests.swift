import TestSupport
import Testing

@testable import FerryDICOM

@Suite(.scratch) struct ReaderTests {
    static let explicitLE = "1.2.840.10008.1.2.1"

    @Test func readsExplicitLittleEndianWithSequencesOfBothLengthKinds() throws {
        var b = Bytes.part10Header(transferSyntax: Self.explicitLE)
        b.explicit(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7")
        // (0008,1115) undefined-length sequence with an undefined-length item, then a defined one.
        b.explicit(0x0008, 0x1115, "SQ", [], length: 0xFFFF_FFFF)
        b.item(0xE000, length: 0xFFFF_FFFF)
        b.explicit(0x0020, 0x000E, "UI", "1.2.3")
        b.item(0xE00D, length: 0)
        b.item(0xE000, length: 16)
        b.explicit(0x0020, 0x000E, "UI", "1.2.4.5")
        b.item(0xE0DD, length: 0)
        b.explicit(0x0010, 0x0010, "PN", "DOE^J")  // odd length 5, padded by the helper to 6
        let file = try Part10Reader.read(bytes: b.bytes)
        #expect(file.transferSyntax == .explicitVRLittleEndian)
        #expect(file.dataSet.string(.sopClassUID) == "1.2.840.10008.5.1.4.1.1.7")
        let items = try #require(file.dataSet[Tag(0x0008, 0x1115)]?.items)
        #expect(items.count == 2)
        #expect(items[0].string(.seriesInstanceUID) == "1.2.3")
        #expect(items[1].string(.seriesInstanceUID) == "1.2.4.5")
        #expect(file.dataSet.string(.patientName) == "DOE^J")
    }

    @Test func readsOddLengthValuesAsTheyAre() throws {
        var b = Bytes.part10Header(transferSyntax: Self.explicitLE)
        b.explicit(0x0010, 0x0010, "PN", Array("ABC".utf8))  // odd, no padding
        b.explicit(0x0010, 0x0020, "LO", Array("ID1 ".utf8))
        let ds = try Part10Reader.read(bytes: b.bytes).dataSet
        #expect(ds[.patientName]?.bytes?.count == 3)
        #expect(ds.string(.patientID) == "ID1")
    }

    @Test func readsImplicitLittleEndianWithoutPreambleOrMeta() throws {
        var b = Bytes()
        b.implicit(0x0008, 0x0016, Array("1.2.840.10008.5.1.4.1.1.2\0".utf8))
        b.implicit(0x0008, 0x0018, Array("1.2.3.4\0".utf8))
        b.implicit(0x0028, 0x0010, [0x00, 0x02])
        let file = try Part10Reader.read(bytes: b.bytes)
        #expect(!file.layout.hasPreamble && !file.layout.hasFileMeta)
        #expect(file.transferSyntax == .implicitVRLittleEndian)
        #expect(file.dataSet[.rows]?.vr == .US)
        #expect(file.dataSet.integer(.rows) == 512)
        #expect(file.layout.quirks.contains { $0.contains("no preamble") })
    }

    @Test func readsExplicitBigEndianAndSwapsNumbersToLittleEndian() throws {
        var b = Bytes.part10Header(transferSyntax: "1.2.840.10008.1.2.2")
        var body = Bytes(littleEndian: false)
        body.explicit(0x0028, 0x0010, "US", [0x02, 0x00])  // 512 big endian
        body.explicit(0x0028, 0x1052, "DS", "-1024")
        body.explicit(0x7FE0, 0x0010, "OW", [0x01, 0x02, 0x03, 0x04])
        b.bytes += body.bytes
        let ds = try Part10Reader.read(bytes: b.bytes).dataSet
        #expect(ds.integer(.rows) == 512)
        #expect(Array(ds[.pixelData]?.bytes ?? []) == [0x02, 0x01, 0x04, 0x03])
    }

    @Test func unknownVRWithUndefinedLengthIsAnImplicitSequence() throws {
        var b = Bytes.part10Header(transferSyntax: Self.explicitLE)
        b.explicit(0x0009, 0x0010, "LO", "ACME")
        b.explicit(0x0009, 0x1001, "UN", [], length: 0xFFFF_FFFF)
        b.item(0xE000, length: 0xFFFF_FFFF)
        b.implicit(0x0010, 0x0020, Array("P1".utf8))
        b.item(0xE00D, length: 0)
        b.item(0xE0DD, length: 0)
        b.explicit(0x0010, 0x0030, "DA", "20200101")
        let ds = try Part10Reader.read(bytes: b.bytes).dataSet
        let items = try #require(ds[Tag(0x0009, 0x1001)]?.items)
        #expect(items.first?.string(.patientID) == "P1")
        #expect(ds.string(.patientBirthDate) == "20200101")
    }

    @Test func encapsulatedPixelDataExposesFramesByBasicOffsetTable() throws {
        var b = Bytes.part10Header(transferSyntax: "1.2.840.10008.1.2.5")
        b.explicit(0x0028, 0x0008, "IS", "2")
        b.explicit(0x7FE0, 0x0010, "OB", [], length: 0xFFFF_FFFF)
        b.item(0xE000, length: 8); b.u32(0); b.u32(22)  // BOT: frame 2 starts after fragment items of 8+2 and 8+4 bytes
        b.item(0xE000, length: 2); b.bytes += [1, 1]
        b.item(0xE000, length: 4); b.bytes += [2, 2, 2, 2]
        b.item(0xE000, length: 2); b.bytes += [3, 3]
        b.item(0xE0DD, length: 0)
        let ds = try Part10Reader.read(bytes: b.bytes).dataSet
        guard case .encapsulated(let pixels)? = ds[.pixelData]?.value else { Issue.record("not encapsulated"); return }
        #expect(pixels.fragments.count == 3)
        let frames = try pixels.frames(numberOfFrames: 2)
        #expect(frames.map { $0.count } == [2, 1])
        #expect(Array(frames[1][0]) == [3, 3])
        // The same fragments without a BOT but with an Extended Offset Table.
        let byEOT = try EncapsulatedPixelData(fragments: pixels.fragments).frames(
            numberOfFrames: 2, extendedOffsets: [0, 22])
        #expect(byEOT.map { $0.count } == [2, 1])
        // Non-monotonic or misaligned offsets are errors, never out-of-bounds reads.
        #expect(throws: DICOMError.self) {
            try EncapsulatedPixelData(fragments: pixels.fragments).frames(numberOfFrames: 2, extendedOffsets: [0, 7])
        }
        #expect(throws: DICOMError.self) {
            try EncapsulatedPixelData(fragments: pixels.fragments).frames(numberOfFrames: 2, extendedOffsets: [22, 0])
        }
    }

    /// 100,000 frames of two fragments each, grouped by an Extended Offset Table in one pass
    /// (the walk was quadratic: about 5e9 comparisons here).
    @Test func manyFramesAreGroupedByTheirOffsets() throws {
        let frames = 100_000
        let fragments = (0..<2 * frames).map { i in
            [UInt8(truncatingIfNeeded: i), UInt8(truncatingIfNeeded: i >> 8)][...]
        }
        let offsets = (0..<frames).map { UInt64($0 * 20) }  // two items of 8 + 2 bytes per frame
        let grouped = try EncapsulatedPixelData(fragments: fragments).frames(
            numberOfFrames: frames, extendedOffsets: offsets)
        #expect(grouped.count == frames)
        #expect(grouped.allSatisfy { $0.count == 2 })
        #expect(Array(grouped[frames - 1][1]) == Array(fragments[2 * frames - 1]))
        // An offset inside a fragment item is refused wherever it is.
        var bad = offsets
        bad[frames / 2] += 4
        #expect(throws: DICOMError.self) {
            try EncapsulatedPixelData(fragments: fragments).frames(numberOfFrames: frames, extendedOffsets: bad)
        }
    }

    /// Three layouts from real archives that dcmdump reads: each read the same way (dcmdump
    /// prints the same values), with the quirk recorded.
    @Test func realWorldLayoutsReadAsDCMTKReadsThem() throws {
        let dir = try Corpus.temporaryDirectory("real-world")
        func check(_ name: String, _ bytes: [UInt8], quirk: String) throws -> DICOMFile {
            let path = dir + "/" + name
            try FileBytes.write(bytes, to: path)
            let dump = try Tools.run("/usr/bin/dcmdump", [path])
            #expect(dump.status == 0 && !dump.stderr.contains("E:"), "\(name): \(dump.stderr)")
            let file = try Part10Reader.read(path: path)
            #expect(file.layout.quirks.contains { $0.contains(quirk) }, "\(name): \(file.layout.quirks)")
            for value in [file.dataSet.string(.sopInstanceUID), file.dataSet.string(.patientID)].compactMap({ $0 }) {
                #expect(dump.stdout.contains("[\(value)]"), "\(name): dcmdump shows \(value)")
            }
            #expect(try HeaderScan.summary(path: path).sopInstanceUID == file.dataSet.string(.sopInstanceUID))
            return file
        }
        let big = try check("be.dcm", RealWorldFiles.bigEndianWithoutMeta(), quirk: "read as Explicit VR Big Endian")
        #expect(big.transferSyntax == .explicitVRBigEndian && big.dataSet.string(.patientID) == "PID1")
        let meta = try check("meta.dcm", RealWorldFiles.metaWithoutTransferSyntax(), quirk: "no Transfer Syntax UID")
        #expect(meta.transferSyntax == .implicitVRLittleEndian && meta.dataSet.string(.patientID) == "PID2")
        let overrun = try check(
            "overrun.dcm", RealWorldFiles.itemOverrunningItsSequence(), quirk: "runs 12 bytes past its sequence")
        guard case .sequence(let items)? = overrun.dataSet[Tag(0x0008, 0x1140)]?.value else {
            Issue.record("no sequence")
            return
        }
        #expect(items.count == 1 && items[0].string(.patientID) == "PID3", "the Patient ID belongs to the item")
        #expect(overrun.dataSet.string(.studyInstanceUID) == "1.2.826.0.1.3680043.10.2.8")
        #expect(try HeaderScan.summary(path: dir + "/overrun.dcm").mustRewrite)
        #expect(try !HeaderScan.summary(path: dir + "/be.dcm").mustRewrite)
    }

    @Test func extendedOffsetTableIsReadFromTheFile() throws {
        var b = Bytes.part10Header(transferSyntax: "1.2.840.10008.1.2.5")
        b.explicit(0x0028, 0x0008, "IS", "2")
        b.explicit(0x0028, 0x0010, "US", [1, 0]); b.explicit(0x0028, 0x0011, "US", [2, 0])
        b.explicit(0x0028, 0x0100, "US", [8, 0])
        b.explicit(0x7FE0, 0x0001, "OV", [0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0])
        b.explicit(0x7FE0, 0x0010, "OB", [], length: 0xFFFF_FFFF)
        b.item(0xE000, length: 0)  // empty BOT, as PS3.5 A.4 requires with an EOT
        b.item(0xE000, length: 2); b.bytes += [1, 1]
        b.item(0xE000, length: 2); b.bytes += [2, 2]
        b.item(0xE0DD, length: 0)
        let ds = try Part10Reader.read(bytes: b.bytes).dataSet
        let frames = try #require(try ds.encapsulatedFrames())
        #expect(frames.map { $0.map(Array.init) } == [[[1, 1]], [[2, 2]]])
    }

    // MARK: Hostile input: every defect is a typed error naming offset and tag.

    func parseError(_ bytes: [UInt8]) -> DICOMError? {
        do {
            _ = try Part10Reader.read(bytes: bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test func declaredLengthPastTheEndIsRejectedBeforeAllocation() throws {
        var b = Bytes.part10Header(transferSyntax: Self.explicitLE)
        b.explicit(0x0010, 0x0010, "PN", "DOE")
        b.explicit(0x7FE0, 0x0010, "OB", [1, 2, 3], length: 0xFFFF_FFF0)
        let e = try #require(parseError(b.bytes))
        #expect(e.code == .truncated)
        #expect(e.tag == .pixelData)
        #expect(e.offset == 132 + 28 + 12)  // meta element (8+20) + PN element (8+4)
    }

    @Test func itemLongerThanItsSequenceIsRejected() throws {
        var b = Bytes.part10Header(transferSyntax: Self.explicitLE)
        b.explicit(0x0008, 0x1115, "SQ", [], length: 16)
        b.item(0xE000, length: 100)
        b.explicit(0x0020, 0x000E, "UI", "1.2")
        b.explicit(0x0010, 0x0010, "PN", "DOE")
        let e = try #require(parseError(b.bytes))
        #expect(e.code == .lengthExceedsRemaining)
        #expect(e.tag == Tag(0x0008, 0x1115))
    }

    @Test func missingDelimitersAreTruncation() throws {
        var b = Bytes.part10Header(transferSyntax: Self.explicitLE)
        b.explicit(0x0008, 0x1115, "SQ", [], length: 0xFFFF_FFFF)
        b.item(0xE000, length: 0xFFFF_FFFF)
        b.explicit(0x0020, 0x000E, "UI", "1.2")
        let e = try #require(parseError(b.bytes))
        #expect(e.code == .truncated)
    }

    @Test func strayDelimiterIsABadDelimiter() throws {
        var b = Bytes.part10Header(transferSyntax: Self.explicitLE)
        b.explicit(0x0010, 0x0010, "PN", "DOE")
        b.item(0xE0DD, length: 0)
        #expect(parseError(b.bytes)?.code == .badDelimiter)
        var c = Bytes.part10Header(transferSyntax: Self.explicitLE)
        c.explicit(0x0008, 0x1115, "SQ", [], length: 0xFFFF_FFFF)
        c.explicit(0x0010, 0x0010, "PN", "DOE")  // not an item
        #expect(parseError(c.bytes)?.code == .badDelimiter)
    }

    @Test func deepNestingStopsAt64() throws {
        var b = Bytes.part10Header(transferSyntax: Self.explicitLE)
        for _ in 0..<100_000 {
            b.explicit(0x0008, 0x1115, "SQ", [], length: 0xFFFF_FFFF)
            b.item(0xE000, length: 0xFFFF_FFFF)
        }
        let e = try #require(parseError(b.bytes))
        #expect(e.code == .nestingTooDeep)
    }

    @Test func invalidVRBytesAreNamed() throws {
        var b = Bytes.part10Header(transferSyntax: Self.explicitLE)
        b.tag(0x0010, 0x0010); b.bytes += [0x01, 0x02, 0x04, 0x00, 0x41, 0x42, 0x43, 0x44]
        let e = try #require(parseError(b.bytes))
        #expect(e.code == .invalidVR)
        #expect(e.tag == .patientName)
        #expect(e.offset == 132 + 28 + 4)
    }

    @Test func notDICOMEmptyAndTinyInputs() {
        #expect(parseError([])?.code == .notDICOM)
        #expect(parseError([0x25])?.code == .notDICOM)
        #expect(parseError(Array("%PDF-1.4 hello world".utf8))?.code == .notDICOM)
        #expect(parseError([UInt8](repeating: 0, count: 128) + Array("DIC".utf8))?.code == .notDICOM)
    }

    @Test func unregisteredTransferSyntaxIsUnsupported() {
        let b = Bytes.part10Header(transferSyntax: "1.2.3.4.5")
        #expect(parseError(b.bytes)?.code == .unsupportedTransferSyntax)
    }

    @Test func deflateBombStopsAtTheCap() throws {
        var body = [UInt8]()
        var inner = Bytes()
        inner.explicit(0x0010, 0x0010, "PN", "DOE")
        inner.explicit(0x7FE0, 0x0010, "OB", [UInt8](repeating: 0, count: 4_000_000))
        body = try Deflate.deflate(inner.bytes, level: 9)
        let b = Bytes.part10Header(transferSyntax: "1.2.840.10008.1.2.1.99").bytes + body
        var options = ReadOptions()
        options.maxInflatedSize = 1_000_000
        #expect(body.count < 10_000)
        #expect(throws: DICOMError.self) { try Part10Reader.read(bytes: b, options: options) }
        let ok = try Part10Reader.read(bytes: b)
        #expect(ok.dataSet[.pixelData]?.bytes?.count == 4_000_000)
    }

    @Test func pixelArithmeticIsCheckedIn64Bits() throws {
        func attributes(_ edit: (inout DataSet) -> Void) throws(DICOMError) -> PixelAttributes? {
            var ds = DataSet()
            ds.set(.rows, uint16: 512); ds.set(.columns, uint16: 512)
            ds.set(.bitsAllocated, uint16: 16); ds.set(.bitsStored, uint16: 12); ds.set(.highBit, uint16: 11)
            ds.set(.samplesPerPixel, uint16: 1)
            edit(&ds)
            return try PixelAttributes(ds)
        }
        #expect(try attributes { _ in }?.totalLength == 512 * 512 * 2)
        #expect(throws: DICOMError.self) { try attributes { $0.set(.highBit, uint16: 16) } }
        #expect(throws: DICOMError.self) { try attributes { $0.set(.bitsStored, uint16: 17) } }
        #expect(throws: DICOMError.self) { try attributes { $0.set(.samplesPerPixel, uint16: 2) } }
        #expect(throws: DICOMError.self) { try attributes { $0.set(.numberOfFrames, .IS, "0") } }
        #expect(throws: DICOMError.self) { try attributes { $0.set(.numberOfFrames, .IS, "-1") } }
        #expect(throws: DICOMError.self) { try attributes { $0.set(.numberOfFrames, .IS, "1e9") } }
        #expect(throws: DICOMError.self) { try attributes { $0.set(.numberOfFrames, .IS, "1000000000") } }
        // Rows as UL 0xFFFFFFFF (Orthanc CVE-2026-5442).
        #expect(throws: DICOMError.self) {
            try attributes { $0[.rows] = DataElement(.rows, .UL, bytes: [0xFF, 0xFF, 0xFF, 0xFF]) }
        }
    }
}

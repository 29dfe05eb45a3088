import Foundation
import TestSupport
import Testing

@testable import FerryDICOM

@Suite(.scratch) struct WriterTests {
    static let syntaxes: [TransferSyntax] = [
        .implicitVRLittleEndian, .explicitVRLittleEndian, .explicitVRBigEndian, .deflatedExplicitVRLittleEndian,
    ]

    /// A data set with every kind of element the writer must handle.
    static func sampleDataSet() -> DataSet {
        var ds = DataSet()
        ds.set(.specificCharacterSet, .CS, "ISO_IR 100")
        ds.set(.sopClassUID, .UI, "1.2.840.10008.5.1.4.1.1.7")
        ds.set(.sopInstanceUID, .UI, "1.2.3.45")  // odd: padded with NUL
        ds.set(.patientName, .PN, "DOE^JANE")
        ds.set(.patientID, .LO, "ID7")  // odd: padded with space
        ds[Tag(0x0018, 0x0050)] = DataElement(Tag(0x0018, 0x0050), .DS, string: "1.25")
        ds[Tag(0x0028, 0x0030)] = DataElement(Tag(0x0028, 0x0030), .DS, string: "0.5\\0.5")
        ds[Tag(0x0018, 0x1310)] = DataElement(Tag(0x0018, 0x1310), .US, bytes: [0, 0, 0, 2, 0, 2, 0, 0])
        ds[Tag(0x0018, 0x9087)] = DataElement(
            Tag(0x0018, 0x9087), .FD, bytes: Array(withUnsafeBytes(of: 1000.5.bitPattern.littleEndian, Array.init)))
        ds[Tag(0x0020, 0x9165)] = DataElement(Tag(0x0020, 0x9165), .AT, bytes: [0x20, 0x00, 0x32, 0x00])
        var item = DataSet()
        item.set(Tag(0x0008, 0x1150), .UI, "1.2.840.10008.5.1.4.1.1.2")
        item.set(Tag(0x0008, 0x1155), .UI, "1.2.3.4.5.6")
        ds[Tag(0x0008, 0x1140)] = DataElement(tag: Tag(0x0008, 0x1140), vr: .SQ, value: .sequence([item, DataSet()]))
        ds.set(.rows, uint16: 2); ds.set(.columns, uint16: 2)
        ds.set(.bitsAllocated, uint16: 16); ds.set(.bitsStored, uint16: 16); ds.set(.highBit, uint16: 15)
        ds.set(.samplesPerPixel, uint16: 1); ds.set(.pixelRepresentation, uint16: 0)
        ds.set(.photometricInterpretation, .CS, "MONOCHROME2")
        ds[.pixelData] = DataElement(.pixelData, .OW, bytes: [1, 0, 2, 0, 0, 1, 0xFF, 0xFF])
        return ds
    }

    /// Same tags, VRs and value bytes modulo padding; sequences compared item by item.
    static func equivalent(_ a: DataSet, _ b: DataSet) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a.elements, b.elements) {
            guard x.tag == y.tag, x.vr == y.vr else { return false }
            switch (x.value, y.value) {
            case (.bytes(let p), .bytes(let q)):
                let pad = x.vr.paddingByte
                var pp = Array(p), qq = Array(q)
                if pp.count % 2 == 1 { pp.append(pad) }
                if qq.count % 2 == 1 { qq.append(pad) }
                if pp != qq { return false }
            case (.sequence(let p), .sequence(let q)):
                guard p.count == q.count, zip(p, q).allSatisfy(equivalent) else { return false }
            default: return false
            }
        }
        return true
    }

    @Test(arguments: syntaxes)
    func roundTripsThroughEachUncompressedSyntax(_ ts: TransferSyntax) throws {
        let ds = Self.sampleDataSet()
        let bytes = try Part10Writer.encode(ds, transferSyntax: ts)
        let back = try Part10Reader.read(bytes: bytes)
        #expect(back.transferSyntax == ts)
        #expect(Self.equivalent(back.dataSet, ds))
        #expect(back.layout.quirks.isEmpty, "\(back.layout.quirks)")
        // Every value written has even length.
        func allEven(_ d: DataSet) -> Bool {
            d.elements.allSatisfy { e in
                switch e.value {
                case .bytes(let b): return b.count % 2 == 0
                case .sequence(let items): return items.allSatisfy(allEven)
                case .encapsulated: return true
                }
            }
        }
        #expect(allEven(back.dataSet))
    }

    /// dcmdump reads what Ferry writes with no warning and lists the same elements.
    @Test(arguments: syntaxes)
    func dcmdumpReadsWhatFerryWrites(_ ts: TransferSyntax) throws {
        let dir = try Corpus.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/written.dcm"
        let bytes = try Part10Writer.encode(Self.sampleDataSet(), transferSyntax: ts)
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let r = try Tools.run("/usr/bin/dcmdump", ["-Un", "+L", path])
        #expect(r.status == 0)
        #expect(r.stderr.isEmpty, "dcmdump warned: \(r.stderr)")
        let theirs = DumpListing.parse(r.stdout)
        let ours = DumpListing.parse(
            DataSetDump(maxValues: nil).lines(try Part10Reader.read(path: path)).joined(separator: "\n"))
        #expect(theirs.count == ours.count)
        for (o, t) in zip(ours, theirs) where !DumpInteropTests.same(o, t) {
            Issue.record("ferry \(o) / dcmdump \(t)")
        }
    }

    @Test func groupLengthsAreRecomputed() throws {
        var ds = Self.sampleDataSet()
        ds[Tag(0x0010, 0x0000)] = DataElement(Tag(0x0010, 0x0000), .UL, bytes: [0xEE, 0xEE, 0, 0])  // stale
        let bytes = try DataSetWriter(encoding: .explicitLittle).encode(ds)
        let back = try Part10Reader.read(bytes: bytes).dataSet
        // (0010,0010) PN 8 + header 8, (0010,0020) LO 4 + header 8.
        #expect(back.integer(Tag(0x0010, 0x0000)) == 28)
        let meta = try Part10Reader.read(bytes: try Part10Writer.encode(ds, transferSyntax: .explicitVRLittleEndian))
            .meta
        let metaLength = try #require(meta.integer(.fileMetaInformationGroupLength))
        let encodedMeta = try DataSetWriter(encoding: .explicitLittle).encode(meta.withoutGroup(0xFFFF))
        #expect(metaLength == encodedMeta.count - 12)
    }

    @Test func undefinedLengthSequencesRoundTrip() throws {
        let ds = Self.sampleDataSet()
        let writer = DataSetWriter(encoding: .implicitLittle, undefinedLengthSequences: true)
        let bytes = try writer.encode(ds)
        let back = try Part10Reader.read(bytes: bytes).dataSet
        #expect(Self.equivalent(back, ds))
        #expect(back[Tag(0x0008, 0x1140)]?.sourceLength == 0xFFFF_FFFF)
    }
}

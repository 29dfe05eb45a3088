import Foundation
import TestSupport
import Testing

@testable import FerryDICOM

@Suite(.scratch) struct HeaderScanTests {
    /// The header-only summary agrees with a full read for every readable corpus file, and the
    /// pixel data location points at the (7FE0,0010) tag.
    @Test func summariesAgreeWithFullReads() throws {
        var checked = 0
        for path in try Corpus.files("tiny") {
            let full = try Part10Reader.read(path: path)
            let s = try HeaderScan.summary(path: path)
            #expect(s.sopInstanceUID == full.dataSet.string(.sopInstanceUID))
            #expect(s.sopClassUID == full.dataSet.string(.sopClassUID))
            #expect(s.studyInstanceUID == full.dataSet.string(.studyInstanceUID))
            #expect(s.seriesInstanceUID == full.dataSet.string(.seriesInstanceUID))
            #expect(s.patientID == full.dataSet.string(.patientID))
            #expect(s.transferSyntaxUID == full.transferSyntax.uid)
            #expect(s.pixel == (try PixelAttributes(full.dataSet)))
            if !full.transferSyntax.isDeflated {
                let location = try #require(s.pixelData)
                let bytes = try FileBytes.readAll(path)
                let tag = Array(bytes[location.elementOffset..<(location.elementOffset + 4)])
                #expect(
                    tag == (full.transferSyntax.isLittleEndian ? [0xE0, 0x7F, 0x10, 0x00] : [0x7F, 0xE0, 0x00, 0x10]))
                if let length = location.length {
                    #expect(location.valueOffset + length == bytes.count)
                }
            }
            checked += 1
        }
        #expect(checked >= 12)
    }

    /// A header larger than the first prefix is found by growing the prefix; pixel bytes are not read.
    @Test func headerLargerThanTheFirstPrefix() throws {
        var ds = WriterTests.sampleDataSet()
        ds[Tag(0x0040, 0xA160)] = DataElement(Tag(0x0040, 0xA160), .UT, string: String(repeating: "x", count: 100_000))
        let bytes = try Part10Writer.encode(ds, transferSyntax: .explicitVRLittleEndian)
        let s = try HeaderScan.summary(prefix: bytes, fileSize: bytes.count, path: "mem")
        #expect(s.sopInstanceUID == "1.2.3.45")
        #expect(throws: DICOMError.self) {
            try HeaderScan.summary(prefix: Array(bytes.prefix(16 * 1024)), fileSize: bytes.count, path: "mem")
        }
        let dir = try Corpus.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = FileManager.default.createFile(atPath: dir + "/big.dcm", contents: Data(bytes))
        #expect(try HeaderScan.summary(path: dir + "/big.dcm").pixelData?.length == 8)
    }

    /// A length before Pixel Data that runs past the end of the file is a defect as soon as the
    /// first prefix shows it: the scan does not read the rest of the file to find out (issue 14).
    @Test func aLengthPastTheEndOfTheFileFailsWithoutReadingMore() throws {
        var b = Bytes.part10Header(transferSyntax: TransferSyntax.explicitVRLittleEndian.uid)
        b.explicit(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7")
        b.explicit(0x0009, 0x1010, "OB", [], length: 0x7FFF_FFF0)
        let fileSize = 64 << 20
        #expect {
            try HeaderScan.summary(
                prefix: b.bytes + [UInt8](repeating: 0, count: 16 * 1024), fileSize: fileSize, path: "mem")
        } throws: { error in
            guard let e = error as? DICOMError else { return false }
            return e.code == .truncated && e.tag == Tag(0x0009, 0x1010)
                && e.message.contains("past the end of the file")
        }
        // A length that fits in the file still asks for more of it (the prefix grows).
        #expect {
            try HeaderScan.summary(prefix: b.bytes, fileSize: 0x7FFF_FFF0 + 1000, path: "mem")
        } throws: { ($0 as? DICOMError)?.code == .needMoreData }
    }

    /// Header mode never needs the pixel bytes: a file cut after the pixel data header still scans
    /// when the cut is inside the value, and is reported truncated.
    @Test func headerScanStopsBeforePixelBytes() throws {
        let bytes = try Part10Writer.encode(WriterTests.sampleDataSet(), transferSyntax: .explicitVRLittleEndian)
        let prefix = Array(bytes.prefix(bytes.count - 4))
        let s = try HeaderScan.summary(prefix: prefix, fileSize: bytes.count + 100, path: "mem")
        #expect(s.pixelData?.length == 8)
    }

    @Test func parallelScanKeepsOrderAndReportsErrors() throws {
        let files = try Corpus.files("stress")
        let results = ParallelScan.summaries(files)
        #expect(results.count == files.count)
        for (path, r) in zip(files, results) {
            if case .success(let s) = r { #expect(s.path == path) }
        }
        let failures = results.filter { if case .failure = $0 { return true } else { return false } }
        #expect(failures.count == 6)  // the odd files that are not DICOM or are damaged
    }

    @Test func directoryWalkerListsFilesSortedAndSkipsLinksByDefault() throws {
        let dir = try Corpus.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/b/c", withIntermediateDirectories: true)
        for f in ["/b/c/2", "/b/1", "/a"] { _ = FileManager.default.createFile(atPath: dir + f, contents: Data([1])) }
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: dir + "/b")
        #expect(DirectoryWalker().files(under: [dir]) == [dir + "/a", dir + "/b/1", dir + "/b/c/2"])
        #expect(DirectoryWalker(recursive: false).files(under: [dir]) == [dir + "/a"])
        #expect(DirectoryWalker(symlinks: .follow).files(under: [dir]).count == 5)
    }
}

@Suite(.scratch) struct SampleArchiveTests {
    @Test func sampleArchiveIsReadByDcmdumpAndFerry() throws {
        let dir = try Corpus.temporaryDirectory("ferry-sample")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let paths = try FerrySampleAccess.write(dir)
        #expect(paths.count >= 30)
        var syntaxes = Set<String>(), modalities = Set<String>(), patients = Set<String>()
        for path in paths {
            let s = try HeaderScan.summary(path: path)
            syntaxes.insert(s.transferSyntaxUID)
            modalities.insert(s.modality ?? "")
            patients.insert(s.patientID ?? "")
            #expect(UIDGrammar.isValid(s.sopInstanceUID ?? ""))
        }
        #expect(syntaxes.count == 4)
        #expect(modalities == ["CT", "MR", "US"])
        #expect(patients.count == 3)
        for path in paths.prefix(40) {
            let r = try Tools.run("/usr/bin/dcmdump", ["-M", path])
            #expect(r.status == 0 && r.stderr.isEmpty, "\(path): \(r.stderr)")
        }
    }
}

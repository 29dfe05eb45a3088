import Foundation
import TestSupport
import Testing

@testable import FerryDICOM

/// `ferry dump` against `dcmdump` on files written by other toolkits (pydicom, DCMTK, GDCM).
@Suite(.scratch) struct DumpInteropTests {
    static func ferryListing(_ path: String) throws -> [ListedElement] {
        let file = try Part10Reader.read(path: path)
        return DumpListing.parse(DataSetDump(maxValues: nil).lines(file).joined(separator: "\n"))
    }

    static func dcmdumpListing(_ path: String) throws -> [ListedElement]? {
        let r = try Tools.run("/usr/bin/dcmdump", ["-q", "-Un", "+L", path])
        return r.status == 0 ? DumpListing.parse(r.stdout) : nil
    }

    /// Equal, except that floats are compared as numbers (dcmdump prints them with %g).
    static func same(_ a: ListedElement, _ b: ListedElement) -> Bool {
        if a == b { return true }
        guard a.tag == b.tag, a.vr == b.vr, a.length == b.length, a.depth == b.depth else { return false }
        guard a.vr == "FL" || a.vr == "FD", let av = a.value, let bv = b.value else { return false }
        let x = av.split(separator: "\\").compactMap { Double($0) },
            y = bv.split(separator: "\\").compactMap { Double($0) }
        return x.count == y.count && zip(x, y).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) }
    }

    static func compare(profile: String) throws -> (compared: Int, mismatches: [String]) {
        var compared = 0
        var mismatches: [String] = []
        for path in try Corpus.files(profile) where !path.contains("/odd/") {
            guard let theirs = try dcmdumpListing(path) else { continue }
            let ours = try ferryListing(path)
            compared += 1
            if ours.count != theirs.count {
                mismatches.append("\(path): \(ours.count) elements, dcmdump \(theirs.count)")
            }
            for (o, t) in zip(ours, theirs) where !same(o, t) {
                mismatches.append("\(path):\n  ferry   \(o)\n  dcmdump \(t)")
                break
            }
        }
        return (compared, mismatches)
    }

    @Test func tinyProfileMatchesDcmdump() throws {
        let (compared, mismatches) = try Self.compare(profile: "tiny")
        #expect(compared >= 12)
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
    }

    @Test func stressProfileMatchesDcmdump() throws {
        let (compared, mismatches) = try Self.compare(profile: "stress")
        #expect(compared >= 130)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5).joined(separator: "\n"))")
    }

    /// Each odd file gets the expected outcome: a typed error, or a correct read.
    @Test(arguments: [
        ("truncated-in-pixels.dcm", DICOMError.Code.truncated),
        ("truncated-in-header.dcm", .truncated),
        ("zero-length.dcm", .notDICOM),
        ("not-dicom.dcm", .notDICOM),
        ("README.txt", .notDICOM),
        ("bad-length.dcm", .invalidVR),  // PatientName length 0x7FFF swallows what follows
    ])
    func oddFilesGiveTypedErrors(_ name: String, _ code: DICOMError.Code) throws {
        let dir = try Corpus.directory("stress") + "/odd/"
        do {
            _ = try Part10Reader.read(path: dir + name)
            Issue.record("\(name) was read without error")
        } catch {
            #expect(error.code == code, "\(error)")
            #expect(error.path == dir + name)
            if code != .notDICOM { #expect(error.offset != nil) }
        }
        // The header scan agrees (bad-length and the header truncation sit before Pixel Data).
        if name != "truncated-in-pixels.dcm" {
            #expect(throws: DICOMError.self) { try HeaderScan.summary(path: dir + name) }
        }
    }

    @Test(arguments: ["good.dcm", "duplicate-of-good.img", "no-meta-implicit.raw"])
    func oddFilesThatAreReadable(_ name: String) throws {
        let path = try Corpus.directory("stress") + "/odd/" + name
        let file = try Part10Reader.read(path: path)
        #expect(file.dataSet.string(.sopInstanceUID) != nil)
        let theirs = try #require(try Self.dcmdumpListing(path))
        let ours = try Self.ferryListing(path)
        // dcmdump lists no meta header for the bare data set; compare the data set part.
        #expect(ours.filter { !$0.tag.hasPrefix("(0002") } == theirs.filter { !$0.tag.hasPrefix("(0002") })
    }
}

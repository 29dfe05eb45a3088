import Foundation
import TestSupport
import Testing

/// `ferry qrscp` keeps serving while one store's file write and index update are blocked for
/// 10 s (--block-storage): C-ECHOs on new associations and another association's stores are
/// answered meanwhile (see FerryServicesTests' twin for `ferry storescp`).
@Suite(.scratch)
struct ArchiveSlowStorageTests {
    @Test func qrscpServesOthersWhileAStoreIsBlocked() throws {
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(3))
        try #require(files.count == 3)
        let archive = try QRSCPProcess(files: [], extra: ["--block-storage", "10"])
        defer { archive.peer.stop() }
        let result = try SlowStorageProbe.run(
            receiver: archive.peer, calledAE: "QRSCP", blocked: files[0], others: Array(files.dropFirst()))
        #expect(SlowStorageProbe.failures(result) == [], "\(archive.peer.log())")
    }
}

import Foundation
import TestSupport
import Testing

/// `ferry storescp` keeps serving while one store's write is blocked for 10 s (--block-storage):
/// blocking work never runs on an event loop, so C-ECHOs on new associations and another
/// association's stores are answered meanwhile. A receiver that wrote on its event loops would
/// leave every association on the blocked loop waiting the 10 s.
@Suite(.scratch)
struct SlowStorageTests {
    @Test func storescpServesOthersWhileAStoreIsBlocked() throws {
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(3))
        try #require(files.count == 3)
        let port = freePort()
        let receiver = try PeerProcess(
            FerryCLI.path,
            ["storescp", "-v", "--block-storage", "10", "-od", try Corpus.temporaryDirectory("slow-rx"), String(port)],
            port: port)
        defer { receiver.stop() }
        let result = try SlowStorageProbe.run(
            receiver: receiver, calledAE: "ANY-SCP", blocked: files[0], others: Array(files.dropFirst()))
        #expect(SlowStorageProbe.failures(result) == [], "\(receiver.log())")
    }
}

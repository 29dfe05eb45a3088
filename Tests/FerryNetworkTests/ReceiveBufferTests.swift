import Foundation
import TestSupport
import Testing

/// `ferry storescp` gives a storing association an 8 MiB socket receive buffer where
/// net.core.rmem_max allows it, and leaves the kernel's own sizing elsewhere (issue 17: on
/// loopback the kernel keeps the buffer small, and a sender with a window of stores then makes
/// the receiver transmit for it). Read off `ss -tm` for the accepted socket.
@Suite(.scratch)
struct ReceiveBufferTests {
    @Test func aStoringAssociationGetsALargeReceiveBufferWhereTheSystemAllowsIt() throws {
        let rmemMax = try #require(
            Int(try String(contentsOfFile: "/proc/sys/net/core/rmem_max", encoding: .utf8).filter(\.isNumber)))
        let dir = try Corpus.temporaryDirectory()
        let scp = try PeerProcess.ferryStorescp(outputDirectory: dir)
        defer { scp.stop() }
        // A client connection held open while the receiver's side of it is looked at.
        let client = try #require(connectToLoopback(scp.port))
        defer { close(client) }
        var listing = ""
        let seen = waitUntil(timeout: 30) {
            listing =
                (try? Tools.run("/bin/ss", ["-tmnH", "state", "established", "( sport = :\(scp.port) )"]))?.stdout ?? ""
            return listing.contains("skmem:")
        }
        #expect(seen, "the accepted socket is listed: \(listing)")
        if rmemMax >= 4 << 20 {
            #expect(listing.contains("rb8388608"), "8 MiB where rmem_max is \(rmemMax): \(listing)")
        } else {
            #expect(!listing.contains("rb8388608"), "the kernel's sizing where rmem_max is \(rmemMax): \(listing)")
        }
    }
}

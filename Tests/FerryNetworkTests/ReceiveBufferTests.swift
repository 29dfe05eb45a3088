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
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(client >= 0)
        defer { close(client) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(scp.port).bigEndian
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(connected == 0)
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

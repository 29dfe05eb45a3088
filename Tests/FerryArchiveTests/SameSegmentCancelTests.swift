import Foundation
import TestSupport
import Testing

/// A C-CANCEL-RQ written in the same TCP segment as its C-FIND-RQ (a client that cancels at
/// once, or a proxy that coalesces writes) stops the find: the session hands what followed the
/// request back to the reader before serving it. Before, the cancel sat unread behind the
/// request, every match was answered, and the cancel was dropped afterwards.
@Suite(.scratch)
struct SameSegmentCancelTests {
    /// Associates (Study Root FIND), writes C-FIND-RQ + identifier + C-CANCEL-RQ in one write,
    /// reads the responses up to the final one, prints "pending N final 0xXXXX".
    static let client =
        RawDICOMClient.helpers + #"""
            port = int(sys.argv[1])
            FIND = b"1.2.840.10008.5.1.4.1.2.2.1"
            t = associate(port, b"QRSCP", b"CANCEL-TEST", FIND)
            assert t == 2, "association not accepted: PDU type %d" % t
            find = command([el(0, 0x2, uid(FIND)), el(0, 0x100, struct.pack("<H", 0x20)), el(0, 0x110, struct.pack("<H", 7)),
                            el(0, 0x700, struct.pack("<H", 0)), el(0, 0x800, struct.pack("<H", 0))])
            identifier = el(8, 0x52, b"IMAGE ") + el(0x20, 0xD, b"") + el(0x20, 0xE, b"") + el(8, 0x18, b"")
            cancel = command([el(0, 0x100, struct.pack("<H", 0xFFF)), el(0, 0x120, struct.pack("<H", 7)),
                              el(0, 0x800, struct.pack("<H", 0x101))])
            s.sendall(pdv(3, find) + pdv(2, identifier) + pdv(3, cancel))
            pending = 0
            while True:
                t, body = read_pdu()
                assert t == 4, "PDU type %d instead of P-DATA" % t
                p = 0; final = None
                while p < len(body):
                    n = struct.unpack(">I", body[p:p+4])[0]; flags = body[p+5]; data = body[p+6:p+4+n]; p += 4 + n
                    if not flags & 1: continue
                    q = 0; f = {}
                    while q < len(data):
                        g, e, l = struct.unpack_from("<HHI", data, q); f[(g, e)] = data[q+8:q+8+l]; q += 8 + l
                    status = struct.unpack("<H", f[(0, 0x900)])[0]
                    if status in (0xFF00, 0xFF01): pending += 1
                    else: final = status
                if final is not None: break
            s.sendall(bytes([5, 0]) + struct.pack(">I", 4) + bytes(4))
            print("pending %d final 0x%04X" % (pending, final))
            """#

    @Test func aCancelInTheSameSegmentStopsTheFind() throws {
        let files = try Interop.uncompressedFiles("tiny")
        try #require(files.count >= 3)
        let qr = try QRSCPProcess(files: files, extra: ["--sleep-between-responses", "0.2"])
        defer { qr.peer.stop() }
        let dir = try Corpus.temporaryDirectory("cancel-client")
        try Self.client.write(toFile: dir + "/client.py", atomically: false, encoding: .utf8)
        let out = try Tools.run(PeerProcess.python3, [dir + "/client.py", String(qr.peer.port)])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("final 0xFE00"), "the find was cancelled: \(out.stdout) \(qr.peer.log())")
        #expect(!out.stdout.contains("pending \(files.count) "), "not every match was answered: \(out.stdout)")
    }
}

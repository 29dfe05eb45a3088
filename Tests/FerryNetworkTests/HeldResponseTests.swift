import Foundation
import TestSupport
import Testing

/// `ferry storescp` answers a sender with an Asynchronous Operations Window with fewer socket
/// writes: a C-STORE-RSP waits to go out with the next ones while more requests are being
/// read, up to half the window, and goes as soon as the receiver has no input left (issue 17:
/// one write and one peer wake-up per response cost the receiver and the sender about a
/// tenth of their CPU). A raw client proposes a window of 16, writes a burst of requests at
/// once and counts the TCP segments with data that came back (TCP_INFO's data_segs_in).
@Suite(.scratch)
struct HeldResponseTests {
    /// The client: associates with a window of 16, writes `burst` C-STORE-RQs (each with a
    /// small data set) in one write, reads their responses, notes the data segments received
    /// since the A-ASSOCIATE-AC, then stores `single` more one at a time (each response awaited
    /// before the next request), releases, and prints one JSON line.
    static let client =
        RawDICOMClient.helpers + #"""
            port, burst, single = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
            CT = b"1.2.840.10008.5.1.4.1.1.2"; IVRLE = b"1.2.840.10008.1.2"
            s = socket.create_connection(("127.0.0.1", port)); s.settimeout(30)
            def data_segs_in():  # struct tcp_info: tcpi_data_segs_in at offset 152 (Linux 4.6)
                return struct.unpack_from("<I", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232), 152)[0]
            rq = struct.pack(">HH", 1, 0) + b"ANY-SCP".ljust(16) + b"HELD-TEST".ljust(16) + bytes(32)
            rq += item(0x10, b"1.2.840.10008.3.1.1.1")
            rq += item(0x20, bytes([1, 0, 0, 0]) + item(0x30, CT) + item(0x40, IVRLE))
            rq += item(0x50, item(0x51, struct.pack(">I", 16384)) + item(0x52, b"1.2.3.4") + item(0x53, struct.pack(">HH", 16, 16)))
            s.sendall(bytes([1, 0]) + struct.pack(">I", len(rq)) + rq)
            t, ac = read_pdu()
            assert t == 2, "association not accepted: PDU type %d" % t
            p = 68; window = None
            while p < len(ac):
                it, n = ac[p], struct.unpack(">H", ac[p+2:p+4])[0]
                if it == 0x50:
                    q = p + 4
                    while q < p + 4 + n:
                        st, sn = ac[q], struct.unpack(">H", ac[q+2:q+4])[0]
                        if st == 0x53: window = struct.unpack(">HH", ac[q+4:q+8])
                        q += 4 + sn
                p += 4 + n
            def store(msgid):
                inst = uid(b"1.2.826.0.1.3680043.10.9.%d" % msgid)
                body = el(0, 0x2, uid(CT)) + el(0, 0x100, struct.pack("<H", 1)) + el(0, 0x110, struct.pack("<H", msgid))
                body += el(0, 0x700, struct.pack("<H", 0)) + el(0, 0x800, struct.pack("<H", 0)) + el(0, 0x1000, inst)
                cmd = el(0, 0, struct.pack("<I", len(body))) + body
                ds = el(8, 0x16, uid(CT)) + el(8, 0x18, inst) + el(0x10, 0x20, b"HELD") + el(0x20, 0xD, uid(b"1.2.826.0.1.3680043.10.9.1000"))
                ds += el(0x20, 0xE, uid(b"1.2.826.0.1.3680043.10.9.1001")) + el(0x7FE0, 0x10, bytes(4096))
                return pdv(3, cmd) + pdv(2, ds)
            def read_responses(count):
                got = []
                while len(got) < count:
                    t, body = read_pdu()
                    assert t == 4, "PDU type %d instead of P-DATA" % t
                    p = 0
                    while p < len(body):
                        n = struct.unpack(">I", body[p:p+4])[0]; cmd = body[p+6:p+4+n]; p += 4 + n
                        q = 0; f = {}
                        while q < len(cmd):
                            g, e, l = struct.unpack_from("<HHI", cmd, q); f[(g, e)] = cmd[q+8:q+8+l]; q += 8 + l
                        got.append((struct.unpack("<H", f[(0, 0x120)])[0], struct.unpack("<H", f[(0, 0x900)])[0]))
                return got
            before = data_segs_in()
            s.sendall(b"".join(store(i) for i in range(1, burst + 1)))
            responses = read_responses(burst)
            segments = data_segs_in() - before
            for i in range(burst + 1, burst + single + 1):
                s.sendall(store(i)); responses += read_responses(1)
            s.sendall(bytes([5, 0]) + struct.pack(">I", 4) + bytes(4))
            t, _ = read_pdu()
            print(json.dumps({"window": window, "responses": responses, "burst_segments": segments, "released": t == 6}))
            """#

    @Test func aBurstOfRequestsIsAnsweredInFewWritesAndASingleRequestAtOnce() throws {
        let dir = try Corpus.temporaryDirectory("held")
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let scp = try PeerProcess.ferryStorescp(outputDirectory: out)
        defer { scp.stop() }
        let script = dir + "/client.py"
        try Self.client.write(toFile: script, atomically: false, encoding: .utf8)
        let burst = 12, single = 3
        let run = try Tools.run(PeerProcess.python3, [script, String(scp.port), String(burst), String(single)])
        #expect(run.status == 0, "the client stalled or failed: \(run.stderr.suffix(2000))")
        struct Report: Decodable {
            let window: [Int]?
            let responses: [[Int]]
            let burst_segments: Int
            let released: Bool
        }
        let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
        #expect(report.window?.first == 16, "the window is granted: \(String(describing: report.window))")
        // Every request answered once, with success; the single ones each before the next was sent.
        #expect(report.responses.map { $0[0] }.sorted() == Array(1...(burst + single)))
        #expect(report.responses.allSatisfy { $0[1] == 0 }, "\(report.responses)")
        #expect(report.released)
        // At most 8 (half the window) share a write: 12 answers go in 2 writes when the
        // receiver reads the burst at once, in a few more if it catches up with it; one each
        // would be 12 segments.
        #expect(
            (1...4).contains(report.burst_segments),
            "\(report.burst_segments) segments carried the \(burst) responses")
        let stored = try FileManager.default.contentsOfDirectory(atPath: out).filter { !$0.hasPrefix(".") }
        #expect(stored.count == burst + single, "\(stored)")
    }
}

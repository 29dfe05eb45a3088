import Foundation
import TestSupport
import Testing

/// `ferry qrscp` under queries built to exhaust it (issue 29), over an index of 3,000
/// synthetic instances (30 studies): memory stays bounded whatever the identifier, a huge UID
/// list is matched in time linear in the request, another association's query is answered
/// meanwhile, and a request past its time budget ends with A700.
@Suite(.scratch)
struct HostileQueryTests {
    static let instances = 3000

    /// A raw Study Root C-FIND client: `hostile_find.py PORT MODE`, MODE one of
    /// - `undefined-keys`: IMAGE level, every SOP Instance UID, 120,000 empty keys of groups no
    ///   dictionary defines (about 1 MB);
    /// - `uid-list`: IMAGE level, a list of 31,500 SOP Instance UIDs (the index's 3,000 and
    ///   28,500 others, about 1.3 MB);
    /// - `one-study`: STUDY level, one Study Instance UID;
    /// - `known-keys`: IMAGE level with 1,100 keys the dictionary defines;
    /// - `universal`: IMAGE level, every instance;
    /// - `trickle`: a one-study identifier sent in 2-byte fragments, one every 0.5 s (final
    ///   -1 when the archive dropped the association first).
    /// Prints one JSON line: pending answers, final status, the largest answer's bytes,
    /// seconds to the final response.
    static let client =
        RawDICOMClient.helpers + #"""
            import time
            sys.path.insert(0, sys.argv[3])
            import synthetic_index
            port, mode = int(sys.argv[1]), sys.argv[2]
            FIND = b"1.2.840.10008.5.1.4.1.2.2.1"
            def identifier():
                if mode == "one-study":
                    return el(8, 0x52, b"STUDY ") + el(0x20, 0xD, uid(synthetic_index.study_uid(7).encode()))
                head = el(8, 0x52, b"IMAGE ") + el(0x20, 0xD, b"") + el(0x20, 0xE, b"")
                if mode == "undefined-keys":
                    keys = b"".join(el(0x0104 + 2 * (n // 60000), 1 + n % 60000, b"") for n in range(120000))
                    return head + el(8, 0x18, b"") + keys
                if mode == "uid-list":
                    uids = [synthetic_index.instance_uid(s, r, i) for s in range(30) for r in range(2) for i in range(50)]
                    uids += ["1.2.3.4.5.6.7.8.9.%d" % n for n in range(28500)]
                    return head + el(8, 0x18, uid("\\".join(uids).encode()))
                if mode == "known-keys":
                    from pydicom.datadict import DicomDictionary
                    tags = sorted(t for t, e in DicomDictionary.items()
                                  if t >> 16 > 0x0008 and t >> 16 < 0x7FE0 and e[0] not in ("SQ", "OB", "OW", "UN"))[:1100]
                    return head + el(8, 0x18, b"") + b"".join(el(t >> 16, t & 0xFFFF, b"") for t in tags)
                return head + el(8, 0x18, b"")
            t = associate(port, b"QRSCP", b"HOSTILE", FIND, timeout=600)
            assert t == 2, "association not accepted: PDU type %d" % t
            find = command([el(0, 0x2, uid(FIND)), el(0, 0x100, struct.pack("<H", 0x20)), el(0, 0x110, struct.pack("<H", 7)),
                            el(0, 0x700, struct.pack("<H", 0)), el(0, 0x800, struct.pack("<H", 0))])
            data = identifier()
            start = time.time()
            s.sendall(pdv(3, find))
            if mode == "trickle":
                data = el(8, 0x52, b"STUDY ") + el(0x20, 0xD, uid(synthetic_index.study_uid(7).encode()))
                try:
                    for at in range(0, len(data), 2):
                        s.sendall(pdv(2 if at + 2 >= len(data) else 0, data[at:at + 2]))
                        time.sleep(0.5)
                except OSError:
                    pass
                data = b""
            for at in range(0, len(data), 16000):
                s.sendall(pdv(2 if at + 16000 >= len(data) else 0, data[at:at + 16000]))
            pending, final, largest, answer, comment = 0, None, 0, 0, ""
            while final is None:
                try:
                    t, body = read_pdu()
                except (OSError, EOFError):
                    t = 7
                if t == 7:  # aborted, or closed
                    final = -1; break
                assert t == 4, "PDU type %d instead of P-DATA" % t
                p = 0
                while p < len(body):
                    n = struct.unpack(">I", body[p:p+4])[0]; flags = body[p+5]; part = body[p+6:p+4+n]; p += 4 + n
                    if not flags & 1:
                        answer += len(part)
                        if flags & 2: largest = max(largest, answer); answer = 0
                        continue
                    q = 0; f = {}
                    while q < len(part):
                        g, e, l = struct.unpack_from("<HHI", part, q); f[(g, e)] = part[q+8:q+8+l]; q += 8 + l
                    status = struct.unpack("<H", f[(0, 0x900)])[0]
                    if status in (0xFF00, 0xFF01): pending += 1
                    else: final = status; comment = f.get((0, 0x902), b"").decode(errors="replace").strip()
            seconds = time.time() - start
            if final != -1: s.sendall(bytes([5, 0]) + struct.pack(">I", 4) + bytes(4))
            print(json.dumps({"pending": pending, "final": final, "largest": largest, "seconds": seconds, "comment": comment}))
            """#

    struct Answered: Decodable {
        var pending: Int
        var final: Int
        var largest: Int
        var seconds: Double
        var comment: String
    }

    static func find(_ mode: String, port: Int) throws -> Answered {
        let dir = try Corpus.temporaryDirectory("hostile-find")
        try client.write(toFile: dir + "/client.py", atomically: false, encoding: .utf8)
        let bench = Corpus.packageRoot.appendingPathComponent("scripts/bench").path
        let out = try Tools.run(PeerProcess.python3, [dir + "/client.py", String(port), mode, bench])
        guard out.status == 0, let line = out.stdout.split(separator: "\n").last else {
            throw PeerError(message: "client \(mode): \(out.stderr)")
        }
        return try JSONDecoder().decode(Answered.self, from: Data(line.utf8))
    }

    /// The peak resident memory of a process so far (VmHWM), in MB.
    static func peakMB(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { throw PeerError(message: "no VmHWM in /proc/\(pid)/status") }
        return kib / 1024
    }

    /// Before: every answer carried the 120,000 keys back, empty, and all answers were built
    /// before the first was sent (1.39 GB at 160 matches). Now the undefined keys are dropped
    /// (FF01) and answers go out a page at a time.
    @Test func undefinedKeysAreDroppedAndMemoryStaysBounded() throws {
        let qr = try QRSCPProcess(files: [], synthetic: Self.instances)
        defer { qr.peer.stop() }
        let answered = try Self.find("undefined-keys", port: qr.peer.port)
        #expect(answered.final == 0, "\(answered) \(qr.peer.log().suffix(2000))")
        #expect(answered.pending == Self.instances)
        #expect(answered.largest < 1000, "an answer holds its few keys, not 120,000: \(answered.largest) bytes")
        let peak = try Self.peakMB(qr.peer.pid)
        #expect(peak < 200, "ferry qrscp peaked at \(peak) MB")
        #expect(qr.peer.log().contains("and 119992 more; answering FF01"), "\(qr.peer.log().suffix(2000))")
    }

    /// More keys than an answer may carry are refused with A700, before any matching.
    @Test func tooManyKeysAreRefused() throws {
        let qr = try QRSCPProcess(files: [], synthetic: Self.instances)
        defer { qr.peer.stop() }
        let answered = try Self.find("known-keys", port: qr.peer.port)
        #expect(answered.final == 0xA700, "\(answered)")
        #expect(answered.pending == 0)
        #expect(answered.comment.contains("1103 keys"), "\(answered.comment)")
    }

    /// Before: the list was decoded and made a set again for every candidate row (135 s of
    /// work), and two such requests kept a one-study query of another association waiting
    /// 185 s. Now the list is one set per request and matching goes a page at a time.
    @Test func aHugeUIDListDoesNotStallAnotherAssociation() async throws {
        let qr = try QRSCPProcess(files: [], synthetic: Self.instances)
        defer { qr.peer.stop() }
        let port = qr.peer.port
        async let first = Task.detached { try Self.find("uid-list", port: port) }.value
        async let second = Task.detached { try Self.find("uid-list", port: port) }.value
        #expect(qr.peer.waitForLog("Received Find Request", count: 2, timeout: 120))
        let study = try Self.find("one-study", port: port)
        #expect(study.final == 0 && study.pending == 1, "\(study)")
        #expect(study.seconds < 10, "the one-study query waited \(study.seconds) s")
        for answered in [try await first, try await second] {
            #expect(answered.final == 0, "\(answered)")
            #expect(answered.pending == Self.instances, "every listed instance of the index answers")
            #expect(answered.seconds < 60, "\(answered.seconds) s")
        }
    }

    /// An identifier trickled in many small PDUs, each well within the socket timeout, is cut
    /// off when the whole has taken the socket timeout (3 s here). Before, only each PDU had a
    /// deadline: the identifier (about 70 bytes, 35 PDUs) took its 17 s and was answered.
    @Test func aTrickledIdentifierIsCutOffAtTheSocketTimeout() throws {
        let qr = try QRSCPProcess(files: [], extra: ["-ts", "3"], synthetic: 100)
        defer { qr.peer.stop() }
        let answered = try Self.find("trickle", port: qr.peer.port)
        #expect(answered.final == -1, "the association was dropped: \(answered)")
        #expect(answered.seconds < 10, "\(answered.seconds) s")
        let log = qr.peer.log()
        #expect(log.contains("a request's data set (whole within the socket timeout): dropping"), "\(log.suffix(1000))")
    }

    /// A find past --max-query-time ends with A700 and says why, after the answers it sent.
    @Test func aFindPastItsTimeBudgetEndsWithA700() throws {
        let qr = try QRSCPProcess(files: [], extra: ["--max-query-time", "0.000001"], synthetic: Self.instances)
        defer { qr.peer.stop() }
        let answered = try Self.find("universal", port: qr.peer.port)
        #expect(answered.final == 0xA700, "\(answered)")
        #expect(answered.pending < Self.instances)
        #expect(answered.comment.contains("time budget"), "\(answered.comment)")
    }
}

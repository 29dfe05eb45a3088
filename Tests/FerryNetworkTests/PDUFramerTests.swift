import FerryNetwork
import NIOCore
import NIOEmbedded
import Testing

/// The framer hands on exactly the PDUs of the stream however TCP cuts it, and refuses a bad
/// header before reading what follows it.
@Suite struct PDUFramerTests {
    /// P-DATA-TF PDUs of several sizes (one straddles any 16 KiB read), a release and an abort.
    static let stream: [PDU] = {
        func data(_ sizes: [Int], command: Bool = false) -> PDU {
            .data(
                PDataTF(
                    values: sizes.enumerated().map { i, n in
                        PDV(
                            contextID: UInt8(1 + 2 * i), isCommand: command, isLast: i == sizes.count - 1,
                            data: ByteBuffer(bytes: (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }))
                    }))
        }
        return [
            data([90], command: true), data([16_372]), data([0, 5, 1]), data([40_000]), data([3, 16_000]), .releaseRQ,
            .abort(AbortPDU(source: 2, reason: 6)),
        ]
    }()

    static var streamBytes: ByteBuffer {
        var all = ByteBuffer()
        for pdu in stream { PDUEncoder.encode(pdu, into: &all) }
        return all
    }

    /// Feeds `bytes` in pieces of the given sizes (the last piece takes the rest) and returns
    /// the PDUs that came out, each encoded again.
    func frame(_ bytes: ByteBuffer, cuts: [Int]) throws -> [[UInt8]] {
        let channel = EmbeddedChannel(handler: PDUFramer(maxPDULength: 65536))
        var rest = bytes
        for n in cuts where rest.readableBytes > 0 {
            if let piece = rest.readSlice(length: min(n, rest.readableBytes)) { try channel.writeInbound(piece) }
        }
        if rest.readableBytes > 0 { try channel.writeInbound(rest) }
        var out: [[UInt8]] = []
        while let pdu = try channel.readInbound(as: PDU.self) {
            out.append(Array(PDUEncoder.encode(pdu).readableBytesView))
        }
        _ = try channel.finish()
        return out
    }

    var expected: [[UInt8]] { Self.stream.map { Array(PDUEncoder.encode($0).readableBytesView) } }

    @Test(arguments: [1, 2, 5, 6, 7, 1000, 16_384, 65_536, 1 << 20])
    func everyPieceSizeGivesTheSamePDUs(size: Int) throws {
        let bytes = Self.streamBytes
        let cuts = Array(repeating: size, count: bytes.readableBytes / size + 1)
        #expect(try frame(bytes, cuts: cuts) == expected)
    }

    @Test func randomCutsGiveTheSamePDUs() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let cuts = (0..<200).map { _ in Int.random(in: 1...20_000, using: &rng) }
            #expect(try frame(Self.streamBytes, cuts: cuts) == expected)
        }
    }

    /// A PDU cut inside every one of its header's bytes and inside its body.
    @Test func cutsInsideTheHeaderOfAStraddlingPDU() throws {
        let first = PDUEncoder.encode(Self.stream[0]).readableBytes
        for offset in 0...8 {
            #expect(try frame(Self.streamBytes, cuts: [first + offset, 3, 1]) == expected)
        }
    }

    @Test func aLengthOverTheLimitIsRefusedFromItsHeaderAlone() throws {
        let channel = EmbeddedChannel(handler: PDUFramer(maxPDULength: 16384))
        // A P-DATA-TF header announcing 16,385 bytes, and nothing of its body.
        let header = ByteBuffer(bytes: [0x04, 0, 0, 0, 0x40, 0x01])
        #expect(throws: PDUError.self) { try channel.writeInbound(header) }
        // Nothing more is read after the refusal.
        try channel.writeInbound(PDUEncoder.encode(.releaseRQ))
        #expect(try channel.readInbound(as: PDU.self) == nil)
        _ = try? channel.finish()
    }

    @Test func anUnknownTypeIsRefused() throws {
        let channel = EmbeddedChannel(handler: PDUFramer(maxPDULength: 16384))
        #expect(throws: PDUError.self) { try channel.writeInbound(ByteBuffer(bytes: [0x09, 0, 0, 0, 0, 0])) }
        _ = try? channel.finish()
    }

    @Test func aConnectionClosedInsideAPDUIsAnError() throws {
        let channel = EmbeddedChannel(handler: PDUFramer(maxPDULength: 65536))
        var bytes = PDUEncoder.encode(Self.stream[1])
        let part = bytes.readSlice(length: 100) ?? ByteBuffer()
        try channel.writeInbound(part)
        #expect(try channel.readInbound(as: PDU.self) == nil)
        #expect(throws: PDUError.self) { _ = try channel.finish() }
    }
}

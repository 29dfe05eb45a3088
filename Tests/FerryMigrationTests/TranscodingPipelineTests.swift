import FerryCodecs
import FerryDICOM
import FerryMigration
import Foundation
import TestSupport
import Testing

/// Transcoding in `ferry run`: the small profile (every transfer syntax) to receivers that take
/// only some syntaxes arrives complete, in a syntax the receiver took, with the pixels DCMTK or
/// GDCM decode from the source; lossy encodings only with allow_lossy, with a new SOP Instance
/// UID the manifest maps.
@Suite(.serialized, .scratch)
struct TranscodingPipelineTests {
    /// Received pixels against the reference decoding of the source: identical for lossless
    /// sources; within 1 for DCT JPEG sources (Ferry's float IDCT and DCMTK's integer one round
    /// differently; T.81's accuracy test allows it).
    func checkPixels(sent: [String: String], received: [String: String], expecting syntaxes: Set<String>) throws {
        let scratch = try Corpus.temporaryDirectory("ref")
        #expect(received.count == sent.count, "\(sent.count - received.count) files missing")
        for (uid, source) in sent.sorted(by: { $0.key < $1.key }) {
            guard let stored = received[uid] else { Issue.record("missing: \(source)"); continue }
            let sourceTS = try HeaderScan.summary(path: source).transferSyntaxUID
            let storedTS = try HeaderScan.summary(path: stored).transferSyntaxUID
            #expect(syntaxes.contains(storedTS) || storedTS == sourceTS, "\(stored): \(storedTS)")
            let reference = try ReferencePixels.pixels(source, scratch: scratch)
            let arrived = try ReferencePixels.pixels(stored, scratch: scratch)
            let wide = (try Part10Reader.read(path: source)).dataSet.integer(.bitsAllocated) == 16
            let bound = [TransferSyntax.jpegBaseline.uid, TransferSyntax.jpegExtended.uid].contains(sourceTS) ? 1 : 0
            let difference = ReferencePixels.maxDifference(reference, arrived, wide: wide)
            #expect(difference <= bound, "\(source) (\(sourceTS)) -> \(storedTS): pixels differ by \(difference)")
            if let ts = TransferSyntax.lookup(sourceTS), !ts.isLossless {
                #expect(
                    (try Part10Reader.read(path: stored)).dataSet.string(.lossyImageCompression) == "01",
                    "\(stored): lossy history kept")
            }
        }
    }

    /// DCMTK storescp with its default configuration takes only uncompressed syntaxes: every
    /// compressed file of small is decoded on the way.
    @Test func smallToAnUncompressedOnlyDCMTKReceiver() throws {
        let rx = try Corpus.temporaryDirectory("rx-uncompressed")
        let receiver = try PeerProcess.dcmtkStorescp(outputDirectory: rx)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        let out = try Pipeline.run(
            "run", manifest: manifest, port: receiver.port, sources: try Interop.corpusRoots("small"), ["--quiet"])
        #expect(out.status == 0, "\(out.stderr)")
        let uncompressed: Set<String> = [
            TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid,
            TransferSyntax.explicitVRBigEndian.uid,
        ]
        try checkPixels(sent: try Interop.sources("small"), received: Interop.received(rx), expecting: uncompressed)
    }

    /// ferry storescp accepting only JPEG-LS lossless: every file, uncompressed or compressed in
    /// another syntax, is re-encoded to JPEG-LS (verified), and dcmdjpls gives back its pixels.
    @Test func smallToAJPEGLSOnlyFerryReceiver() throws {
        let rx = try Corpus.temporaryDirectory("rx-jpegls")
        let port = freePort()
        let receiver = try PeerProcess(
            FerryCLI.path, ["storescp", "-od", rx, "--accept-ts", TransferSyntax.jpegLSLossless.uid, String(port)],
            port: port)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        let out = try Pipeline.run(
            "run", manifest: manifest, port: port, sources: try Interop.corpusRoots("small"), ["--quiet"])
        #expect(out.status == 0, "\(out.stderr)")
        let received = Interop.received(rx)
        #expect(
            received.values.allSatisfy {
                (try? HeaderScan.summary(path: $0))?.transferSyntaxUID == TransferSyntax.jpegLSLossless.uid
            })
        try checkPixels(
            sent: try Interop.sources("small"), received: received, expecting: [TransferSyntax.jpegLSLossless.uid])
        let m = try Manifest(path: manifest, exclusive: false)
        #expect(
            try m.instances(in: [.done]).allSatisfy {
                $0.sentTransferSyntaxUID == TransferSyntax.jpegLSLossless.uid && $0.sentSOPInstanceUID == nil
            })
    }

    /// The order decides among several accepted compressed syntaxes; `--transcode-order rle`
    /// picks RLE where the default would pick JPEG-LS.
    @Test func orderPicksAmongAcceptedSyntaxes() throws {
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(3))
        let src = try Corpus.temporaryDirectory("order-src")
        for (i, f) in files.enumerated() { try FileManager.default.copyItem(atPath: f, toPath: src + "/f\(i).dcm") }
        for (order, expected) in [(nil, TransferSyntax.jpegLSLossless), ("rle,jpeg-ls-lossless", .rleLossless)] {
            let rx = try Corpus.temporaryDirectory("rx-order")
            let port = freePort()
            let receiver = try PeerProcess(
                FerryCLI.path,
                [
                    "storescp", "-od", rx, "--accept-ts",
                    TransferSyntax.jpegLSLossless.uid + "," + TransferSyntax.rleLossless.uid, String(port),
                ], port: port)
            defer { receiver.stop() }
            let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
            let out = try Pipeline.run(
                "run", manifest: manifest, port: port, sources: [src],
                ["--quiet"] + (order.map { ["--transcode-order", $0] } ?? []))
            #expect(out.status == 0, "\(out.stderr)")
            let stored = Interop.received(rx).values.map { (try? HeaderScan.summary(path: $0))?.transferSyntaxUID }
            #expect(
                stored.count == files.count && stored.allSatisfy { $0 == expected.uid },
                "order \(order ?? "default"): \(stored)")
        }
    }

    /// `--target deflated --deflate-level N` to a receiver that takes only deflated explicit
    /// LE and keeps the bytes it receives (+B): every data set arrives equal to its source,
    /// deflated, and level 9 puts fewer bytes on the wire than level 1.
    @Test func deflateLevelReachesTheWire() throws {
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(4))
        let src = try Corpus.temporaryDirectory("deflate-src")
        var sent: [String: String] = [:]
        for (i, f) in files.enumerated() {
            try FileManager.default.copyItem(atPath: f, toPath: src + "/f\(i).dcm")
            sent[try #require(try HeaderScan.summary(path: f).sopInstanceUID)] = f
        }
        var bytes: [Int: Int] = [:]
        for level in [1, 9] {
            let rx = try Corpus.temporaryDirectory("rx-deflate")
            let port = freePort()
            let receiver = try PeerProcess(
                FerryCLI.path,
                [
                    "storescp", "-od", rx, "+B", "--accept-ts",
                    TransferSyntax.deflatedExplicitVRLittleEndian.uid, String(port),
                ], port: port)
            defer { receiver.stop() }
            let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
            let out = try Pipeline.run(
                "run", manifest: manifest, port: port, sources: [src],
                ["--quiet", "--target", "deflated", "--deflate-level", "\(level)"])
            #expect(out.status == 0, "\(out.stderr)")
            let received = Interop.received(rx)
            #expect(Interop.compare(sent: sent, received: received) == [])
            #expect(
                received.values.allSatisfy {
                    (try? HeaderScan.summary(path: $0))?.transferSyntaxUID
                        == TransferSyntax.deflatedExplicitVRLittleEndian.uid
                })
            bytes[level] = try received.values.reduce(0) {
                $0 + (try FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int ?? 0)
            }
        }
        #expect(
            (bytes[9] ?? 0) > 0 && (bytes[9] ?? 0) < (bytes[1] ?? 0),
            "level 9: \(bytes[9] ?? 0) bytes, level 1: \(bytes[1] ?? 0)")
        let refused = try Pipeline.run(
            "run", manifest: try Corpus.temporaryDirectory("manifest") + "/t.sqlite", port: 1, sources: [src],
            ["--deflate-level", "10"])
        #expect(refused.status == 2 && refused.stderr.contains("deflate_level"), "\(refused.stderr)")
    }

    /// Verification catches a lossless encoding that is not: legacy images with an overlay
    /// plane in the bits above Bits Stored cannot survive JPEG 2000 at precision Bits Stored.
    /// To a receiver taking only JPEG 2000 lossless, that file fails with the reason, the
    /// other one arrives, and the run exits 1.
    @Test func verificationFailsALossyLosslessEncoding() throws {
        let plain = try #require(
            try Interop.uncompressedFiles("tiny").first {
                let ds = try Part10Reader.read(path: $0).dataSet
                return ds.integer(.bitsAllocated) == 16 && ds.integer(.bitsStored) == 12
                    && ds.integer(.samplesPerPixel) == 1
            })
        let src = try Corpus.temporaryDirectory("overlay-src")
        try FileManager.default.copyItem(atPath: plain, toPath: src + "/plain.dcm")
        var file = try Part10Reader.read(path: plain)
        var pixels = Array(try #require(file.dataSet[.pixelData]?.bytes))
        // bit 13 of the first 2000 pixels
        for i in stride(from: 1, to: min(pixels.count, 4000), by: 2) { pixels[i] |= 0x20 }
        file.dataSet[.pixelData] = DataElement(.pixelData, .OW, bytes: pixels)
        file.dataSet.set(.sopInstanceUID, .UI, UIDGenerator.make())
        try FileBytes.write(
            try Part10Writer.encode(file.dataSet, transferSyntax: .explicitVRLittleEndian), to: src + "/overlay.dcm")

        let rx = try Corpus.temporaryDirectory("rx-j2k")
        let port = freePort()
        let receiver = try PeerProcess(
            FerryCLI.path, ["storescp", "-od", rx, "--accept-ts", TransferSyntax.jpeg2000Lossless.uid, String(port)],
            port: port)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        let out = try Pipeline.run("run", manifest: manifest, port: port, sources: [src], ["--quiet"])
        #expect(out.status == 1, "\(out.stderr)")
        let m = try Manifest(path: manifest, exclusive: false)
        let failed = try m.instances(in: [.failed])
        #expect(failed.map(\.path) == [src + "/overlay.dcm"])
        #expect(
            failed.first?.error?.contains("does not decode to the source pixels") == true,
            "\(failed.first?.error ?? "")")
        #expect(try m.instances(in: [.done]).map(\.path) == [src + "/plain.dcm"])
        #expect(Interop.received(rx).count == 1)
    }

    /// A lossy target needs allow_lossy; with it, files arrive in JPEG 2000 (4.91) under a new
    /// SOP Instance UID (the same on a retry), with the lossy attributes and a reference to the
    /// original, and the manifest maps old to new.
    @Test func lossyTargetOnlyWhenAllowed() throws {
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(3))
        let src = try Corpus.temporaryDirectory("lossy-src")
        for (i, f) in files.enumerated() { try FileManager.default.copyItem(atPath: f, toPath: src + "/f\(i).dcm") }
        let rx = try Corpus.temporaryDirectory("rx-lossy")
        let receiver = try Pipeline.ferryReceiver(rx)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        let refused = try Pipeline.run(
            "run", manifest: manifest, port: receiver.port, sources: [src], ["--quiet", "--target", "j2k"])
        #expect(refused.status == 2 && refused.stderr.contains("allow_lossy"), "\(refused.status) \(refused.stderr)")
        #expect(Interop.received(rx).isEmpty)

        let out = try Pipeline.run(
            "run", manifest: manifest, port: receiver.port, sources: [src],
            ["--quiet", "--target", "j2k", "--allow-lossy"])
        #expect(out.status == 0, "\(out.stderr)")
        let m = try Manifest(path: manifest, exclusive: false)
        let done = try m.instances(in: [.done])
        #expect(done.count == files.count)
        let received = Interop.received(rx)
        for r in done {
            let old = try #require(r.sopInstanceUID), new = try #require(r.sentSOPInstanceUID)
            #expect(old != new)
            #expect(
                new == UIDGenerator.derived(from: old, salt: TransferSyntax.jpeg2000.uid),
                "derived, so a retry sends the same UID")
            let stored = try #require(received[new], "arrived under its new UID")
            let ds = try Part10Reader.read(path: stored).dataSet
            #expect(try HeaderScan.summary(path: stored).transferSyntaxUID == TransferSyntax.jpeg2000.uid)
            #expect(ds.string(.lossyImageCompression) == "01")
            #expect(ds.string(.lossyImageCompressionMethod) == "ISO_15444_1")
            #expect(Double(ds.string(.lossyImageCompressionRatio) ?? "") ?? 0 > 1)
            guard case .sequence(let items)? = ds[.sourceImageSequence]?.value else {
                Issue.record("no Source Image Sequence"); continue
            }
            #expect(items.first?.string(.referencedSOPInstanceUID) == old)
        }
    }
}

import FerryDICOM
import Foundation
import Testing
import TestSupport

extension PeerProcess {
    /// Ferry's own receiver, built next to the tests.
    static func ferryStorescp(outputDirectory: String, _ extra: [String] = []) throws -> PeerProcess {
        let port = freePort()
        return try PeerProcess(FerryCLI.path, ["storescp", "-v", "-od", outputDirectory] + extra + [String(port)], port: port)
    }
}

/// `ferry storescp` receiving from DCMTK storescu, dcmsend and pynetdicom's storescu.
@Suite(.serialized)
struct ReceiverInteropTests {
    /// A DCMTK storescu profile proposing, for each SOP class of the files, each of their
    /// transfer syntaxes in a context of its own (so compressed files travel as they are).
    static func proposeOwnSyntaxesProfile(for files: [String: String], directory: String) throws -> String {
        var pairs = Set<String>()
        var syntaxes = Set<String>()
        for path in files.values {
            let s = try HeaderScan.summary(path: path)
            if let c = s.sopClassUID { pairs.insert(c + "\\" + s.transferSyntaxUID); syntaxes.insert(s.transferSyntaxUID) }
        }
        let tsNames = Dictionary(uniqueKeysWithValues: syntaxes.sorted().enumerated().map { ($0.element, "TS\($0.offset)") })
        var text = "[[TransferSyntaxes]]\n"
        for (uid, name) in tsNames.sorted(by: { $0.value < $1.value }) { text += "[\(name)]\nTransferSyntax1 = \(uid)\n" }
        text += "[[PresentationContexts]]\n[Own]\n"
        for (i, pair) in pairs.sorted().enumerated() {
            let parts = pair.split(separator: "\\").map(String.init)
            text += "PresentationContext\(i + 1) = \(parts[0])\\\(tsNames[parts[1]] ?? "")\n"
        }
        text += "[[Profiles]]\n[Own]\nPresentationContexts = Own\n"
        let path = directory + "/own.cfg"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("small corpus from DCMTK storescu, dcmsend and pynetdicom storescu", arguments: ["storescu", "dcmsend", "pynetdicom"])
    func smallCorpusArrives(sender: String) throws {
        let sent = try Interop.sources("small")
        let out = try Corpus.temporaryDirectory("rx-ferry-\(sender)")
        let peer = try PeerProcess.ferryStorescp(outputDirectory: out, ["+xa"])
        defer { peer.stop() }
        let roots = try Interop.corpusRoots("small")
        let env = ["TCP_NODELAY": "1"]
        let result: Tools.Output
        switch sender {
        case "storescu":
            let cfg = try Self.proposeOwnSyntaxesProfile(for: sent, directory: try Corpus.temporaryDirectory("cfg"))
            result = try Tools.run("/usr/bin/storescu", ["+sd", "+r", "-xf", cfg, "Own", "127.0.0.1", String(peer.port)] + roots, environment: env)
        case "dcmsend":
            result = try Tools.run("/usr/bin/dcmsend", ["+sd", "+r", "127.0.0.1", String(peer.port)] + roots, environment: env)
        default:
            result = try Tools.run(PeerProcess.python3, ["-m", "pynetdicom", "storescu", "-r", "-cx", "127.0.0.1", String(peer.port)] + roots)
        }
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        let received = Interop.received(out)
        #expect(received.count == sent.count, "sent \(sent.count), stored \(received.count); \(peer.log().suffix(1500))")
        let problems = Interop.compare(sent: sent, received: received)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix(".ferry") }
        #expect(leftovers.isEmpty, "no temporary files left: \(leftovers)")
    }

    /// With +B the stored data set is the sender's byte for byte. The senders propose each
    /// file's own syntax in a context of its own, so every file travels as it is: DCMTK
    /// storescu and ferry storescu.
    @Test("+B stores what arrived byte for byte", arguments: ["ferry", "dcmtk"])
    func bitPreservingStoresTheSourcesDataSetsExactly(sender: String) throws {
        let sent = try Interop.sources("small")
        let out = try Corpus.temporaryDirectory("rx-bit")
        let peer = try PeerProcess.ferryStorescp(outputDirectory: out, ["+xa", "+B"])
        defer { peer.stop() }
        let cfg = try Self.proposeOwnSyntaxesProfile(for: sent, directory: try Corpus.temporaryDirectory("cfg"))
        let args = ["+sd", "+r", "-xf", cfg, "Own", "127.0.0.1", String(peer.port)] + (try Interop.corpusRoots("small"))
        let result = sender == "ferry" ? try FerryCLI.run(["storescu"] + args)
            : try Tools.run("/usr/bin/storescu", args, environment: ["TCP_NODELAY": "1"])
        #expect(result.status == 0, "\(result.stderr.suffix(1500))")
        let received = Interop.received(out)
        #expect(received.count == sent.count)
        var different: [String] = []
        for (uid, source) in sent {
            guard let target = received[uid] else { different.append("missing \(source)"); continue }
            let a = try HeaderScan.summary(path: source), b = try HeaderScan.summary(path: target)
            // DCMTK storescu inflates and deflates again: its deflated bytes are its own.
            if sender == "dcmtk" && a.transferSyntaxUID == TransferSyntax.deflatedExplicitVRLittleEndian.uid { continue }
            var sourceBytes = Array(try FileBytes.readAll(source)[a.dataSetOffset...])
            if sourceBytes.count % 2 == 1 { sourceBytes.append(0) }  // the PS3.5 A.5 pad of an odd deflated stream
            let storedBytes = Array(try FileBytes.readAll(target)[b.dataSetOffset...])
            if sourceBytes != storedBytes { different.append(source) }
            #expect(a.transferSyntaxUID == b.transferSyntaxUID)
        }
        #expect(different.isEmpty, "\(different.prefix(5))")
    }
}

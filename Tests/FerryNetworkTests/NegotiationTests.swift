import FerryDICOM
import FerryNetwork
import FerryServices
import Foundation
import TestSupport
import Testing

/// Presentation contexts: DCMTK storescu's semantics, checked against DCMTK storescu itself.
@Suite(.serialized, .scratch)
struct NegotiationTests {
    static func file(_ path: String) throws -> OutgoingFile {
        try OutgoingFile(try HeaderScan.summary(path: path))
    }

    static func synthetic(_ sop: String, _ ts: TransferSyntax = .explicitVRLittleEndian) -> OutgoingFile {
        OutgoingFile(
            path: "/nonexistent", sopClassUID: sop, sopInstanceUID: "1.2.3", transferSyntax: ts, dataSetOffset: 0,
            fileSize: 0)
    }

    /// What DCMTK storescu proposes with `options` for `file`, read off its debug dump.
    static func dcmtkProposal(_ options: [String], file: String) throws -> [[String]] {
        let out = try Corpus.temporaryDirectory()
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: out)
        defer { peer.stop() }
        let run = try Tools.run(
            "/usr/bin/storescu", ["-d"] + options + ["127.0.0.1", String(peer.port), file],
            environment: ["TCP_NODELAY": "1"])
        let rq =
            run.stderr.components(separatedBy: "BEGIN A-ASSOCIATE-RQ").dropFirst().first?.components(
                separatedBy: "END A-ASSOCIATE-RQ"
            ).first ?? ""
        var contexts: [[String]] = []
        for line in rq.split(separator: "\n") {
            let text = line.replacingOccurrences(of: "D:", with: "").trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("Abstract Syntax: =") {
                contexts.append([DCMTKNames.uid(for: String(text.dropFirst("Abstract Syntax: =".count))) ?? "?"])
            } else if text.hasPrefix("="), !text.hasPrefix("=="), !contexts.isEmpty {
                contexts[contexts.count - 1].append(DCMTKNames.uid(for: String(text.dropFirst())) ?? "?")
            }
        }
        return contexts
    }

    @Test(
        "same contexts as DCMTK storescu",
        arguments: [
            [String](), ["-x="], ["-xe"], ["-xi"], ["-xb"], ["+C"], ["-R"], ["-xs"], ["-xy"], ["-xx"], ["-xw"],
            ["-xt"], ["-xu"], ["-xr"], ["-xd"], ["-R", "+C", "-xv"], ["-xi", "-xe"],
        ])
    func sameContextsAsDCMTK(options: [String]) throws {
        let path = try #require(try Interop.uncompressedFiles("tiny").first)
        var proposal = ProposalOptions()
        for o in options {
            switch o {
            case "-x=": proposal.preference = .uncompressed
            case "-xi": proposal.preference = .implicit
            case "-xy": proposal.preference = .jpeg8
            case "-xx": proposal.preference = .jpeg12
            case "-xw": proposal.preference = .j2kLossy
            case "-xt": proposal.preference = .jlsLossless
            case "-xu": proposal.preference = .jlsLossy
            case "-xr": proposal.preference = .rle
            case "-xd": proposal.preference = .deflated
            case "-xe": proposal.preference = .little
            case "-xb": proposal.preference = .big
            case "-xs": proposal.preference = .lossless
            case "-xv": proposal.preference = .j2kLossless
            case "+C": proposal.combine = true
            case "-R": proposal.requiredOnly = true
            default: Issue.record("unmapped option \(o)")
            }
        }
        let plans = ContextPlanner.plan([try Self.file(path)], options: proposal)
        #expect(plans.count == 1)
        let ferry = plans[0].contexts.map { [$0.abstractSyntax] + $0.transferSyntaxes }
        let dcmtk = try Self.dcmtkProposal(options, file: path)
        #expect(!dcmtk.isEmpty)
        #expect(ferry == dcmtk)
        #expect(
            plans[0].contexts.map(\.id) == Array(stride(from: UInt8(1), through: UInt8(2 * ferry.count - 1), by: 2)))
    }

    /// DCMTK proposes only uncompressed syntaxes for a JPEG Lossless Process 14 file (the
    /// IMPAX case) and then fails it; Ferry adds 4.57 and its PS3.5 10.2 companion 4.70.
    @Test func compressedFileGetsItsOwnSyntaxAndCompanion() {
        let ct = "1.2.840.10008.5.1.4.1.1.2"
        var options = ProposalOptions()
        options.requiredOnly = true
        let contexts = ContextPlanner.plan([Self.synthetic(ct, .jpegLosslessProcess14)], options: options)[0].contexts
        let lists = contexts.map(\.transferSyntaxes)
        #expect(lists.contains([TransferSyntax.jpegLosslessProcess14.uid]))
        #expect(lists.contains([TransferSyntax.jpegLosslessSV1.uid]))
        #expect(lists.contains([TransferSyntax.explicitVRLittleEndian.uid]))
        #expect(lists.contains([TransferSyntax.explicitVRBigEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]))
        options.combine = true
        let combined = ContextPlanner.plan([Self.synthetic(ct, .jpegLosslessProcess14)], options: options)[0].contexts
            .map(\.transferSyntaxes)
        #expect(
            combined.contains([TransferSyntax.jpegLosslessProcess14.uid]),
            "own syntax in a context of its own even with +C")
    }

    /// More than 128 contexts: the files are split over several associations, each within
    /// the limit, every file on the association that carries its SOP class.
    @Test func moreThan128ContextsSplitOverAssociations() {
        let classes = UIDRegistry.storageSOPClasses.prefix(100).map(\.uid)
        let files = classes.flatMap { [Self.synthetic($0), Self.synthetic($0, .implicitVRLittleEndian)] }
        for required in [true, false] {
            var options = ProposalOptions()
            options.requiredOnly = required
            let plans = ContextPlanner.plan(files, options: options)
            #expect(plans.count == 2)
            #expect(plans.allSatisfy { $0.contexts.count <= 128 })
            #expect(plans.flatMap(\.files).sorted() == Array(0..<files.count), "every file in exactly one plan")
            for plan in plans {
                let proposed = Set(plan.contexts.map(\.abstractSyntax))
                #expect(plan.files.allSatisfy { proposed.contains(files[$0].sopClassUID) })
                #expect(Set(plan.contexts.map(\.id)).count == plan.contexts.count)
            }
        }
    }

    @Test func debiansStorescuConfigLoads() throws {
        let config = try AssociationConfigFile(contentsOf: "/etc/dcmtk/storescu.cfg")
        let profile = try #require(config.profile("Default"))
        #expect(profile.contexts.count == 128)
        #expect(profile.contexts[0].abstractSyntax == "1.2.840.10008.5.1.4.1.1.1")  // ComputedRadiographyImageStorage
        #expect(profile.contexts[0].transferSyntaxes == [TransferSyntax.jpegBaseline.uid])
        #expect(
            profile.contexts[2].transferSyntaxes == [
                TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.explicitVRBigEndian.uid,
                TransferSyntax.implicitVRLittleEndian.uid,
            ])
        #expect { try AssociationConfigFile(text: "[[Profiles]]\n[P]\nPresentationContexts = Missing\n") } throws: {
            ($0 as? ServiceError)?.code == .configuration && ($0 as? ServiceError)?.line == 3
        }
        #expect {
            try AssociationConfigFile(text: "[[TransferSyntaxes]]\n[T]\nTransferSyntax1 = NoSuchSyntax\n")
        } throws: {
            ($0 as? ServiceError)?.code == .configuration
        }
    }

    /// `-xf /etc/dcmtk/storescu.cfg Default` sends the whole tiny corpus: the profile's 128
    /// contexts plus the files' own syntaxes exceed 128, so Ferry keeps the contexts the files
    /// need and drops profile classes no file uses, within one association.
    @Test func sendWithDebiansProfile() throws {
        let sent = try Interop.sources("tiny")
        let out = try Corpus.temporaryDirectory("rx-profile")
        let config = try Interop.acceptAllProfile(for: sent, directory: try Corpus.temporaryDirectory("cfg"))
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: out, ["-xf", config, "AcceptAll"])
        defer { peer.stop() }
        let result = try FerryCLI.run(
            [
                "storescu", "-v", "+sd", "+r", "-xf", "/etc/dcmtk/storescu.cfg", "Default", "127.0.0.1",
                String(peer.port),
            ]
                + Interop.corpusRoots("tiny"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.components(separatedBy: "Requesting Association").count - 1 == 1, "\(result.stderr)")
        #expect(Interop.compare(sent: sent, received: Interop.received(out)).isEmpty)
    }

    /// End to end: files of 70 SOP classes with -R need 140 contexts; all arrive over two associations.
    @Test func seventySOPClassesEndToEnd() throws {
        let dir = try Corpus.temporaryDirectory("many-classes")
        // The image storage classes, then private ones (as legacy archives hold) up to 70.
        var classes = UIDRegistry.storageSOPClasses.filter { !$0.isRetired && $0.name.hasSuffix("Image Storage") }.map(
            \.uid)
        classes += (1...max(1, 70 - classes.count)).map { "1.2.826.0.1.3680043.10.1515.77.\($0)" }
        classes = Array(classes.prefix(70))
        #expect(classes.count == 70)
        for (i, c) in classes.enumerated() {
            var ds = DataSet()
            ds.set(.sopClassUID, .UI, c)
            ds.set(.sopInstanceUID, .UI, "1.2.826.0.1.3680043.10.1515.99.\(i + 1)")
            ds.set(.patientID, .LO, "P\(i)")
            let bytes = try Part10Writer.encode(ds, transferSyntax: .explicitVRLittleEndian)
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/f\(i).dcm"))
        }
        let out = try Corpus.temporaryDirectory("rx-many")
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: out, ["--promiscuous"])
        defer { peer.stop() }
        let result = try FerryCLI.run(["storescu", "-v", "-R", "+sd", "127.0.0.1", String(peer.port), dir])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.components(separatedBy: "Requesting Association").count - 1 == 2)
        #expect(Interop.received(out).count == 70)
        // DCMTK storescu gives up on the same input.
        let files = (0..<70).map { dir + "/f\($0).dcm" }
        let dcmtk = try Tools.run(
            "/usr/bin/storescu", ["-R", "127.0.0.1", String(peer.port)] + files, environment: ["TCP_NODELAY": "1"])
        #expect(dcmtk.status != 0)
    }
}

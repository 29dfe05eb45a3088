import FerryDICOM
import FerryNetwork
import FerryServices
import Foundation
import TestSupport
import Testing

/// The receiver's safety: hostile UIDs never become paths, a full disk answers 0xA700 with
/// no partial file, silent and slow peers are dropped without hurting others, 32 concurrent
/// associations all succeed.
@Suite(.serialized, .scratch)
struct ReceiverSafetyTests {
    /// Sends data sets with the given SOP Instance and Study Instance UIDs over one
    /// association with Ferry's own client library (other senders validate UIDs first);
    /// returns the status of each.
    static func sendHostile(_ cases: [(sop: String, study: String)], port: Int) async throws -> [DIMSEStatus?] {
        var parameters = AssociationParameters()
        parameters.callingAE = "FERRY"
        parameters.presentationContexts = [
            PresentationContextProposal(
                id: 1, abstractSyntax: "1.2.840.10008.5.1.4.1.1.7",
                transferSyntaxes: [TransferSyntax.implicitVRLittleEndian.uid])
        ]
        let association = try await Association.open(host: "127.0.0.1", port: port, parameters: parameters)
        var statuses: [DIMSEStatus?] = []
        for c in cases {
            var ds = DataSet()
            ds.set(.sopClassUID, .UI, "1.2.840.10008.5.1.4.1.1.7")
            ds.set(.sopInstanceUID, .UI, c.sop)
            ds.set(.studyInstanceUID, .UI, c.study)
            ds.set(.patientID, .LO, "HOSTILE")
            var source = BytesSource(try DataSetWriter(.implicitVRLittleEndian).encode(ds))
            let rsp = try await association.store(
                sopClass: "1.2.840.10008.5.1.4.1.1.7", sopInstance: c.sop, contextID: 1, data: &source)
            statuses.append(rsp.status)
        }
        try await association.release()
        return statuses
    }

    @Test(arguments: [[String](), ["-su", "study"]])
    func hostileUIDsAreRefusedAndNothingLeavesTheOutputDirectory(sorting: [String]) async throws {
        let base = try Corpus.temporaryDirectory("hostile-uids")
        let out = base + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let peer = try PeerProcess.ferryStorescp(outputDirectory: out, ["-pm"] + sorting)
        defer { peer.stop() }
        let good = "1.2.826.0.1.3680043.10.1515.5.1"
        let hostile = [
            "..", "../../x", "a/b", String(repeating: "1.2", count: 30), "", "1.2.3/../../../etc", "/etc/passwd",
        ]
        let cases =
            hostile.map { (sop: $0, study: good) } + hostile.map { (sop: "1.2.826.0.1.3680043.10.1515.5.2", study: $0) }
            + [(sop: good, study: "1.2.826.0.1.3680043.10.1515.5.3")]
        let statuses = try await withTaskExecutorPreference(EventLoopExecutor.shared) {
            try await Self.sendHostile(cases, port: peer.port)
        }
        #expect(statuses.count == cases.count)
        #expect(
            statuses.dropLast().allSatisfy { $0.map { !$0.isSuccessOrWarning } ?? false },
            "every hostile instance is refused: \(statuses)")
        #expect(statuses.last == .success, "the good instance is stored")
        // Only the good file exists, inside the output directory; nothing next to it.
        let everything = DirectoryWalker(recursive: true, symlinks: .skip).files(under: [base])
        #expect(everything.count == 1, "\(everything)")
        #expect(everything.allSatisfy { $0.hasPrefix(out + "/") })
        #expect(!FileManager.default.fileExists(atPath: base + "/x"))
    }

    /// A full disk (a 256 KiB tmpfs in a private mount namespace) answers 0xA700 and leaves
    /// no partial file; the small instance that fits is stored.
    @Test func fullDiskAnswersOutOfResources() throws {
        let base = try Corpus.temporaryDirectory("full-disk")
        let port = freePort()
        let script =
            "mount -t tmpfs -o size=256k tmpfs '\(base)' && exec '\(FerryCLI.path)' storescp -v -od '\(base)' \(port)"
        let peer = try PeerProcess("/usr/bin/unshare", ["-rm", "/bin/sh", "-c", script], port: port)
        defer { peer.stop() }
        let big = try #require(
            try Interop.uncompressedFiles("small").first { (try? HeaderScan.summary(path: $0).fileSize) ?? 0 > 400_000 }
        )
        var ds = DataSet()
        ds.set(.sopClassUID, .UI, "1.2.840.10008.5.1.4.1.1.7")
        ds.set(.sopInstanceUID, .UI, "1.2.826.0.1.3680043.10.1515.6.1")
        ds.set(.studyInstanceUID, .UI, "1.2.826.0.1.3680043.10.1515.6.2")
        let small = try Corpus.temporaryDirectory("small-file") + "/small.dcm"
        try FileBytes.write(try Part10Writer.encode(ds, transferSyntax: .explicitVRLittleEndian), to: small)
        let out = try FerryCLI.run(["storescu", "-nh", "-R", "127.0.0.1", String(port), big, small])
        #expect(out.stderr.contains("0xA700: Refused: Out of resources"), "\(out.stderr)")
        #expect(peer.log().contains("No space left on device"), "\(peer.log().suffix(800))")
        // Look inside the namespace's tmpfs through the receiver's own mount view.
        let listing = try Tools.run(
            "/bin/sh",
            [
                "-c",
                "ls -a /proc/\(peer.pid)/root\(base) 2>&1; for p in $(pgrep -f 'storescp -v -od \(base)'); do ls -a /proc/$p/root\(base); done",
            ])
        #expect(!listing.stdout.contains(".ferry-receiving"), "no partial file: \(listing.stdout)")
        #expect(
            listing.stdout.contains(".\(try HeaderScan.summary(path: small).sopInstanceUID ?? "?")"),
            "the small file fits: \(listing.stdout)")
    }

    /// A peer that connects and sends nothing, and one that sends a byte a second, are dropped
    /// at the ACSE timeout while a normal association on the same receiver goes through.
    @Test func silentAndSlowPeersAreDroppedWithoutHurtingOthers() throws {
        let dir = try Corpus.temporaryDirectory()
        let peer = try PeerProcess.ferryStorescp(outputDirectory: dir, ["-ta", "3"])
        defer { peer.stop() }
        let slow = """
            import socket, sys, time
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            start = time.time()
            try:
                if sys.argv[2] == "slow":
                    for b in bytes([1, 0, 0, 0, 0, 200]) + bytes(200):
                        s.sendall(bytes([b])); time.sleep(1)
                s.settimeout(20)
                while s.recv(100): pass
            except Exception:
                pass
            print("%.1f" % (time.time() - start))
            """
        let silent = Process(), trickle = Process()
        let silentOut = Pipe(), trickleOut = Pipe()
        for (p, mode, pipe) in [(silent, "silent", silentOut), (trickle, "slow", trickleOut)] {
            p.executableURL = URL(fileURLWithPath: PeerProcess.python3)
            p.arguments = ["-c", slow, String(peer.port), mode]
            p.standardOutput = pipe
            try p.run()
        }
        let normal = try FerryCLI.run(
            ["storescu", "127.0.0.1", String(peer.port)] + Array(try Interop.uncompressedFiles("tiny").prefix(2)))
        #expect(normal.status == 0, "\(normal.stderr)")
        silent.waitUntilExit(); trickle.waitUntilExit()
        let silentSeconds =
            Double(
                String(decoding: silentOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 99
        let trickleSeconds =
            Double(
                String(decoding: trickleOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 99
        #expect(silentSeconds < 6, "silent peer dropped after \(silentSeconds) s")
        #expect(trickleSeconds < 6, "byte-a-second peer dropped after \(trickleSeconds) s")
        #expect(Interop.received(dir).count == 2)
    }

    /// 32 DCMTK storescu processes at once, each its own association, all succeed.
    @Test func thirtyTwoConcurrentAssociations() throws {
        let dir = try Corpus.temporaryDirectory()
        let peer = try PeerProcess.ferryStorescp(outputDirectory: dir, ["+xa"])
        defer { peer.stop() }
        let files = try Interop.uncompressedFiles("small")
        let processes = (0..<32).map { i -> Process in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/storescu")
            p.arguments = ["+II", "127.0.0.1", String(peer.port), files[i % files.count], files[(i + 7) % files.count]]
            p.environment = ["TCP_NODELAY": "1"]
            p.standardError = FileHandle.nullDevice
            return p
        }
        for p in processes { try p.run() }
        for p in processes { p.waitUntilExit() }
        #expect(processes.allSatisfy { $0.terminationStatus == 0 }, "\(processes.map(\.terminationStatus))")
        #expect(Interop.received(dir).count == 64)
        #expect(peer.log().components(separatedBy: "Association Received").count - 1 == 32)
    }
}

/// Output options of `ferry storescp`: syntax, format, names, sorting, commands, TLS.
@Suite(.serialized, .scratch)
struct ReceiverOutputTests {
    func sendTwo(_ options: [String], senderOptions: [String] = []) throws -> (dir: String, peer: PeerProcess) {
        let dir = try Corpus.temporaryDirectory("rx-output")
        let peer = try PeerProcess.ferryStorescp(outputDirectory: dir, options)
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(2))
        let out = try FerryCLI.run(["storescu"] + senderOptions + ["127.0.0.1", String(peer.port)] + files)
        #expect(out.status == 0, "\(out.stderr)")
        return (dir, peer)
    }

    @Test(arguments: [
        ("+te", TransferSyntax.explicitVRLittleEndian), ("+tb", .explicitVRBigEndian), ("+ti", .implicitVRLittleEndian),
        ("+td", .deflatedExplicitVRLittleEndian),
    ])
    func outputTransferSyntax(option: String, ts: TransferSyntax) throws {
        let (dir, peer) = try sendTwo([option])
        defer { peer.stop() }
        let stored = Interop.received(dir)
        #expect(stored.count == 2)
        #expect(try stored.values.allSatisfy { try HeaderScan.summary(path: $0).transferSyntaxUID == ts.uid })
        let dcmdump = try Tools.run("/usr/bin/dcmdump", ["-q"] + Array(stored.values))
        #expect(dcmdump.status == 0 && dcmdump.stderr.isEmpty, "\(dcmdump.stderr)")
    }

    @Test func dataSetOnlyAndFileNames() throws {
        let (dir, peer) = try sendTwo(["-F", "-fe", ".dcm"])
        defer { peer.stop() }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(names.count == 2 && names.allSatisfy { $0.hasPrefix("MR.") && $0.hasSuffix(".dcm") }, "\(names)")
        for n in names {
            let bytes = try FileBytes.readAll(dir + "/" + n)
            #expect(!(bytes.count > 132 && Array(bytes[128..<132]) == Array("DICM".utf8)), "-F writes no preamble/meta")
        }
        let (timed, p2) = try sendTwo(["-tn"])
        defer { p2.stop() }
        let timeNames = try FileManager.default.contentsOfDirectory(atPath: timed)
        #expect(
            timeNames.count == 2 && timeNames.allSatisfy { $0.first?.isNumber == true && $0.hasSuffix(".MR") },
            "\(timeNames)")
        let (unique, p3) = try sendTwo(["+uf"], senderOptions: ["--repeat", "2"])
        defer { p3.stop() }
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: unique).count == 4, "+uf keeps repeated instances apart"
        )
    }

    @Test func sortingExecAndRenameOnEndOfStudy() throws {
        let marker = try Corpus.temporaryDirectory("exec") + "/log"
        let (dir, peer) = try sendTwo(
            [
                "-su", "st", "-xcr", "echo rx #a #f >> \(marker)", "-xcs", "echo study #p >> \(marker)",
                "-rns", "-tos", "0.2", "-xs",
            ], senderOptions: ["-aet", "SENDER"])
        defer { peer.stop() }
        // The end-of-study timeout passes: the study's files are renamed and -xcs runs.
        func renamedFiles() -> [String] {
            let subdirs = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            return subdirs.flatMap { (try? FileManager.default.contentsOfDirectory(atPath: dir + "/" + $0)) ?? [] }
        }
        let ended = waitUntil(timeout: 60) {
            ((try? String(contentsOfFile: marker, encoding: .utf8)) ?? "").contains("study ")
                && renamedFiles().allSatisfy { $0.hasPrefix("MR0000") }
        }
        #expect(ended, "no end of study within 60 s: \(peer.log().suffix(1000))")
        let subdirs = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(subdirs.allSatisfy { $0.hasPrefix("st_1.") }, "\(subdirs)")
        let log = (try? String(contentsOfFile: marker, encoding: .utf8)) ?? ""
        #expect(log.components(separatedBy: "rx SENDER MR.").count - 1 == 2, "\(log)")
        #expect(log.contains("study \(dir)/st_"), "\(log)")
        let renamed = renamedFiles()
        #expect(!renamed.isEmpty && renamed.allSatisfy { $0.hasPrefix("MR0000") }, "\(renamed)")
    }

    /// A study that arrives in two passes (-su, -rns): the second pass is numbered on from the
    /// first, whose renamed files stay (they were overwritten: MR000001 again).
    @Test func renamingASecondPassKeepsTheFirst() throws {
        let dir = try Corpus.temporaryDirectory("rx-rns")
        let peer = try PeerProcess.ferryStorescp(outputDirectory: dir, ["-su", "st", "-rns", "-tos", "0.2"])
        defer { peer.stop() }
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(2))
        func studyFiles() -> [String] {
            let subdirs = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            return subdirs.flatMap { (try? FileManager.default.contentsOfDirectory(atPath: dir + "/" + $0)) ?? [] }
        }
        for pass in 1...2 {
            let out = try FerryCLI.run(["storescu", "127.0.0.1", String(peer.port)] + files)
            #expect(out.status == 0, "\(out.stderr)")
            let renamed = waitUntil(timeout: 60) {
                let names = studyFiles()
                return names.count == 2 * pass && names.allSatisfy { $0.hasPrefix("MR0000") }
            }
            #expect(renamed, "pass \(pass): \(studyFiles())")
        }
        #expect(studyFiles().sorted() == ["MR000001", "MR000002", "MR000003", "MR000004"], "\(studyFiles())")
    }

    /// Placeholders expand to one shell word each: an AE title with a space stays one argument,
    /// and a leading '-' cannot become an option of the command.
    @Test func hookArgumentsAreQuotedWords() throws {
        let marker = try Corpus.temporaryDirectory("exec-quoted") + "/log"
        let (_, spaced) = try sendTwo(
            ["-xcr", "printf '%s|' #a #f >> \(marker)", "-xs"], senderOptions: ["-aet", "HAS SPACE"])
        spaced.stop()
        let (_, dashed) = try sendTwo(["-xcr", "printf '[%s]' #a >> \(marker)", "-xs"], senderOptions: ["-aet", "-n"])
        dashed.stop()
        let log = (try? String(contentsOfFile: marker, encoding: .utf8)) ?? ""
        #expect(log.components(separatedBy: "HAS SPACE|MR.").count - 1 == 2, "\(log)")
        #expect(log.components(separatedBy: "[_n]").count - 1 == 2, "\(log)")
    }

    @Test func sortByConcurrentStudyAndPatientName() throws {
        let (byStudy, p1) = try sendTwo(["-ss", "pre"])
        defer { p1.stop() }
        let studyDirs = try FileManager.default.contentsOfDirectory(atPath: byStudy)
        #expect(
            studyDirs.count == 1 && studyDirs[0].hasPrefix("pre_")
                && studyDirs[0].count == "pre_YYYYMMDD_HHMMSSPPP".count, "\(studyDirs)")
        let (byName, p2) = try sendTwo(["-sp"])
        defer { p2.stop() }
        let nameDirs = try FileManager.default.contentsOfDirectory(atPath: byName)
        #expect(nameDirs.count == 1 && nameDirs.allSatisfy { !$0.contains("/") && $0.contains("_20") }, "\(nameDirs)")
        #expect(Interop.received(byName).count == 2)
    }

    /// Storing over existing files writes each new file into the inode of one replaced before
    /// it (kept under a hidden name), never into one that has another name, and leaves no
    /// hidden file after a clean stop. The test holds every replaced inode open, so without
    /// the reuse no new file could share an inode number with one of them.
    @Test func storingOverExistingFilesReusesTheReplacedInodes() throws {
        let dir = try Corpus.temporaryDirectory("rx-over")
        let peer = try PeerProcess.ferryStorescp(outputDirectory: dir, [])
        defer { peer.stop() }
        let files = Array(try Interop.uncompressedFiles("small").prefix(10))
        #expect(files.count == 10)
        let send = { try FerryCLI.run(["storescu", "127.0.0.1", String(peer.port)] + files) }
        #expect(try send().status == 0)
        let first = Interop.received(dir)
        let held = first.values.map { open($0, O_RDONLY) }
        defer { for fd in held { close(fd) } }
        let heldInodes = Set(
            held.map { fd -> UInt in
                var info = stat()
                return fstat(fd, &info) == 0 ? UInt(info.st_ino) : 0
            })
        // A stored file with a second name elsewhere: its data must survive being replaced.
        let linked = try #require(first.values.sorted().dropFirst(3).first)
        let outside = try Corpus.temporaryDirectory("rx-over-link") + "/kept.dcm"
        #expect(link(linked, outside) == 0)
        let linkedBytes = try Data(contentsOf: URL(fileURLWithPath: linked))
        let firstBytes = try first.mapValues { try Data(contentsOf: URL(fileURLWithPath: $0)) }

        #expect(try send().status == 0)
        let second = Interop.received(dir)
        let sent = Dictionary(
            uniqueKeysWithValues: try files.map { (try HeaderScan.summary(path: $0).sopInstanceUID ?? "", $0) })
        #expect(Interop.compare(sent: sent, received: second).isEmpty)
        // Written over other instances' old data: byte for byte the first pass's files, no
        // old byte left past the end.
        for (uid, path) in second {
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == firstBytes[uid], "\(uid)")
        }
        let reused = second.values.filter { path in
            var info = stat()
            return stat(path, &info) == 0 && heldInodes.contains(UInt(info.st_ino))
        }
        #expect(reused.count >= files.count - 2, "\(reused.count) of \(files.count) written into replaced inodes")
        #expect(try Data(contentsOf: URL(fileURLWithPath: outside)) == linkedBytes)

        peer.stop()
        let hidden = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".ferry") }
        #expect(hidden.isEmpty, "\(hidden)")
    }

    @Test func fsyncStillStores() throws {
        let (dir, peer) = try sendTwo(["--fsync"])
        defer { peer.stop() }
        #expect(Interop.received(dir).count == 2)
    }

    @Test func tlsReceiver() throws {
        let certs = try Certificates.make()
        let dir = try Corpus.temporaryDirectory("rx-tls")
        let peer = try PeerProcess.ferryStorescp(
            outputDirectory: dir, ["+tls", certs + "/server.key", certs + "/server.crt", "+cf", certs + "/ca.crt"])
        defer { peer.stop() }
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(2))
        let dcmtk = try Tools.run(
            "/usr/bin/storescu",
            [
                "+tls", certs + "/client.key", certs + "/client.crt", "+cf", certs + "/ca.crt",
                "127.0.0.1", String(peer.port),
            ] + files, environment: ["TCP_NODELAY": "1"])
        #expect(dcmtk.status == 0, "\(dcmtk.stderr)")
        #expect(Interop.received(dir).count == 2)
        let untrusted = try FerryCLI.run([
            "echo", "+tls", certs + "/other.key", certs + "/other.crt", "+cf", certs + "/ca.crt", "127.0.0.1",
            String(peer.port),
        ])
        #expect(untrusted.status == 1, "a client certificate from another CA is refused")
        let plain = try FerryCLI.run(["echo", "127.0.0.1", String(peer.port)])
        #expect(plain.status == 1)

        // -vc: a client without a certificate is let in; one with an untrusted certificate is not.
        let verifyIfPresent = try PeerProcess.ferryStorescp(
            outputDirectory: dir,
            ["-vc", "+tls", certs + "/server.key", certs + "/server.crt", "+cf", certs + "/ca.crt"])
        defer { verifyIfPresent.stop() }
        let anonymous = try FerryCLI.run([
            "echo", "+tla", "+cf", certs + "/ca.crt", "127.0.0.1", String(verifyIfPresent.port),
        ])
        #expect(anonymous.status == 0, "\(anonymous.stderr)")
        let wrongCert = try FerryCLI.run([
            "echo", "+tls", certs + "/other.key", certs + "/other.crt", "+cf", certs + "/ca.crt", "127.0.0.1",
            String(verifyIfPresent.port),
        ])
        #expect(wrongCert.status == 1)
        let anonymousRequired = try FerryCLI.run([
            "echo", "+tla", "+cf", certs + "/ca.crt", "127.0.0.1", String(peer.port),
        ])
        #expect(anonymousRequired.status == 1, "-rc (default) requires a client certificate")
        // -ic: any client certificate is accepted.
        let ignoring = try PeerProcess.ferryStorescp(
            outputDirectory: dir, ["-ic", "+tls", certs + "/server.key", certs + "/server.crt"])
        defer { ignoring.stop() }
        let any = try FerryCLI.run([
            "echo", "+tls", certs + "/other.key", certs + "/other.crt", "+cf", certs + "/ca.crt", "127.0.0.1",
            String(ignoring.port),
        ])
        #expect(any.status == 0, "\(any.stderr)")
    }
}

/// How `ferry storescp` negotiates: DCMTK's preference options and profiles.
@Suite(.serialized, .scratch)
struct ReceiverNegotiationTests {
    /// +xb accepts big endian first: a DCMTK storescu proposing [EBE] and [ELE, ILE]
    /// (its -xb) gets EBE, and the stored files (+t=, the default) are big endian.
    @Test func preferBigEndian() throws {
        let dir = try Corpus.temporaryDirectory()
        let peer = try PeerProcess.ferryStorescp(outputDirectory: dir, ["+xb"])
        defer { peer.stop() }
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(2))
        let out = try Tools.run(
            "/usr/bin/storescu", ["+C", "127.0.0.1", String(peer.port)] + files, environment: ["TCP_NODELAY": "1"])
        #expect(out.status == 0, "\(out.stderr)")
        let stored = Interop.received(dir)
        #expect(stored.count == 2)
        #expect(
            try stored.values.allSatisfy {
                try HeaderScan.summary(path: $0).transferSyntaxUID == TransferSyntax.explicitVRBigEndian.uid
            })
        #expect(
            Interop.compare(
                sent: Dictionary(
                    uniqueKeysWithValues: try files.map { (try HeaderScan.summary(path: $0).sopInstanceUID ?? "", $0) }),
                received: stored
            ).isEmpty)
    }

    /// Debian's /etc/dcmtk/storescp.cfg loads; its AllDICOM profile takes the tiny corpus from
    /// ferry storescu. The JPEG Lossless Process 14 file (a syntax the profile lacks, and not
    /// SV1) is the IMPAX case: Ferry decodes it and sends it uncompressed.
    @Test func debiansStorescpProfile() throws {
        let dir = try Corpus.temporaryDirectory()
        let peer = try PeerProcess.ferryStorescp(outputDirectory: dir, ["-xf", "/etc/dcmtk/storescp.cfg", "AllDICOM"])
        defer { peer.stop() }
        let sent = try Interop.sources("tiny")
        let process14 = sent.filter {
            (try? HeaderScan.summary(path: $0.value).transferSyntaxUID) == TransferSyntax.jpegLosslessProcess14.uid
        }
        #expect(process14.count == 1)
        let out = try FerryCLI.run(
            ["storescu", "-v", "+sd", "+r", "127.0.0.1", String(peer.port)] + Interop.corpusRoots("tiny"))
        #expect(out.status == 0, "\(out.stderr)")
        #expect(
            out.stderr.contains(
                "Converting transfer syntax: JPEG Lossless, Non-Hierarchical (Process 14) -> Explicit VR Little Endian"),
            "\(out.stderr)")
        let received = Interop.received(dir)
        #expect(received.count == sent.count)
        for (uid, _) in process14 {
            let stored = try #require(received[uid])
            #expect(
                (try HeaderScan.summary(path: stored)).transferSyntaxUID == TransferSyntax.explicitVRLittleEndian.uid)
        }
    }

    /// +xi accepts implicit VR little endian only: an explicit-only proposal is refused.
    @Test func implicitOnly() throws {
        let peer = try PeerProcess.ferryStorescp(outputDirectory: try Corpus.temporaryDirectory(), ["+xi"])
        defer { peer.stop() }
        let file = try #require(try Interop.uncompressedFiles("tiny").first)
        let explicitOnly = try Tools.run(
            "/usr/bin/storescu", ["-R", "-xe", "+C", "127.0.0.1", String(peer.port), file],
            environment: ["TCP_NODELAY": "1"])
        #expect(explicitOnly.status == 0, "DCMTK's -xe +C still offers implicit: \(explicitOnly.stderr)")
        let cfg = try Corpus.temporaryDirectory("cfg") + "/explicit.cfg"
        try
            "[[TransferSyntaxes]]\n[E]\nTransferSyntax1 = LittleEndianExplicit\n[[PresentationContexts]]\n[P]\nPresentationContext1 = \(try HeaderScan.summary(path: file).sopClassUID ?? "")\\E\n[[Profiles]]\n[X]\nPresentationContexts = P\n"
            .write(toFile: cfg, atomically: false, encoding: .utf8)
        let refused = try Tools.run(
            "/usr/bin/storescu", ["-xf", cfg, "X", "127.0.0.1", String(peer.port), file],
            environment: ["TCP_NODELAY": "1"])
        #expect(refused.status != 0, "no context accepted: \(refused.stderr)")
    }
}

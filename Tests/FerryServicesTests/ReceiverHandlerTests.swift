import FerryDICOM
import FerryNetwork
import Foundation
import Logging
import NIOCore
import TestSupport
import Testing

@testable import FerryServices

/// The receiver's handlers in this process (a `StorageSCP` on a free loopback port, Ferry's
/// own association and StoreSCU as the peer): verification, storage with a window (files kept
/// on the pool while the next stores are read), a forced refusal, an abort mid-data-set.
@Suite(.scratch)
struct ReceiverHandlerTests {
    /// Runs `body` against a receiver in this process, storing into `directory`.
    static func withReceiver<T: Sendable>(
        directory: String, _ configure: (inout ReceiverSettings) -> Void = { _ in },
        _ body: @Sendable (Int) async throws -> T
    ) async throws -> T {
        var settings = ReceiverSettings(port: freePort())
        settings.host = "127.0.0.1"
        settings.output.directory = directory
        configure(&settings)
        let scp = StorageSCP(settings: settings, logger: Logger(label: "test.receiver"))
        // Server and client on the product's event loops: the suite's synchronous tests block
        // the cooperative pool while they wait for processes.
        return try await withTaskExecutorPreference(EventLoopExecutor.shared) {
            let (listening, announce) = AsyncStream<Int>.makeStream()
            let server = Task(executorPreference: EventLoopExecutor.shared) {
                try await scp.run(onListening: { announce.yield($0) })
            }
            var ports = listening.makeAsyncIterator()
            guard let port = await ports.next() else { throw PeerError(message: "the receiver did not listen") }
            do {
                let result = try await body(port)
                server.cancel()
                _ = await server.result
                return result
            } catch {
                server.cancel()
                _ = await server.result
                throw error
            }
        }
    }

    static func send(_ paths: [String], port: Int, window: Int = 1) async throws -> [StoreOutcome] {
        var settings = StoreSettings(host: "127.0.0.1", port: port)
        settings.asyncWindow = window
        settings.association.asyncOperationsWindow =
            window > 1 ? AsyncOperationsWindow(maxInvoked: UInt16(window), maxPerformed: 1) : nil
        settings.retryPolicy = .dcmtk(halt: false)
        let scu = StoreSCU(settings: settings, logger: Logger(label: "test.sender"))
        await scu.run(try paths.map { try OutgoingFile(try HeaderScan.summary(path: $0)) })
        return scu.outcomes
    }

    /// An association proposing Verification, with `identity` if given.
    static func openVerification(port: Int, identity: UserIdentity? = nil) async throws -> Association {
        var parameters = AssociationParameters()
        parameters.presentationContexts = [
            PresentationContextProposal(
                id: 1, abstractSyntax: UIDRegistry.verificationSOPClass,
                transferSyntaxes: [TransferSyntax.implicitVRLittleEndian.uid])
        ]
        parameters.userIdentity = identity
        return try await Association.open(host: "127.0.0.1", port: port, parameters: parameters)
    }

    /// Files in `directory` (recursively), hidden ones included.
    static func stored(_ directory: String) -> [String] {
        DirectoryWalker(recursive: true, symlinks: .skip).files(under: [directory])
    }

    @Test func verificationAnswersEcho() async throws {
        let out = try Corpus.temporaryDirectory("rx-echo")
        let status = try await Self.withReceiver(directory: out) { port in
            let association = try await Self.openVerification(port: port)
            let status = try await association.echo()
            try await association.release()
            return status
        }
        #expect(status == .success)
    }

    /// No user list is configured: a requested positive response is not given (as DCMTK's SCPs
    /// answer), however long the user name; the association is accepted all the same.
    @Test func userIdentityIsNotClaimedChecked() async throws {
        let out = try Corpus.temporaryDirectory("rx-identity")
        let response = try await Self.withReceiver(directory: out) { port in
            let association = try await Self.openVerification(
                port: port,
                identity: .username(String(repeating: "u", count: 32_000), passcode: nil, positiveResponse: true))
            let response = association.acceptance.userInformation.userIdentityResponse
            try await association.release()
            return response
        }
        #expect(response == nil)
    }

    @Test(arguments: [1, 16])
    func storageKeepsEveryInstanceUnderItsUID(window: Int) async throws {
        let files = try Interop.uncompressedFiles("tiny")
        let out = try Corpus.temporaryDirectory("rx-store")
        let outcomes = try await Self.withReceiver(directory: out) { port in
            try await Self.send(files, port: port, window: window)
        }
        #expect(outcomes.count == files.count && outcomes.allSatisfy { $0.status == .success }, "\(outcomes)")
        let stored = Self.stored(out)
        #expect(stored.count == files.count, "\(stored)")
        let sent = Set(try files.map { try HeaderScan.summary(path: $0).sopInstanceUID })
        let kept = Set(try stored.map { try HeaderScan.summary(path: $0).sopInstanceUID })
        #expect(kept == sent)
    }

    @Test func aForcedRefusalKeepsNothing() async throws {
        let files = try Interop.uncompressedFiles("tiny")
        let out = try Corpus.temporaryDirectory("rx-refuse")
        let outcomes = try await Self.withReceiver(directory: out, { $0.faults.status = DIMSEStatus(0xA700) }) {
            port in try await Self.send(files, port: port, window: 16)
        }
        #expect(outcomes.count == files.count && outcomes.allSatisfy { $0.status == DIMSEStatus(0xA700) })
        #expect(Self.stored(out).isEmpty)
    }

    @Test func anAbortDuringTheDataSetLeavesNoFile() async throws {
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(1))
        let out = try Corpus.temporaryDirectory("rx-abort")
        let outcomes = try await Self.withReceiver(directory: out, { $0.faults.abortDuring = true }) { port in
            try await Self.send(files, port: port)
        }
        #expect(outcomes.count == 1 && outcomes[0].status == nil && outcomes[0].error?.code == .association)
        #expect(Self.stored(out).isEmpty, "nothing of the aborted instance is left")
    }
}

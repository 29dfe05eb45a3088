import FerryDICOM
import FerryNetwork
import FerryServices
import Foundation
import Logging

/// Retrieves one study of a PACS source, whole (STUDY level) or the instances of it not
/// received yet (IMAGE level, by series), by C-GET or C-MOVE to Ferry's own receiver into a
/// staging folder of its own, or by C-MOVE straight to the destination; and matches what
/// arrived against the study's listing: the instances received (with their staged paths), the
/// listed ones that did not come, and any that came without being listed (a capped series'
/// rest, an instance added since).
public struct StudyRetriever: Sendable {
    public let job: Job
    public let logger: Logger

    public init(job: Job, logger: Logger) {
        self.job = job
        self.logger = logger
    }

    public struct Outcome: Sendable {
        public var status: DIMSEStatus
        public var counts: SubOperationCounts
        /// SOP Instance UID -> staged file.
        public var received: [String: String] = [:]
        /// Listed by the source, not received (sorted).
        public var missing: [String] = []
        /// Received without being listed (sorted).
        public var unlisted: [String] = []
        /// The source pushed back: a status of refusal for lack of resources (A7xx), a
        /// transient rejection, an abort or a timeout.
        public var pushedBack = false
    }

    /// Instances a retrieve of several requests has received so far (SOP Instance UID -> staged
    /// file, each file whole), handed on after a request ends while the others go on: a large
    /// study is forwarded while it still arrives.
    public typealias Piece = @Sendable ([String: String]) async throws -> Void

    /// What one retrieve asks the source for.
    public enum Selection: Sendable {
        case study(String)
        /// Some of a study's instances: SOP Instance UIDs by series.
        case instances(study: String, bySeries: [String: [String]])

        /// UIDs asked in one IMAGE-level request at most.
        static let listChunk = 256

        public var study: String {
            switch self {
            case .study(let uid), .instances(let uid, _): uid
            }
        }

        /// The Study Root identifiers that ask for it, one request each.
        var identifiers: [DataSet] {
            switch self {
            case .study(let uid):
                var identifier = DataSet()
                identifier.set(QueryKeys.queryRetrieveLevel, .CS, "STUDY")
                identifier.set(QueryKeys.studyInstanceUID, .UI, uid)
                return [identifier]
            case .instances(let study, let bySeries):
                return bySeries.sorted { $0.key < $1.key }.flatMap { series, uids in
                    stride(from: 0, to: uids.count, by: Self.listChunk).map { start in
                        var identifier = DataSet()
                        identifier.set(QueryKeys.queryRetrieveLevel, .CS, "IMAGE")
                        identifier.set(QueryKeys.studyInstanceUID, .UI, study)
                        identifier.set(QueryKeys.seriesInstanceUID, .UI, series)
                        identifier.set(
                            QueryKeys.sopInstanceUID, .UI,
                            uids[start..<min(start + Self.listChunk, uids.count)].joined(separator: "\\"))
                        return identifier
                    }
                }
            }
        }
    }

    /// Transfer syntaxes offered for each storage SOP class, a context each (an acceptor picks
    /// one syntax per context): the source sends an instance as it holds it where it can
    /// (Ferry transcodes on the way out if the destination needs it), uncompressed otherwise.
    static let offered: [String] = [
        TransferSyntax.jpegLSLossless, .jpegLosslessSV1, .jpeg2000Lossless, .rleLossless, .jpegBaseline,
        .jpegExtended, .jpegLSNearLossless, .jpeg2000, .deflatedExplicitVRLittleEndian,
        .explicitVRLittleEndian, .implicitVRLittleEndian,
    ].map(\.uid)

    /// The storage contexts proposed for `sopClasses` (see `get`): SOP class and syntaxes.
    static func storageContexts(for sopClasses: [String]) -> [(String, [String])] {
        let known = Set(sopClasses.filter { !$0.isEmpty }).sorted()
        let contexts = known.flatMap { c in offered.map { (c, [$0]) } }
        guard known.isEmpty || sopClasses.contains("") || contexts.count > 127 else { return contexts }
        let plain = [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]
        var seen = Set<String>()
        let all = known + UIDRegistry.storageSOPClasses.filter { !$0.isRetired }.map(\.uid)
        return all.filter { seen.insert($0).inserted }.prefix(127).map { ($0, plain) }
    }

    /// C-GET of `selection` into `staging` (created; emptied first when `fresh`, a study none
    /// of whose instances was received: what a retrieve interrupted before left goes; a retry
    /// keeps the earlier attempts' files, which may not be sent yet), over up to `parallel`
    /// associations, proposing for each of `sopClasses` (the listing's) a
    /// context per offered syntax, each class with the SCP role; when they would pass the 127
    /// contexts an association holds beside the GET one (or the source listed no classes), one
    /// context of the uncompressed syntaxes for each of the first 127 storage classes, as getscu
    /// does.
    public func get(
        _ selection: Selection, listed: Set<String>, sopClasses: [String], staging: String, fresh: Bool = true,
        parallel: Int = 1, onPiece: Piece? = nil
    ) async throws -> Outcome {
        if fresh { try? FileManager.default.removeItem(atPath: staging) }
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let sopClass = InformationModel.studyRoot.sopClass(.get)
        var contexts = [Job.context(sopClass)]
        var roles: [RoleSelection] = []
        for (i, (c, syntaxes)) in Self.storageContexts(for: sopClasses).enumerated() {
            contexts.append(
                PresentationContextProposal(id: UInt8(3 + 2 * i), abstractSyntax: c, transferSyntaxes: syntaxes))
            if !roles.contains(where: { $0.sopClass == c }) {
                roles.append(RoleSelection(sopClass: c, scu: false, scp: true))
            }
        }
        var output = StoreOutputOptions()
        output.directory = staging
        output.keepExisting = true
        let (job, logger) = (self.job, self.logger)
        let (proposed, roleSelections, storeOutput) = (contexts, roles, output)
        let outcome = try await spread(selection.identifiers, parallel: parallel) { identifiers in
            let association = try await job.openAssociation(
                to: try job.sourcePeer(), contexts: proposed, roles: roleSelections, logger: logger)
            var outcome = Outcome(status: .success, counts: SubOperationCounts())
            do {
                for identifier in identifiers {
                    var piece: [String: String] = [:]
                    let final = try await RetrieveSCU.get(
                        on: association, sopClass: sopClass, identifier: identifier, output: storeOutput,
                        logger: logger,
                        onStored: {
                            outcome.received[$0] = $1
                            piece[$0] = $1
                        })
                    outcome.add(final)
                    if let onPiece, !piece.isEmpty { try await onPiece(piece) }
                }
                try? await association.release()
            } catch {
                await association.abort()
                throw error
            }
            return outcome
        }
        return outcome.matched(against: listed)
    }

    /// C-MOVE of `selection` to `receiver` (which keeps what comes in `staging`, emptied first
    /// when `fresh`, as for `get`), over up to `parallel` associations.
    public func move(
        _ selection: Selection, listed: Set<String>, staging: String, receiver: MoveReceiver, fresh: Bool = true,
        parallel: Int = 1, onPiece: Piece? = nil
    ) async throws -> Outcome {
        if fresh { try? FileManager.default.removeItem(atPath: staging) }
        let study = selection.study
        receiver.expect(study)
        var afterEach: (@Sendable () async throws -> Void)?
        if let onPiece {
            afterEach = {
                let piece = receiver.drain(study)
                if !piece.isEmpty { try await onPiece(piece) }
            }
        }
        var outcome: Outcome
        do {
            outcome = try await move(
                selection, to: receiver.ae, parallel: parallel, afterEach: afterEach,
                arrivals: { receiver.arrivals(of: study) })
        } catch {
            _ = receiver.take(selection.study)
            throw error
        }
        outcome.received = receiver.take(selection.study)
        try Self.check(
            outcome.status, destination: "\(receiver.ae) (this host, port \(job.source.receiver?.port ?? 11113))")
        return outcome.matched(against: listed)
    }

    /// `move-direct`: C-MOVE of `selection` from the source straight to the destination's AE
    /// title; what arrived is then asked with `arrived`.
    public func moveDirect(_ selection: Selection, parallel: Int = 1) async throws -> Outcome {
        let outcome = try await move(selection, to: job.destination.calledAE, parallel: parallel)
        try Self.check(
            outcome.status,
            destination: "\(job.destination.calledAE) (\(job.destination.host), port \(job.destination.port))")
        return outcome
    }

    /// What a `move-direct` of `study` delivered (`moved`, its outcome), asked of the
    /// destination by C-FIND (its Q/R SCP, as `ferry verify` does): the listed instances it
    /// holds are the received ones (with no staged path).
    public func arrived(
        _ moved: Outcome, of study: String, listed: [(uid: String, series: String)]
    ) async throws -> Outcome {
        var outcome = moved
        let query = try await job.openQueryAssociation(logger: logger)
        do {
            var session = Verifier.Session(association: query)
            let sent = listed.map { SentInstance(id: 0, path: "", study: study, series: $0.series, uid: $0.uid) }
            let held = try await session.holdings(of: study, sent: sent)
            let wanted = Set(listed.map(\.uid))
            for (_, series) in held.series {
                for uid in series.uids where wanted.contains(uid) { outcome.received[uid] = "" }
            }
            try? await query.release()
        } catch {
            await query.abort()
            throw error
        }
        return outcome.matched(against: Set(listed.map(\.uid)))
    }

    /// C-MOVEs of `selection` from the source to `destination`, on associations of their own
    /// (up to `parallel`), their final responses added together; `afterEach` runs after each
    /// request's final response.
    /// `arrivals` counts what came so far (Ferry's receiver): while it grows, a source that
    /// sends no pending responses is not timed out.
    private func move(
        _ selection: Selection, to destination: String, parallel: Int,
        afterEach: (@Sendable () async throws -> Void)? = nil, arrivals: (@Sendable () -> Int)? = nil
    ) async throws -> Outcome {
        let sopClass = InformationModel.studyRoot.sopClass(.move)
        let (job, logger) = (self.job, self.logger)
        return try await spread(selection.identifiers, parallel: parallel) { identifiers in
            let association = try await job.openAssociation(
                to: try job.sourcePeer(), contexts: [Job.context(sopClass)], roles: [], logger: logger)
            var outcome = Outcome(status: .success, counts: SubOperationCounts())
            do {
                for identifier in identifiers {
                    var seen = arrivals?() ?? 0
                    outcome.add(
                        try await RetrieveSCU.move(
                            on: association, sopClass: sopClass, destination: destination, identifier: identifier,
                            stillArriving: {
                                let now = arrivals?() ?? 0
                                defer { seen = now }
                                return now > seen
                            }))
                    if outcome.status == .moveDestinationUnknown { break }
                    try await afterEach?()
                }
                try? await association.release()
            } catch {
                await association.abort()
                throw error
            }
            return outcome
        }
    }

    /// Runs `identifiers` over up to `parallel` associations at once, each taking every
    /// `parallel`-th request in turn; what they brought, together.
    private func spread(
        _ identifiers: [DataSet], parallel: Int, _ body: @escaping @Sendable ([DataSet]) async throws -> Outcome
    ) async throws -> Outcome {
        let lanes = max(1, min(parallel, identifiers.count))
        if lanes == 1 { return try await body(identifiers) }
        return try await withThrowingTaskGroup(of: Outcome.self) { group in
            for lane in 0..<lanes {
                let part = stride(from: lane, to: identifiers.count, by: lanes).map { identifiers[$0] }
                group.addTask { try await body(part) }
            }
            var all = Outcome(status: .success, counts: SubOperationCounts())
            for try await part in group { all.merge(part) }
            return all
        }
    }

    /// A801 stops the pull: no retry would change the source's answer.
    static func check(_ status: DIMSEStatus, destination: String) throws {
        guard status == .moveDestinationUnknown else { return }
        throw MigrationError.sourceRefused(
            "the source does not know \(destination.split(separator: " ").first ?? "") as a move destination (A801): add \(destination) to the source's configuration"
        )
    }
}

extension StudyRetriever.Outcome {
    /// Another part of the same retrieve: its counts added, its status kept unless an earlier
    /// part fell short (the first shortfall is the outcome's status).
    mutating func merge(_ part: Self) {
        counts.completed += part.counts.completed
        counts.failed += part.counts.failed
        counts.warning += part.counts.warning
        if status == .success { status = part.status }
        pushedBack = pushedBack || part.pushedBack
        received.merge(part.received) { a, _ in a }
    }

    /// One request's final response, as a part.
    mutating func add(_ final: RetrieveSCU.Final) {
        var part = Self(status: final.status, counts: final.counts)
        part.pushedBack = (0xA700...0xA7FF).contains(final.status.code)
        merge(part)
    }

    /// What was listed and did not come, and what came unlisted.
    func matched(against listed: Set<String>) -> Self {
        var outcome = self
        outcome.missing = listed.subtracting(received.keys).sorted()
        outcome.unlisted = Set(received.keys).subtracting(listed).sorted()
        return outcome
    }
}

import FerryDICOM
import FerryNetwork
import FerryServices
import Foundation
import Logging

/// Retrieves one study of a PACS source, by C-GET or by C-MOVE to Ferry's own receiver
/// (Study Root, STUDY level), into a staging folder of its own, and matches what arrived against the study's listing: the instances
/// received (with their staged paths), the listed ones that did not come, and any that came
/// without being listed (a capped series' rest, an instance added since).
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

    /// C-GET of `study` into `staging` (created, emptied first: a retrieve interrupted before
    /// leaves nothing behind), proposing for each of `sopClasses` (the listing's) a context per
    /// offered syntax, each class with the SCP role; when they would pass the 127 contexts an
    /// association holds beside the GET one (or the source listed no classes), one context of
    /// the uncompressed syntaxes for each of the first 127 storage classes, as getscu does.
    public func get(
        study: String, listed: Set<String>, sopClasses: [String], staging: String
    ) async throws -> Outcome {
        try? FileManager.default.removeItem(atPath: staging)
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
        let association = try await job.openAssociation(
            to: try job.sourcePeer(), contexts: contexts, roles: roles, logger: logger)
        var output = StoreOutputOptions()
        output.directory = staging
        output.keepExisting = true
        var identifier = DataSet()
        identifier.set(QueryKeys.queryRetrieveLevel, .CS, "STUDY")
        identifier.set(QueryKeys.studyInstanceUID, .UI, study)
        var outcome = Outcome(status: .success, counts: SubOperationCounts())
        let final: RetrieveSCU.Final
        do {
            final = try await RetrieveSCU.get(
                on: association, sopClass: sopClass, identifier: identifier, output: output, logger: logger,
                onStored: { outcome.received[$0] = $1 })
            try? await association.release()
        } catch {
            await association.abort()
            throw error
        }
        (outcome.status, outcome.counts) = (final.status, final.counts)
        outcome.pushedBack = (0xA700...0xA7FF).contains(final.status.code)
        return outcome.matched(against: listed)
    }

    /// C-MOVE of `study` to `receiver` (which keeps what comes in `staging`, emptied first).
    public func move(
        study: String, listed: Set<String>, staging: String, receiver: MoveReceiver
    ) async throws -> Outcome {
        try? FileManager.default.removeItem(atPath: staging)
        receiver.expect(study)
        let final: RetrieveSCU.Final
        do { final = try await moveStudy(study, to: receiver.ae) } catch {
            _ = receiver.take(study)
            throw error
        }
        var outcome = Outcome(status: final.status, counts: final.counts, received: receiver.take(study))
        try Self.check(final, destination: "\(receiver.ae) (this host, port \(job.source.receiver?.port ?? 11113))")
        outcome.pushedBack = (0xA700...0xA7FF).contains(final.status.code)
        return outcome.matched(against: listed)
    }

    /// `move-direct`: C-MOVE of `study` from the source straight to the destination's AE
    /// title, then what arrived asked of the destination by C-FIND (its Q/R SCP, as `ferry
    /// verify` does): the instances it lists are the received ones (with no staged path).
    public func moveDirect(
        study: String, listed: [(uid: String, series: String)]
    ) async throws -> Outcome {
        let final = try await moveStudy(study, to: job.destination.calledAE)
        try Self.check(
            final, destination: "\(job.destination.calledAE) (\(job.destination.host), port \(job.destination.port))")
        var outcome = Outcome(status: final.status, counts: final.counts)
        outcome.pushedBack = (0xA700...0xA7FF).contains(final.status.code)
        let query = try await job.openQueryAssociation(logger: logger)
        do {
            var session = Verifier.Session(association: query)
            let sent = listed.map { SentInstance(id: 0, path: "", study: study, series: $0.series, uid: $0.uid) }
            let held = try await session.holdings(of: study, sent: sent)
            for (_, series) in held.series { for uid in series.uids { outcome.received[uid] = "" } }
            try? await query.release()
        } catch {
            await query.abort()
            throw error
        }
        return outcome.matched(against: Set(listed.map(\.uid)))
    }

    /// C-MOVE of `study` (Study Root, STUDY level) from the source to `destination`, on an
    /// association of its own: the final response.
    private func moveStudy(_ study: String, to destination: String) async throws -> RetrieveSCU.Final {
        let sopClass = InformationModel.studyRoot.sopClass(.move)
        let association = try await job.openAssociation(
            to: try job.sourcePeer(), contexts: [Job.context(sopClass)], roles: [], logger: logger)
        var identifier = DataSet()
        identifier.set(QueryKeys.queryRetrieveLevel, .CS, "STUDY")
        identifier.set(QueryKeys.studyInstanceUID, .UI, study)
        do {
            let final = try await RetrieveSCU.move(
                on: association, sopClass: sopClass, destination: destination, identifier: identifier)
            try? await association.release()
            return final
        } catch {
            await association.abort()
            throw error
        }
    }

    /// A801 stops the pull: no retry would change the source's answer.
    static func check(_ final: RetrieveSCU.Final, destination: String) throws {
        guard final.status == .moveDestinationUnknown else { return }
        throw MigrationError.sourceRefused(
            "the source does not know \(destination.split(separator: " ").first ?? "") as a move destination (A801\(final.errorComment.map { ": " + $0 } ?? "")): add \(destination) to the source's configuration"
        )
    }
}

extension StudyRetriever.Outcome {
    /// What was listed and did not come, and what came unlisted.
    func matched(against listed: Set<String>) -> Self {
        var outcome = self
        outcome.missing = listed.subtracting(received.keys).sorted()
        outcome.unlisted = Set(received.keys).subtracting(listed).sorted()
        return outcome
    }
}

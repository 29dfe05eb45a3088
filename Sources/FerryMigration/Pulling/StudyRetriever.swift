import FerryDICOM
import FerryNetwork
import FerryServices
import Foundation
import Logging

/// Retrieves one study of a PACS source by C-GET (Study Root, STUDY level) into a staging
/// folder of its own, and matches what arrived against the study's listing: the instances
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
    }

    /// Transfer syntaxes offered for each storage SOP class, a context each (an acceptor picks
    /// one syntax per context): the source sends an instance as it holds it where it can
    /// (Ferry transcodes on the way out if the destination needs it), uncompressed otherwise.
    static let offered: [String] = [
        TransferSyntax.jpegLSLossless, .jpegLosslessSV1, .jpeg2000Lossless, .rleLossless, .jpegBaseline,
        .jpegExtended, .jpegLSNearLossless, .jpeg2000, .deflatedExplicitVRLittleEndian,
        .explicitVRLittleEndian, .implicitVRLittleEndian,
    ].map(\.uid)

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
        guard let pacs = job.source.pacs else { throw MigrationError.invalidJob("job \(job.name): no source.pacs") }
        let connection = try job.connection(
            callingAE: pacs.callingAE, calledAE: pacs.calledAE, user: pacs.user, tls: pacs.tls)
        var parameters = connection.parameters
        parameters.presentationContexts = [
            PresentationContextProposal(
                id: 1, abstractSyntax: sopClass,
                transferSyntaxes: [
                    TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid,
                ])
        ]
        let known = Set(sopClasses.filter { !$0.isEmpty }).sorted()
        var contexts: [(String, [String])] = known.flatMap { c in Self.offered.map { (c, [$0]) } }
        if known.isEmpty || sopClasses.contains("") || contexts.count > 127 {
            let plain = [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]
            let all = known + UIDRegistry.storageSOPClasses.filter { !$0.isRetired }.map(\.uid)
            var seen = Set<String>()
            contexts = all.filter { seen.insert($0).inserted }.prefix(127).map { ($0, plain) }
        }
        for (i, (c, syntaxes)) in contexts.enumerated() {
            parameters.presentationContexts.append(
                PresentationContextProposal(id: UInt8(3 + 2 * i), abstractSyntax: c, transferSyntaxes: syntaxes))
        }
        for c in Set(contexts.map(\.0)).sorted() {
            parameters.roleSelections.append(RoleSelection(sopClass: c, scu: false, scp: true))
        }
        let association = try await Association.open(
            host: pacs.host, port: pacs.port, parameters: parameters, timeouts: connection.timeouts,
            tls: try connection.tls.map { try $0.client() }, logger: logger)
        var output = StoreOutputOptions()
        output.directory = staging
        output.keepExisting = true
        var identifier = DataSet()
        identifier.set(QueryKeys.queryRetrieveLevel, .CS, "STUDY")
        identifier.set(QueryKeys.studyInstanceUID, .UI, study)
        var stored: [String] = []
        let final: RetrieveSCU.Final
        do {
            final = try await RetrieveSCU.get(
                on: association, sopClass: sopClass, identifier: identifier, output: output, logger: logger,
                onStored: { stored.append($0) })
            try? await association.release()
        } catch {
            await association.abort()
            throw error
        }
        var outcome = Outcome(status: final.status, counts: final.counts)
        for path in stored {
            guard let uid = try? HeaderScan.summary(path: path).sopInstanceUID else { continue }
            outcome.received[uid] = path
        }
        outcome.missing = listed.subtracting(outcome.received.keys).sorted()
        outcome.unlisted = Set(outcome.received.keys).subtracting(listed).sorted()
        return outcome
    }
}

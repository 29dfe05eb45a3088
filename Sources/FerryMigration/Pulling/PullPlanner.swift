import FerryDICOM
import FerryNetwork
import FerryServices
import Foundation
import Logging

/// `ferry plan` of a pull job: the source's studies listed by `StudyInventory` and recorded
/// in the manifest as they come, 500 to a transaction; then each study not listed yet has its
/// series and instances listed (`StudyListing`) and recorded, a study a transaction (an
/// interrupted plan goes on where it stopped).
public struct PullPlanner: Sendable {
    public let job: Job
    public let manifest: Manifest
    public let logger: Logger

    public init(job: Job, manifest: Manifest, logger: Logger) {
        self.job = job
        self.manifest = manifest
        self.logger = logger
    }

    public struct Result: Sendable {
        public var outcome: StudyInventory.Outcome
        /// Studies the manifest did not hold before.
        public var added: Int
        /// Studies whose source count changed since they were listed (listed again).
        public var changed = 0
        public var summary: InventorySummary
        /// AE@host:port of the source.
        public var source: String
    }

    public func inventory() async throws -> Result {
        guard let pacs = job.source.pacs else { throw MigrationError.invalidJob("job \(job.name): no source.pacs") }
        let query = try (job.source.query ?? Job.Source.PullQuerySetting()).pullQuery()
        let today = Day.text(Int(Date().timeIntervalSince1970 / 86400))
        let source = SourceQueries(job: job, logger: logger)
        var batch: [InventoriedStudy] = []
        var (added, changed) = (0, 0)
        let manifest = self.manifest
        func flush() async throws {
            let studies = batch
            batch = []
            let recorded = try await BlockingPool.shared.run { try manifest.recordInventory(studies) }
            (added, changed) = (added + recorded.added, changed + recorded.changed)
        }
        let outcome: StudyInventory.Outcome
        do {
            outcome = try await StudyInventory(query, today: today).run(
                find: { try await source.find($0, each: $1) },
                each: { batch.append($0) })
            try await flush()
            // Then each study's series and instances, a hundred studies at a time.
            while true {
                let studies = try await BlockingPool.shared.run { try manifest.studiesToList(limit: 100) }
                if studies.isEmpty { break }
                for study in studies {
                    let listing = try await StudyListing.list(study) { try await source.find($0, each: $1) }
                    try await BlockingPool.shared.run { try manifest.recordListing(listing) }
                }
            }
        } catch {
            await source.close(abort: true)
            throw error
        }
        await source.close(abort: false)
        let summary = try await BlockingPool.shared.run { try manifest.inventorySummary() }
        var all = outcome
        all.queries = source.queries
        return Result(
            outcome: all, added: added, changed: changed, summary: summary,
            source: "\(pacs.calledAE)@\(pacs.host):\(pacs.port)")
    }
}

/// Study Root C-FINDs to the PACS source on one association, opened when first needed and
/// again after it failed (`FindSCU.findCapped`: a capped answer is told, another failure
/// ends the step).
final class SourceQueries {
    let job: Job
    let logger: Logger
    private var association: Association?
    private(set) var queries = 0
    let sopClass = InformationModel.studyRoot.sopClass(.find)

    init(job: Job, logger: Logger) {
        self.job = job
        self.logger = logger
    }

    func find(_ keys: [(Tag, VR, String)], each: (DataSet) -> Void) async throws -> Bool {
        if association?.isUsable != true {
            association = try await job.openAssociation(
                to: try job.sourcePeer(), contexts: [Job.context(sopClass)], logger: logger)
        }
        guard let open = association else { throw AssociationError.unusable }
        queries += 1
        return try await FindSCU.findCapped(keys, on: open, sopClass: sopClass, peer: "the source", each: each)
    }

    func close(abort: Bool) async {
        guard let association else { return }
        if abort { await association.abort() } else { try? await association.release() }
        self.association = nil
    }
}

extension Job {
    /// The PACS source as a peer of the job.
    func sourcePeer() throws -> Peer {
        guard let pacs = source.pacs else { throw MigrationError.invalidJob("job \(name): no source.pacs") }
        return Peer(
            host: pacs.host, port: pacs.port, callingAE: pacs.callingAE, calledAE: pacs.calledAE, user: pacs.user,
            tls: pacs.tls)
    }
}

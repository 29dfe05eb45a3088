import FerryNetwork
import FerryServices
import Foundation
import GRDB
import TestSupport
import Testing

@testable import FerryMigration

/// The manifest's reasons as a closed set: decisions read `reason_kind`, never the message;
/// duplicates counted once; manifests of earlier schemas classified once by the migration.
@Suite(.scratch)
struct ManifestReasonTests {
    func record(_ path: String, uid: String, study: String = "1.2.3", state: InstanceState = .planned) -> InstanceRecord
    {
        var r = InstanceRecord(
            path: path, size: 100, mtime: 1, dataSetOffset: 0, state: state, plannedAt: 1, updatedAt: 1)
        r.sopInstanceUID = uid
        r.studyInstanceUID = study
        return r
    }

    func manifest() throws -> Manifest {
        try Manifest(path: try Corpus.temporaryDirectory("manifest") + "/m.sqlite", exclusive: false)
    }

    @Test func conflictsNoneCountsEachDuplicateOnce() throws {
        let m = try manifest()
        try m.plan([
            (record("/a", uid: "1.9.1"), false), (record("/b", uid: "1.9.1"), false),
            (record("/c", uid: "1.9.2"), false),
        ])
        let planned = try m.resolveConflicts(.none)
        #expect(planned == 2, "two files hold 1.9.1: both conflict, counted once each")
        let conflicts = try m.instances(in: [.conflict])
        #expect(conflicts.map(\.path).sorted() == ["/a", "/b"])
        #expect(conflicts.allSatisfy { $0.reasonKind == .conflict })
        #expect(try m.instances(in: [.planned]).map(\.path) == ["/c"])
    }

    @Test func conflictsFirstKeepsOne() throws {
        let m = try manifest()
        try m.plan([(record("/a", uid: "1.9.1"), false), (record("/b", uid: "1.9.1"), false)])
        let n = try m.resolveConflicts(.first)
        #expect(n == 1)
        #expect(try m.instances(in: [.conflict]).map(\.path) == ["/b"])
    }

    /// A shard's skips are planned again by their kind: whatever their message says.
    @Test func unskipReadsTheKindNotTheMessage() throws {
        let m = try manifest()
        try m.plan([(record("/a", uid: "1.9.1", study: "1"), false), (record("/b", uid: "1.9.2", study: "2"), false)])
        try m.skipPlanned(reason: "any words at all", kind: .shard) { $0 == "1" }
        try m.skipPlanned(reason: "study belongs to another shard than 1/2", kind: .other) { $0 == "2" }
        #expect(try m.instances(in: [.skipped]).count == 2)
        try m.unskip(kind: .shard)
        let planned = try m.instances(in: [.planned])
        #expect(planned.map(\.path) == ["/b"], "only the shard's skip is undone, not the look-alike message")
        #expect(planned.allSatisfy { $0.reasonKind == nil && $0.error == nil })
    }

    /// A manifest of schema v9 (reasons as text only) gets its reasons classified once.
    @Test func earlierManifestsAreClassifiedByTheMigration() throws {
        let path = try Corpus.temporaryDirectory("manifest") + "/old.sqlite"
        let queue = try DatabaseQueue(path: path)
        try Manifest.migrator.migrate(queue, upTo: "v9: accession numbers for the send order")
        let rows: [(String, String, String?, Int?)] = [
            ("/shard", "skipped", "study belongs to another shard than 1/2", nil),
            ("/probe", "failed", "probe of NEWPACS@pacs:104: cannot be sent: JPEG 2000 refused", nil),
            ("/crash", "failed", "the process ended while decoding this file (3 runs)", nil),
            ("/resent", "planned", "resent: the previous run ended during its store", nil),
            ("/refused", "failed", "Out of resources", 0xA700),
            ("/done", "done", nil, 0),
        ]
        try queue.write { db in
            for (p, state, error, status) in rows {
                try db.execute(
                    sql: """
                        INSERT INTO instance (path, size, mtime, data_set_offset, state, error, status_code, planned_at, updated_at)
                        VALUES (?, 1, 1, 0, ?, ?, ?, 1, 1)
                        """, arguments: [p, state, error, status])
            }
        }
        try queue.close()
        let m = try Manifest(path: path, exclusive: false)
        let kinds = Dictionary(uniqueKeysWithValues: try m.instances().map { ($0.path, $0.reasonKind) })
        #expect(kinds["/shard"] == .shard)
        #expect(kinds["/probe"] == .probe)
        #expect(kinds["/crash"] == .decoderCrash)
        #expect(kinds["/resent"] == .interrupted)
        #expect(kinds["/refused"] == .refused)
        #expect(kinds["/done"] == .some(nil))
    }

    @Test func aStoreOutcomeHasItsKind() {
        var refused = StoreOutcome(path: "/a", sopInstanceUID: "1.2")
        refused.status = DIMSEStatus(0xA700)
        #expect(ReasonKind(refused) == .refused)
        #expect(ReasonKind(StoreOutcome(path: "/a", sopInstanceUID: "1.2", status: .success)) == nil)
        #expect(
            ReasonKind(StoreOutcome(path: "/a", sopInstanceUID: "1.2", error: ServiceError(.association, "reset")))
                == .association)
        #expect(
            ReasonKind(StoreOutcome(path: "/a", sopInstanceUID: "1.2", error: ServiceError(.noContext, "no")))
                == .noContext)
    }
}

/// The addresses Ferry's commitment listener takes reports from: the destination host's.
@Suite struct CommitmentListenerHostTests {
    @Test func theDestinationsAddressesAreResolved() {
        #expect(Committer.addresses(of: "127.0.0.1") == ["127.0.0.1"])
        let local = Committer.addresses(of: "localhost")
        #expect(local.contains("127.0.0.1") || local.contains("::1"), "\(local)")
        #expect(Committer.addresses(of: "no-such-host.invalid") == ["no-such-host.invalid"])
    }
}

import FerryDICOM
import FerryServices
import Foundation
import TestSupport
import Testing

@testable import FerryMigration

/// The manifest read a page at a time (issue 31's bounded memory): a send pass, the report's
/// instances and a verification see every row once, in order, with studies kept whole, however
/// the pages fall.
@Suite(.scratch)
struct PagedManifestTests {
    static let ct = "1.2.840.10008.5.1.4.1.1.2"
    static let mr = "1.2.840.10008.5.1.4.1.1.4"

    /// `studies` studies of the sizes given, CT and MR files alternating by study, planned.
    func manifest(studies: [Int]) throws -> (Manifest, count: Int) {
        let m = try Manifest(path: try Corpus.temporaryDirectory("paged") + "/m.sqlite", exclusive: false)
        var records: [(record: InstanceRecord, replaces: Bool)] = []
        for (s, size) in studies.enumerated() {
            for i in 0..<size {
                var r = InstanceRecord(
                    path: "/s\(s)/i\(i)", size: 100 + i, mtime: 1, dataSetOffset: 0, state: .planned, plannedAt: 1,
                    updatedAt: 1)
                r.sopClassUID = s % 2 == 0 ? Self.ct : Self.mr
                r.sopInstanceUID = "1.9.\(s).\(i)"
                r.transferSyntaxUID = TransferSyntax.explicitVRLittleEndian.uid
                r.studyInstanceUID = "1.8.\(s + 10)"
                r.seriesInstanceUID = "1.7.\(s + 10)"
                r.instanceNumber = i + 1
                records.append((r, false))
            }
        }
        try m.plan(records)
        return (m, records.count)
    }

    /// Everything `queue` hands out, in order: (plan, the takes' study UIDs and rows).
    func drain(_ queue: SendQueue) async -> [(plan: Int, studies: Set<String?>, rows: [Int64])] {
        var takes: [(Int, Set<String?>, [Int64])] = []
        while let (plan, slots) = await queue.take(preferring: nil) {
            let entries = slots.compactMap { queue.files[$0] }
            takes.append((plan, Set(entries.map(\.study)), entries.map(\.row)))
            for slot in slots { queue.files.remove(slot) }
        }
        return takes
    }

    @Test(arguments: [1, 3, 7, 10, 100])
    func aPassHandsOutEveryPlannedFileOnceWithStudiesWhole(pageSize: Int) async throws {
        let sizes = [4, 1, 9, 3, 3, 12, 2]
        let (m, count) = try manifest(studies: sizes)
        let pass = try await m.beginPass()
        #expect(pass.files == count)
        #expect(pass.kinds.map(\.sopClass) == [Self.ct, Self.mr])
        let kinds = pass.kinds.compactMap { k in
            TransferSyntax.lookup(k.transferSyntax).map {
                OutgoingFile(
                    path: "", sopClassUID: k.sopClass, sopInstanceUID: "", transferSyntax: $0, dataSetOffset: 0,
                    fileSize: 0, pixelData: nil, mustRewrite: false)
            }
        }
        let plans = ContextPlanner.plan(kinds, options: ProposalOptions())
        let queue = SendQueue(manifest: m, plans: plans, kinds: kinds, pageSize: pageSize, spread: nil) { error in
            Issue.record("the pass could not be read: \(error)")
        }
        let takes = await drain(queue)
        let rows = takes.flatMap(\.rows)
        #expect(rows.count == count, "every planned file once")
        #expect(Set(rows).count == count)
        #expect(rows == rows.sorted(), "in sending order (study, then instance number)")
        // Every study in one take, even one larger than a page.
        for take in takes { #expect(take.studies.count == 1, "one study a take") }
        for (s, size) in sizes.enumerated() {
            let holding = takes.filter { $0.studies.first! == "1.8.\(s + 10)" }
            #expect(holding.count == 1, "study \(s) in one take")
            #expect(holding.first?.rows.count == size)
        }
        #expect(queue.files.count == 0, "nothing left in memory")
    }

    /// Files sent (or no longer planned) after the pass began are not handed out.
    @Test func aPassSkipsFilesNoLongerPlanned() async throws {
        let (m, _) = try manifest(studies: [5, 5])
        _ = try await m.beginPass()
        let first = try m.instances(in: [.planned], limit: 3)
        _ = try await m.checkpoint(first.map { .sending($0.id!) }, association: 1)
        let page = try await m.passPage(after: 0, limit: 100)
        #expect(page.count == 7)
        #expect(!page.contains { r in first.contains { $0.id == r.record.id } })
    }

    /// The report's instances, read by pages: all of them, each once, in id order; the
    /// table's filter reads only those not plainly done.
    @Test func instancesAreReadByPagesEachOnce() throws {
        let (m, count) = try manifest(studies: [7, 6, 11])
        var seen: [Int64] = []
        try m.forEachInstance(pageSize: 4) { seen.append($0.id!) }
        #expect(seen.count == count)
        #expect(seen == Array(Set(seen)).sorted())
        var listed = 0
        try m.forEachInstance(.notPlainlyDone, pageSize: 5) { _ in listed += 1 }
        #expect(listed == count, "planned files are not done")
        var none = 0
        try m.forEachInstance(.states([.done]), pageSize: 5) { _ in none += 1 }
        #expect(none == 0)
    }

    /// A report's JSON, written as its instances are read, is one document with all of them
    /// and the totals.
    @Test func theStreamedJSONReportIsOneDocument() throws {
        let (m, count) = try manifest(studies: [3, 4])
        let report = try RunReport.make(manifest: m)
        var text = ""
        try ReportRenderer.write(report, instances: m, format: .json) { text += $0 }
        let decoded = try JSONDecoder().decode(RunReport.self, from: Data(text.utf8))
        #expect(decoded.instances.count == count)
        #expect(decoded.states == ["planned": count])
        #expect(decoded.groups.map { $0.states["planned"] ?? 0 }.reduce(0, +) == count)
        var csv = ""
        try ReportRenderer.write(report, instances: m, format: .csv) { csv += $0 }
        #expect(csv.split(separator: "\n").count == count + 1, "a header and a row per instance")
    }
}

/// `ferry verify` reads pages of instances but verifies whole studies (`wholeStudies`): a study
/// is never cut, even one larger than a page.
@Suite struct VerifyPageTests {
    @Test(arguments: [1, 2, 3, 5, 100])
    func studiesAreVerifiedWhole(pageSize: Int) {
        let sizes = [3, 7, 1, 2]
        var all: [SentInstance] = []
        for (s, n) in sizes.enumerated() {
            for i in 0..<n {
                all.append(SentInstance(id: Int64(all.count), path: "p", study: "S\(s)", series: "R", uid: "\(i)"))
            }
        }
        var batches: [[SentInstance]] = []
        var carried: [SentInstance] = []
        for start in stride(from: 0, to: all.count + 1, by: pageSize) {
            let page = Array(all[min(start, all.count)..<min(start + pageSize, all.count)])
            let last = page.count < pageSize
            let (ready, rest) = wholeStudies(carried + page, last: last) { $0.study }
            carried = rest
            if !ready.isEmpty { batches.append(ready) }
            if last { break }
        }
        #expect(carried.isEmpty)
        #expect(batches.flatMap { $0 }.map(\.id) == all.map(\.id), "every instance once, in order")
        for (s, n) in sizes.enumerated() {
            let holding = batches.filter { $0.contains { $0.study == "S\(s)" } }
            #expect(holding.count == 1, "study \(s) in one batch")
            #expect(holding.first?.filter { $0.study == "S\(s)" }.count == n)
        }
    }
}

import FerryDICOM
import FerryNetwork
import Foundation
import Testing

@testable import FerryServices

/// docs/conformance.md against the code's own tables: each table the statement marks with a
/// `table: NAME` comment (its header comment explains the conventions) is compared, as sets,
/// with what the negotiation code computes, so neither can change without the other.
@Suite struct ConformanceStatementTests {
    static let text: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("docs/conformance.md"), encoding: .utf8)) ?? ""
    }()
    static let ctImage = "1.2.840.10008.5.1.4.1.1.2"

    /// The cells of the rows of the table after `<!-- table: name -->` (header and rule left out).
    static func rows(_ name: String) -> [[String]] {
        let lines = text.components(separatedBy: "\n")
        guard let start = lines.firstIndex(of: "<!-- table: \(name) -->") else { return [] }
        let table = lines[(start + 1)...].drop(while: { $0.isEmpty }).prefix(while: { $0.hasPrefix("|") })
        return table.dropFirst(2).map { line in
            line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }.filter { $0.count > 1 }
    }

    static func ticked(_ cell: String) -> String? {
        let parts = cell.split(separator: "`", omittingEmptySubsequences: false)
        return parts.count >= 3 ? String(parts[1]) : nil
    }

    /// The UIDs (second column) of the rows whose column `column` has a token `token` accepts.
    static func uids(_ table: String, column: Int = 1, _ token: (String) -> Bool = { _ in true }) -> Set<String> {
        let tokens = { (cell: String) in cell.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        return Set(
            rows(table).filter { $0.count > column && tokens($0[column]).contains(where: token) }.compactMap {
                ticked($0[1])
            })
    }

    static func same<T: Hashable & Comparable>(_ doc: Set<T>, _ code: Set<T>, _ what: String) {
        let onlyDoc = doc.subtracting(code).sorted(), onlyCode = code.subtracting(doc).sorted()
        #expect(!doc.isEmpty && doc == code, "\(what): only in the statement \(onlyDoc), only in the code \(onlyCode)")
    }

    /// The transfer syntaxes the STORE-SCU proposes for CT images in `syntaxes` with `options`.
    static func proposed(_ syntaxes: [TransferSyntax] = [], _ options: ProposalOptions = .init()) -> Set<String> {
        let files = syntaxes.map {
            OutgoingFile(
                path: "/x", sopClassUID: ctImage, sopInstanceUID: "1.2.3", transferSyntax: $0, dataSetOffset: 0,
                fileSize: 0)
        }
        return Set(ContextPlanner.plan(files, options: options).flatMap(\.contexts).flatMap(\.transferSyntaxes))
    }

    /// The transfer syntaxes `policy` accepts for `sop` when every known one is offered alone.
    static func accepted(_ policy: AcceptancePolicy, _ sop: String = ctImage) -> Set<String> {
        let contexts = TransferSyntax.known.enumerated().map { i, ts in
            PresentationContextProposal(id: UInt8(2 * i + 1), abstractSyntax: sop, transferSyntaxes: [ts.uid])
        }
        let info = UserInformation(maxLength: 16384, implementationClassUID: "1.2.3", implementationVersionName: nil)
        let rq = AssociateRQ(
            calledAE: "ANY-SCP", callingAE: "TEST", presentationContexts: contexts, userInformation: info)
        guard case .accept(let results) = policy.evaluate(rq, host: "127.0.0.1") else { return [] }
        return Set(results.filter { $0.result == .acceptance }.map(\.transferSyntax))
    }

    @Test func sopClasses() {
        let s = "storage-sop-classes"
        Self.same(Self.uids(s), AcceptancePolicy.storageClasses, "Storage SOP classes accepted (SCP)")
        let plans = ContextPlanner.plan([], options: ProposalOptions())
        let storescu = Set(plans.flatMap(\.contexts).map(\.abstractSyntax))
        Self.same(Self.uids(s, column: 2) { $0 == "default" }, storescu, "storescu's default classes")
        // ferry getscu's rule (RetrieveTool, in the executable target the tests cannot import).
        let getscu = UIDRegistry.storageSOPClasses.filter { !$0.isRetired }.prefix(127).map(\.uid)
        Self.same(Self.uids(s, column: 3) { $0 == "C-GET" }, Set(getscu), "getscu's SCP role")
        let qr = Set(InformationModel.allSOPClasses)
        Self.same(Self.uids("qr-sop-classes"), qr, "Q/R SOP classes")
        let others = [UIDRegistry.verificationSOPClass, StorageCommitment.sopClass]
        Self.same(Self.uids("overview"), qr.union(others), "overview")
    }

    @Test func transferSyntaxes() {
        let t = "transfer-syntaxes"
        Self.same(Self.uids(t), Set(TransferSyntax.known.map(\.uid)), "transfer syntaxes listed")
        // Proposed (SCU): storescu's default, its -x options, a file's own syntax, ferry run's.
        let defaults = Self.proposed()
        Self.same(Self.uids(t, column: 2) { $0 == "default" }, defaults, "proposed by default")
        let withOptions = ProposalOptions.Preference.allCases.reduce(into: Set<String>()) { union, preference in
            var o = ProposalOptions()
            o.preference = preference
            union.formUnion(Self.proposed([], o))
        }
        Self.same(Self.uids(t, column: 2) { $0.hasPrefix("-x") }, withOptions, "proposed with -x options")
        var required = ProposalOptions()
        required.requiredOnly = true
        let own = TransferSyntax.known.filter {
            Self.proposed([$0], required).contains($0.uid) && !defaults.contains($0.uid)
        }
        Self.same(Self.uids(t, column: 2) { $0 == "own" }, Set(own.map(\.uid)), "a file's own syntax")
        // ferry run: the files' classes and the default transcoding policy (Job.proposalOptions).
        var run = required
        run.transcoding = TranscodingPolicy()
        Self.same(Self.uids(t, column: 2) { $0 == "run" }, Self.proposed([.explicitVRLittleEndian], run), "ferry run")
        // Accepted (SCP): the default, each single +x option, +xa, Verification/Q/R/commitment.
        let byDefault = Self.accepted(AcceptancePolicy())
        Self.same(Self.uids(t, column: 3) { $0 == "default" }, byDefault, "accepted by default")
        let single = ProposalOptions.Preference.allCases.compactMap {
            AcceptancePolicy.Preference(rawValue: $0.rawValue)
        }
        #expect(single.count == ProposalOptions.Preference.allCases.count, "an -x option without its +x twin")
        let plusX = single.reduce(into: Set<String>()) { union, preference in
            var p = AcceptancePolicy()
            p.preference = preference
            union.formUnion(Self.accepted(p))
        }
        Self.same(Self.uids(t, column: 3) { $0.hasPrefix("+x") && $0 != "+xa" }, plusX, "accepted with +x options")
        var all = AcceptancePolicy()
        all.preference = .all
        Self.same(Self.uids(t, column: 3) { $0 == "+xa" }, Self.accepted(all), "accepted with +xa")
        var archive = AcceptancePolicy()
        archive.queryRetrieveSOPClasses = Set(InformationModel.allSOPClasses)
        let qr = Self.accepted(archive, InformationModel.studyRoot.sopClass(.find))
        Self.same(Self.uids(t, column: 3) { $0 == "Q/R" }, qr, "accepted for Q/R")
        Self.same(Self.accepted(archive, UIDRegistry.verificationSOPClass), qr, "Verification as Q/R")
    }

    @Test func implementationAndDefaults() {
        let items = Dictionary(Self.rows("implementation").map { ($0[0], Self.ticked($0[1]) ?? "") }) { a, _ in a }
        #expect(items["Implementation Class UID"] == UIDGenerator.implementationClassUID)
        #expect(items["Implementation Version Name"] == UIDGenerator.implementationVersionName)
        #expect(items["Application Context Name"] == dicomApplicationContext)
        let values = Dictionary(Self.rows("defaults").map { ($0[0], Int($0[1].prefix(while: \.isNumber)) ?? -1) }) {
            a, _ in a
        }
        let expected: [String: Int] = [
            "Maximum PDU length received, requestor": Int(AssociationParameters().maxReceivePDU),
            "Maximum PDU length received, acceptor": Int(ReceiverSettings(port: 0).maxReceivePDU),
            "Presentation contexts per association, STORE-SCU": ContextPlanner.maxContexts,
            "Asynchronous Operations Window granted, acceptor": Int(ReceiverSettings(port: 0).asyncWindowGrant),
            "Simultaneous associations, acceptor": ReceiverLimits().maxAssociations,
        ]
        for (label, value) in expected { #expect(values[label] == value, "defaults: \(label)") }
    }

    @Test func queryKeyLevels() {
        var byLevel: [String: Set<FerryDICOM.Tag>] = [:]
        for row in Self.rows("qr-keys") {
            let hex = row.count > 3 ? row[1].filter(\.isHexDigit) : ""
            guard hex.count == 8, let raw = UInt32(hex, radix: 16) else {
                Issue.record("qr-keys: unreadable row \(row)")
                continue
            }
            let tag = FerryDICOM.Tag(rawValue: raw)
            #expect(QueryKeys.level(of: tag).rawValue == row[3], "qr-keys: level of \(row[0]) \(row[1])")
            byLevel[row[3], default: []].insert(tag)
        }
        func computed(_ level: QueryLevel) -> Set<FerryDICOM.Tag> {
            Set(QueryKeys.computed.filter { $0.value == level }.keys)
        }
        let study = QueryKeys.study.union(QueryKeys.patientStudy).union(computed(.study))
        Self.same(byLevel["STUDY"] ?? [], study, "STUDY keys")
        Self.same(byLevel["SERIES"] ?? [], QueryKeys.series.union(computed(.series)), "SERIES keys")
        #expect(computed(.patient).isSubset(of: byLevel["PATIENT"] ?? []), "computed PATIENT keys")
    }
}

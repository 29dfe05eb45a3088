import FerryDICOM
import FerryNetwork
import FerryServices

extension Verifier {
    /// What the destination holds of one study.
    struct Holdings {
        var exists = false
        /// NumberOfStudyRelatedInstances, when the peer gives it.
        var count: Int?
        /// Per series: the instances it lists, and NumberOfSeriesRelatedInstances when given.
        var series: [String: (uids: Set<String>, count: Int?)] = [:]
        /// Series whose instance list the peer capped (asked again by UID lists).
        var capped: [String] = []
    }

    /// The C-FINDs of one verification, on one association.
    struct Session {
        let association: Association
        var queries = 0
        let sopClass = InformationModel.studyRoot.sopClass(.find)

        init(association: Association) { self.association = association }

        /// The answers' identifiers and whether the peer capped them (a final FE00 or A700
        /// to a query we never cancelled). Other failures end the verification.
        mutating func find(_ keys: [(Tag, VR, String)]) async throws -> (answers: [DataSet], capped: Bool) {
            var identifier = DataSet()
            for (tag, vr, value) in keys { identifier.set(tag, vr, value) }
            var answers: [DataSet] = []
            queries += 1
            let final = try await FindSCU.find(on: association, sopClass: sopClass, identifier: identifier) {
                _, answer in answers.append(answer)
            }
            switch final.status.code {
            case 0x0000: return (answers, false)
            case 0xFE00, 0xA700: return (answers, true)
            default:
                throw ServiceError(
                    .refused,
                    "the destination answered a C-FIND with \(final.status)\(final.errorComment.map { ": \($0)" } ?? "")",
                    status: final.status)
            }
        }

        /// The study, its series (the peer's, and the job's own too: a capped or partial
        /// series list must not hide a series that is there) and their instances.
        mutating func holdings(of study: String, sent: [SentInstance]) async throws -> Holdings {
            var held = Holdings()
            (held.exists, held.count) = try await self.study(study)
            guard held.exists else { return held }
            let listed = try await series(of: study)
            for uid in Set(listed.keys).union(sent.map(\.series)).sorted() {
                let expected = sent.filter { $0.series == uid }.map(\.uid)
                let images = try await images(of: study, series: uid, expected: expected)
                if images.capped { held.capped.append(uid) }
                if listed[uid] != nil || !images.uids.isEmpty {
                    held.series[uid] = (images.uids, listed[uid] ?? nil)
                }
            }
            return held
        }

        /// Whether the study is there, and how many instances the peer says it holds.
        mutating func study(_ uid: String) async throws -> (exists: Bool, count: Int?) {
            let (answers, _) = try await find([
                (QueryKeys.queryRetrieveLevel, .CS, "STUDY"), (QueryKeys.studyInstanceUID, .UI, uid),
                (QueryKeys.numberOfStudyRelatedInstances, .IS, ""),
            ])
            let mine = answers.filter { $0.string(QueryKeys.studyInstanceUID) == uid }
            let counts = Set(mine.compactMap { $0.string(QueryKeys.numberOfStudyRelatedInstances).flatMap { Int($0) } })
            return (!mine.isEmpty, counts.count == 1 ? counts.first : nil)
        }

        /// The study's series, each with the peer's count when it gives one.
        mutating func series(of study: String) async throws -> [String: Int?] {
            let (answers, _) = try await find([
                (QueryKeys.queryRetrieveLevel, .CS, "SERIES"), (QueryKeys.studyInstanceUID, .UI, study),
                (QueryKeys.seriesInstanceUID, .UI, ""), (QueryKeys.numberOfSeriesRelatedInstances, .IS, ""),
            ])
            var out: [String: Int?] = [:]
            for a in answers {
                guard let uid = a.string(QueryKeys.seriesInstanceUID), !uid.isEmpty else { continue }
                let count = a.string(QueryKeys.numberOfSeriesRelatedInstances).flatMap { Int($0) }
                // Listed (with no count yet) unless an answer gave one.
                if let count { out[uid] = count } else if out[uid] == nil { out[uid] = .some(nil) }
            }
            return out
        }

        /// The instances the peer lists in a series; when it caps the list, the `expected`
        /// UIDs asked for by lists instead.
        mutating func images(
            of study: String, series: String, expected: [String]
        ) async throws -> (uids: Set<String>, capped: Bool) {
            let base: [(Tag, VR, String)] = [
                (QueryKeys.queryRetrieveLevel, .CS, "IMAGE"), (QueryKeys.studyInstanceUID, .UI, study),
                (QueryKeys.seriesInstanceUID, .UI, series),
            ]
            let (answers, capped) = try await find(base + [(QueryKeys.sopInstanceUID, .UI, "")])
            var uids = Set(answers.compactMap { $0.string(QueryKeys.sopInstanceUID) }.filter { !$0.isEmpty })
            guard capped else { return (uids, false) }
            // Lists of the UIDs sent; a list the peer caps again is halved until it is not.
            var lists = stride(from: 0, to: expected.count, by: Verifier.listChunk).map {
                expected[$0..<min($0 + Verifier.listChunk, expected.count)]
            }
            while let list = lists.popLast() {
                let (listed, cappedAgain) = try await find(
                    base + [(QueryKeys.sopInstanceUID, .UI, list.joined(separator: "\\"))])
                if cappedAgain, list.count > 1 {
                    let half = list.startIndex + list.count / 2
                    lists += [list[list.startIndex..<half], list[half...]]
                } else {
                    uids.formUnion(listed.compactMap { $0.string(QueryKeys.sopInstanceUID) })
                }
            }
            return (uids, true)
        }
    }
}

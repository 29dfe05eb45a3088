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

        /// Asks `keys` and hands each answer's identifier to `each` as it arrives (none is kept:
        /// a peer's answers, however many and however large, are never held together). True
        /// when the peer capped them (`FindSCU.findCapped`); other failures end the verification.
        @discardableResult
        mutating func find(_ keys: [(Tag, VR, String)], each: (DataSet) -> Void) async throws -> Bool {
            queries += 1
            return try await FindSCU.findCapped(
                keys, on: association, sopClass: sopClass, peer: "the destination", each: each)
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
            var (exists, counts) = (false, Set<Int>())
            try await find([
                (QueryKeys.queryRetrieveLevel, .CS, "STUDY"), (QueryKeys.studyInstanceUID, .UI, uid),
                (QueryKeys.numberOfStudyRelatedInstances, .IS, ""),
            ]) { answer in
                guard answer.string(QueryKeys.studyInstanceUID) == uid else { return }
                exists = true
                if counts.count < 2, let n = Self.count(answer, QueryKeys.numberOfStudyRelatedInstances) {
                    counts.insert(n)
                }
            }
            return (exists, counts.count == 1 ? counts.first : nil)
        }

        /// The study's series, each with the peer's count when it gives one.
        mutating func series(of study: String) async throws -> [String: Int?] {
            var out: [String: Int?] = [:]
            try await find([
                (QueryKeys.queryRetrieveLevel, .CS, "SERIES"), (QueryKeys.studyInstanceUID, .UI, study),
                (QueryKeys.seriesInstanceUID, .UI, ""), (QueryKeys.numberOfSeriesRelatedInstances, .IS, ""),
            ]) { a in
                guard let uid = Self.uid(a, QueryKeys.seriesInstanceUID) else { return }
                // Listed (with no count yet) unless an answer gave one.
                if let count = Self.count(a, QueryKeys.numberOfSeriesRelatedInstances) {
                    out[uid] = count
                } else if out[uid] == nil {
                    out[uid] = .some(nil)
                }
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
            var uids = Set<String>()
            let capped = try await find(base + [(QueryKeys.sopInstanceUID, .UI, "")]) { answer in
                if let uid = Self.uid(answer, QueryKeys.sopInstanceUID) { uids.insert(uid) }
            }
            guard capped else { return (uids, false) }
            // Lists of the UIDs sent; a list the peer caps again is halved until it is not.
            var lists = stride(from: 0, to: expected.count, by: Verifier.listChunk).map {
                expected[$0..<min($0 + Verifier.listChunk, expected.count)]
            }
            while let list = lists.popLast() {
                var listed = Set<String>()
                let cappedAgain = try await find(
                    base + [(QueryKeys.sopInstanceUID, .UI, list.joined(separator: "\\"))]
                ) { answer in
                    if let uid = Self.uid(answer, QueryKeys.sopInstanceUID) { listed.insert(uid) }
                }
                if cappedAgain, list.count > 1 {
                    let half = list.startIndex + list.count / 2
                    lists += [list[list.startIndex..<half], list[half...]]
                } else {
                    uids.formUnion(listed)
                }
            }
            return (uids, true)
        }

        /// A UID an answer gives: only a valid one (at most 64 characters, PS3.5 9.1) is kept.
        static func uid(_ answer: DataSet, _ tag: Tag) -> String? {
            guard let v = answer.string(tag), !v.isEmpty, v.utf8.count <= 64 else { return nil }
            return v
        }

        static func count(_ answer: DataSet, _ tag: Tag) -> Int? {
            guard let v = answer.string(tag), v.utf8.count <= 12 else { return nil }
            return Int(v)
        }
    }
}

import FerryDICOM
import FerryServices

/// What a Q/R source lists of one study below STUDY level: its series (SERIES level), then
/// each series' instances (IMAGE level, with the study's and series' unique keys, as
/// dcmqrscp requires). Answers are de-duplicated by UID (some sources answer once per
/// instance at every level). A series whose instance list the source capped is marked so:
/// no key splits an IMAGE query further, and the retrieve will learn its instances.
public struct StudyListing: Sendable, Equatable {
    public struct Series: Sendable, Equatable {
        public var uid: String
        public var modality: String
        /// NumberOfSeriesRelatedInstances as the source gave it.
        public var sourceInstances: Int?
        public var capped = false
        public var instances: [Instance] = []
    }

    public struct Instance: Sendable, Equatable {
        public var uid: String
        public var sopClass: String
        /// Available Transfer Syntax UID, where the source answers it: the syntax a retrieve
        /// brings, for the dry run's negotiation.
        public var transferSyntax: String? = nil
    }

    public var studyUID: String
    public var series: [Series] = []

    /// Lists `study` with `find` (as `StudyInventory.Find`).
    public static func list(_ study: String, find: StudyInventory.Find) async throws -> StudyListing {
        var listing = StudyListing(studyUID: study)
        var seen = Set<String>()
        _ = try await find([
            (QueryKeys.queryRetrieveLevel, .CS, "SERIES"), (QueryKeys.studyInstanceUID, .UI, study),
            (QueryKeys.seriesInstanceUID, .UI, ""), (QueryKeys.modality, .CS, ""),
            (QueryKeys.numberOfSeriesRelatedInstances, .IS, ""),
        ]) { answer in
            guard let uid = Self.uid(answer, QueryKeys.seriesInstanceUID), seen.insert(uid).inserted else { return }
            listing.series.append(
                Series(
                    uid: uid, modality: answer.string(QueryKeys.modality) ?? "",
                    sourceInstances: answer.string(QueryKeys.numberOfSeriesRelatedInstances).flatMap { Int($0) }))
        }
        for i in listing.series.indices {
            var instances = Set<String>()
            var listed: [Instance] = []
            listing.series[i].capped = try await find([
                (QueryKeys.queryRetrieveLevel, .CS, "IMAGE"), (QueryKeys.studyInstanceUID, .UI, study),
                (QueryKeys.seriesInstanceUID, .UI, listing.series[i].uid), (QueryKeys.sopInstanceUID, .UI, ""),
                (QueryKeys.sopClassUID, .UI, ""), (QueryKeys.availableTransferSyntaxUID, .UI, ""),
            ]) { answer in
                guard let uid = Self.uid(answer, QueryKeys.sopInstanceUID), instances.insert(uid).inserted else {
                    return
                }
                listed.append(
                    Instance(
                        uid: uid, sopClass: Self.uid(answer, QueryKeys.sopClassUID) ?? "",
                        transferSyntax: Self.uid(answer, QueryKeys.availableTransferSyntaxUID)))
            }
            listing.series[i].instances = listed
        }
        return listing
    }

    /// A UID an answer gives: only a valid one (at most 64 characters).
    static func uid(_ answer: DataSet, _ tag: Tag) -> String? {
        guard let v = answer.string(tag), !v.isEmpty, v.utf8.count <= 64 else { return nil }
        return v
    }
}

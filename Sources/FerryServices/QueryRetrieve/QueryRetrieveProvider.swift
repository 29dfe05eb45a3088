import FerryDICOM
import FerryNetwork

/// What turns the receiver into a Query/Retrieve SCP (`ferry qrscp`): which AE titles it
/// serves and to whom, where each stores, answers to queries, and the indexing of each
/// instance stored. Implemented over an index by FerryArchive; the association's DIMSE
/// exchange stays in the receiver's session.
public protocol QueryRetrieveProvider: Sendable {
    /// Why an association from `callingAE` at `host` to `calledAE` is rejected, or nil.
    func admits(calledAE: String, callingAE: String, host: String) -> (AssociateRJ, String)?

    /// Where instances stored for `calledAE` go; nil when it takes none (read-only).
    func storageDirectory(calledAE: String) -> String?

    /// The identifiers answering a C-FIND on the association `calledAE` serves, read a page
    /// at a time; a refusal is a `ServiceError` with the status to answer (A900, C000, A700...).
    func find(_ query: Query, calledAE: String) throws(ServiceError) -> any FindAnswers

    /// The instances a C-MOVE or C-GET of `query` sends, every one under each match: counted
    /// at once, read a page at a time.
    func retrieve(_ query: Query, calledAE: String) throws(ServiceError) -> any RetrieveInstances

    /// Where the C-MOVE destination `aeTitle` listens, or nil (A801: unknown destination, or
    /// one the mover at `host` calling as `callingAE` may not send to).
    func moveDestination(
        _ aeTitle: String, calledAE: String, callingAE: String, host: String
    ) -> (host: String, port: Int)?

    /// Indexes a file the receiver has just stored for `calledAE`. A duplicate SOP instance
    /// or an instance that cannot be indexed is a `ServiceError` with the status to answer
    /// (the provider removes the new file then).
    func stored(path: String, calledAE: String) throws(ServiceError)
}

/// The answers of one C-FIND as they are read from an index: a request's memory stays one
/// page whatever the archive's size, and a long query leaves the blocking pool to others
/// between pages.
public protocol FindAnswers: Sendable {
    /// The next page of answers (empty when the page's rows held no match), or nil when
    /// there are no more. Called on the
    /// blocking pool, one call at a time; a refusal (the request's time budget spent, the
    /// index unreadable) is a `ServiceError` with the status to answer.
    func next() throws(ServiceError) -> [DataSet]?
}

/// The instances of one C-MOVE or C-GET, known by number at once and read a page at a time:
/// a retrieve of a whole archive holds one page of instances, not the archive.
public protocol RetrieveInstances: Sendable {
    /// How many instances the retrieve sends in all.
    var count: Int { get }
    /// The next instances (at most `limit`), or nil when there are no more. Called on the
    /// blocking pool, one call at a time.
    func next(limit: Int) throws(ServiceError) -> [StoredInstance]?
}

/// A stored instance a retrieve sends.
public struct StoredInstance: Sendable, Equatable {
    public var path: String
    public var sopClassUID: String
    public var sopInstanceUID: String
    public var transferSyntaxUID: String

    public init(path: String, sopClassUID: String, sopInstanceUID: String, transferSyntaxUID: String) {
        self.path = path
        self.sopClassUID = sopClassUID
        self.sopInstanceUID = sopInstanceUID
        self.transferSyntaxUID = transferSyntaxUID
    }
}

import FerryNetwork

/// What the send loop needs of an association to carry stores: an `Association` in either
/// role (a C-GET's sub-operations go on the requestor's own association), or a scripted one
/// in tests.
public protocol StoreChannel: AnyObject {
    /// False once the association has failed (timeout, abort, protocol error).
    var isUsable: Bool { get }
    /// Stores this side may have in flight before their responses (the negotiated
    /// Asynchronous Operations Window; 1 without one).
    var invokeWindow: Int { get }
    /// The next C-STORE-RSP, to whichever store it answers.
    func nextStoreResponse() async throws -> CommandSet
    /// Whether anything has arrived to be read, without waiting.
    func hasArrived() async throws -> Bool
    /// Ends the association at once.
    func abort() async
}

extension Association: StoreChannel {}

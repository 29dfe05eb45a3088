import FerryDICOM

/// The sub-operation counters of C-MOVE and C-GET responses (PS3.7 9.3.4.2, 9.3.3.2).
public struct SubOperationCounts: Sendable, Equatable, CustomStringConvertible {
    public var remaining: Int?
    public var completed = 0
    public var failed = 0
    public var warning = 0

    public init(remaining: Int? = nil, completed: Int = 0, failed: Int = 0, warning: Int = 0) {
        self.remaining = remaining
        self.completed = completed
        self.failed = failed
        self.warning = warning
    }

    public var description: String {
        "remaining \(remaining.map(String.init) ?? "-"), completed \(completed), failed \(failed), warning \(warning)"
    }
}

extension CommandTag {
    public static let numberOfRemainingSuboperations = Tag(0x0000, 0x1020)
    public static let numberOfCompletedSuboperations = Tag(0x0000, 0x1021)
    public static let numberOfFailedSuboperations = Tag(0x0000, 0x1022)
    public static let numberOfWarningSuboperations = Tag(0x0000, 0x1023)
}

extension CommandSet {
    public var moveDestination: String? { dataSet.string(CommandTag.moveDestination) }

    public var subOperations: SubOperationCounts {
        SubOperationCounts(
            remaining: dataSet.integer(CommandTag.numberOfRemainingSuboperations),
            completed: dataSet.integer(CommandTag.numberOfCompletedSuboperations) ?? 0,
            failed: dataSet.integer(CommandTag.numberOfFailedSuboperations) ?? 0,
            warning: dataSet.integer(CommandTag.numberOfWarningSuboperations) ?? 0)
    }

    /// C-FIND-RQ, C-MOVE-RQ or C-GET-RQ (PS3.7 9.3.2.1, 9.3.4.1, 9.3.3.1): the identifier
    /// follows as a data set.
    public static func queryRQ(
        _ field: CommandField, messageID: UInt16, sopClass: String, priority: Priority = .medium,
        moveDestination: String? = nil
    ) -> CommandSet {
        var c = CommandSet(field: field, hasDataSet: true)
        c.dataSet.set(CommandTag.affectedSOPClassUID, .UI, sopClass)
        c.dataSet.set(CommandTag.messageID, uint16: messageID)
        if let moveDestination { c.dataSet.set(CommandTag.moveDestination, .AE, moveDestination) }
        c.dataSet.set(CommandTag.priority, uint16: priority.rawValue)
        return c
    }

    /// C-FIND-RSP, C-MOVE-RSP or C-GET-RSP. Pending C-FIND responses carry an identifier;
    /// C-MOVE/C-GET responses carry the counters (PS3.7 C.4.2.1.5: none are required in a
    /// pending response, all in the final one) and, when not a success, a data set with
    /// the Failed SOP Instance UID List.
    public static func queryRSP(
        _ field: CommandField, respondingTo id: UInt16, sopClass: String, status: DIMSEStatus, hasDataSet: Bool,
        counts: SubOperationCounts? = nil, errorComment: String? = nil
    ) -> CommandSet {
        var c = CommandSet(field: field, hasDataSet: hasDataSet)
        c.dataSet.set(CommandTag.affectedSOPClassUID, .UI, sopClass)
        c.dataSet.set(CommandTag.messageIDBeingRespondedTo, uint16: id)
        c.dataSet.set(CommandTag.status, uint16: status.code)
        if let counts {
            if let remaining = counts.remaining {
                c.dataSet.set(CommandTag.numberOfRemainingSuboperations, uint16: UInt16(clamping: remaining))
            }
            c.dataSet.set(CommandTag.numberOfCompletedSuboperations, uint16: UInt16(clamping: counts.completed))
            c.dataSet.set(CommandTag.numberOfFailedSuboperations, uint16: UInt16(clamping: counts.failed))
            c.dataSet.set(CommandTag.numberOfWarningSuboperations, uint16: UInt16(clamping: counts.warning))
        }
        if let errorComment { c.dataSet.set(CommandTag.errorComment, .LO, String(errorComment.prefix(64))) }
        return c
    }

    /// C-CANCEL-RQ (PS3.7 9.3.2.3): names the request it cancels; no data set.
    public static func cancelRQ(respondingTo id: UInt16) -> CommandSet {
        var c = CommandSet(field: .cCancelRQ, hasDataSet: false)
        c.dataSet.set(CommandTag.messageIDBeingRespondedTo, uint16: id)
        return c
    }
}

extension DIMSEStatus {
    /// Query/Retrieve statuses (PS3.4 C.4.1.1.4, C.4.2.1.5, C.4.3.1.4).
    public static let pending = DIMSEStatus(0xFF00)
    public static let pendingWarning = DIMSEStatus(0xFF01)
    public static let cancel = DIMSEStatus(0xFE00)
    public static let outOfResources = DIMSEStatus(0xA700)
    public static let unableToCalculateMatches = DIMSEStatus(0xA701)
    public static let unableToPerformSubOperations = DIMSEStatus(0xA702)
    public static let moveDestinationUnknown = DIMSEStatus(0xA801)
    public static let identifierDoesNotMatch = DIMSEStatus(0xA900)
    public static let subOperationsWithFailures = DIMSEStatus(0xB000)
    public static let unableToProcess = DIMSEStatus(0xC000)
    public static let sopClassNotSupported = DIMSEStatus(0x0122)
}

import FerryDICOM

extension CommandTag {
    public static let requestedSOPClassUID = Tag(0x0000, 0x0003)
    public static let requestedSOPInstanceUID = Tag(0x0000, 0x1001)
    public static let eventTypeID = Tag(0x0000, 0x1002)
    public static let actionTypeID = Tag(0x0000, 0x1008)
}

/// The DIMSE-N messages of Storage Commitment (PS3.7 10.1.1 N-EVENT-REPORT, 10.1.4 N-ACTION).
extension CommandSet {
    public var requestedSOPClassUID: String? { dataSet.string(CommandTag.requestedSOPClassUID) }
    public var requestedSOPInstanceUID: String? { dataSet.string(CommandTag.requestedSOPInstanceUID) }
    public var eventTypeID: UInt16? { dataSet.integer(CommandTag.eventTypeID).map { UInt16(truncatingIfNeeded: $0) } }
    public var actionTypeID: UInt16? {
        dataSet.integer(CommandTag.actionTypeID).map { UInt16(truncatingIfNeeded: $0) }
    }

    /// N-ACTION-RQ: the action's information follows as a data set.
    public static func actionRQ(
        messageID: UInt16, sopClass: String, sopInstance: String, actionType: UInt16
    )
        -> CommandSet
    {
        var c = CommandSet(field: .nActionRQ, hasDataSet: true)
        c.dataSet.set(CommandTag.requestedSOPClassUID, .UI, sopClass)
        c.dataSet.set(CommandTag.messageID, uint16: messageID)
        c.dataSet.set(CommandTag.requestedSOPInstanceUID, .UI, sopInstance)
        c.dataSet.set(CommandTag.actionTypeID, uint16: actionType)
        return c
    }

    /// N-ACTION-RSP without an action reply.
    public static func actionRSP(
        respondingTo id: UInt16, sopClass: String, sopInstance: String, actionType: UInt16, status: DIMSEStatus
    ) -> CommandSet {
        var c = CommandSet(field: .nActionRSP, hasDataSet: false)
        c.dataSet.set(CommandTag.affectedSOPClassUID, .UI, sopClass)
        c.dataSet.set(CommandTag.messageIDBeingRespondedTo, uint16: id)
        c.dataSet.set(CommandTag.status, uint16: status.code)
        c.dataSet.set(CommandTag.affectedSOPInstanceUID, .UI, sopInstance)
        c.dataSet.set(CommandTag.actionTypeID, uint16: actionType)
        return c
    }

    /// N-EVENT-REPORT-RQ: the event's information follows as a data set.
    public static func eventReportRQ(
        messageID: UInt16, sopClass: String, sopInstance: String, eventType: UInt16
    )
        -> CommandSet
    {
        var c = CommandSet(field: .nEventReportRQ, hasDataSet: true)
        c.dataSet.set(CommandTag.affectedSOPClassUID, .UI, sopClass)
        c.dataSet.set(CommandTag.messageID, uint16: messageID)
        c.dataSet.set(CommandTag.affectedSOPInstanceUID, .UI, sopInstance)
        c.dataSet.set(CommandTag.eventTypeID, uint16: eventType)
        return c
    }

    /// N-EVENT-REPORT-RSP without an event reply.
    public static func eventReportRSP(
        respondingTo id: UInt16, sopClass: String, sopInstance: String, eventType: UInt16, status: DIMSEStatus
    ) -> CommandSet {
        var c = CommandSet(field: .nEventReportRSP, hasDataSet: false)
        c.dataSet.set(CommandTag.affectedSOPClassUID, .UI, sopClass)
        c.dataSet.set(CommandTag.messageIDBeingRespondedTo, uint16: id)
        c.dataSet.set(CommandTag.status, uint16: status.code)
        c.dataSet.set(CommandTag.affectedSOPInstanceUID, .UI, sopInstance)
        c.dataSet.set(CommandTag.eventTypeID, uint16: eventType)
        return c
    }
}

extension DIMSEStatus {
    /// DIMSE-N statuses (PS3.7 C.4, C.5).
    public static let processingFailure = DIMSEStatus(0x0110)
    public static let noSuchSOPInstance = DIMSEStatus(0x0112)
    public static let noSuchActionType = DIMSEStatus(0x0123)
    /// Refused: not authorized (PS3.7 C.5.24).
    public static let notAuthorized = DIMSEStatus(0x0124)
    public static let invalidArgumentValue = DIMSEStatus(0x0115)
}

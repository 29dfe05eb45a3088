import FerryDICOM

/// DIMSE command fields (PS3.7 E.1).
public enum CommandField: UInt16, Sendable {
    case cStoreRQ = 0x0001, cStoreRSP = 0x8001
    case cEchoRQ = 0x0030, cEchoRSP = 0x8030
    case cFindRQ = 0x0020, cFindRSP = 0x8020
    case cGetRQ = 0x0010, cGetRSP = 0x8010
    case cMoveRQ = 0x0021, cMoveRSP = 0x8021
    case cCancelRQ = 0x0FFF
    case nEventReportRQ = 0x0100, nEventReportRSP = 0x8100
    case nActionRQ = 0x0130, nActionRSP = 0x8130

    public var name: String {
        switch self {
        case .cStoreRQ: "C-STORE-RQ"
        case .cStoreRSP: "C-STORE-RSP"
        case .cEchoRQ: "C-ECHO-RQ"
        case .cEchoRSP: "C-ECHO-RSP"
        case .cFindRQ: "C-FIND-RQ"
        case .cFindRSP: "C-FIND-RSP"
        case .cGetRQ: "C-GET-RQ"
        case .cGetRSP: "C-GET-RSP"
        case .cMoveRQ: "C-MOVE-RQ"
        case .cMoveRSP: "C-MOVE-RSP"
        case .cCancelRQ: "C-CANCEL-RQ"
        case .nEventReportRQ: "N-EVENT-REPORT-RQ"
        case .nEventReportRSP: "N-EVENT-REPORT-RSP"
        case .nActionRQ: "N-ACTION-RQ"
        case .nActionRSP: "N-ACTION-RSP"
        }
    }
}

public enum Priority: UInt16, Sendable {
    case medium = 0x0000, high = 0x0001, low = 0x0002
}

/// Command group elements (PS3.7 E.1-1).
public enum CommandTag {
    public static let groupLength = Tag(0x0000, 0x0000)
    public static let affectedSOPClassUID = Tag(0x0000, 0x0002)
    public static let commandField = Tag(0x0000, 0x0100)
    public static let messageID = Tag(0x0000, 0x0110)
    public static let messageIDBeingRespondedTo = Tag(0x0000, 0x0120)
    public static let moveDestination = Tag(0x0000, 0x0600)
    public static let priority = Tag(0x0000, 0x0700)
    public static let commandDataSetType = Tag(0x0000, 0x0800)
    public static let status = Tag(0x0000, 0x0900)
    public static let offendingElement = Tag(0x0000, 0x0901)
    public static let errorComment = Tag(0x0000, 0x0902)
    public static let errorID = Tag(0x0000, 0x0903)
    public static let affectedSOPInstanceUID = Tag(0x0000, 0x1000)
    public static let moveOriginatorAETitle = Tag(0x0000, 0x1030)
    public static let moveOriginatorMessageID = Tag(0x0000, 0x1031)
}

/// A DIMSE command set: always implicit VR little endian (PS3.7 6.3.1), with its group length.
public struct CommandSet: Sendable {
    public var dataSet: DataSet
    /// (0000,0800): 0x0101 means no data set follows.
    public static let noDataSet: UInt16 = 0x0101
    public static let dataSetPresent: UInt16 = 0x0000

    public init(_ dataSet: DataSet) { self.dataSet = dataSet }

    public init(field: CommandField, hasDataSet: Bool) {
        var ds = DataSet()
        ds[CommandTag.groupLength] = DataElement(CommandTag.groupLength, .UL, bytes: [0, 0, 0, 0])
        ds.set(CommandTag.commandField, uint16: field.rawValue)
        ds.set(CommandTag.commandDataSetType, uint16: hasDataSet ? Self.dataSetPresent : Self.noDataSet)
        dataSet = ds
    }

    public static func decode(_ bytes: [UInt8]) throws(DICOMError) -> CommandSet {
        CommandSet(try DataSetDecoder.decode(bytes, encoding: .implicitLittle))
    }

    public func encode() throws(DICOMError) -> [UInt8] {
        try DataSetWriter(encoding: .implicitLittle).encode(dataSet)
    }

    public var field: CommandField? {
        dataSet.integer(CommandTag.commandField).flatMap { CommandField(rawValue: UInt16(truncatingIfNeeded: $0)) }
    }
    public var rawField: Int? { dataSet.integer(CommandTag.commandField) }
    public var hasDataSet: Bool {
        dataSet.integer(CommandTag.commandDataSetType).map { $0 != Int(Self.noDataSet) } ?? false
    }
    public var messageID: UInt16? { dataSet.integer(CommandTag.messageID).map { UInt16(truncatingIfNeeded: $0) } }
    public var messageIDBeingRespondedTo: UInt16? {
        dataSet.integer(CommandTag.messageIDBeingRespondedTo).map { UInt16(truncatingIfNeeded: $0) }
    }
    public var status: DIMSEStatus? {
        dataSet.integer(CommandTag.status).map { DIMSEStatus(UInt16(truncatingIfNeeded: $0)) }
    }
    public var affectedSOPClassUID: String? { dataSet.string(CommandTag.affectedSOPClassUID) }
    public var affectedSOPInstanceUID: String? { dataSet.string(CommandTag.affectedSOPInstanceUID) }
    public var errorComment: String? { dataSet.string(CommandTag.errorComment) }
    public var priority: UInt16? { dataSet.integer(CommandTag.priority).map { UInt16(truncatingIfNeeded: $0) } }
    public var moveOriginatorAETitle: String? { dataSet.string(CommandTag.moveOriginatorAETitle) }
    public var moveOriginatorMessageID: UInt16? {
        dataSet.integer(CommandTag.moveOriginatorMessageID).map { UInt16(truncatingIfNeeded: $0) }
    }

    // MARK: The messages Ferry sends

    public static func echoRQ(messageID: UInt16) -> CommandSet {
        var c = CommandSet(field: .cEchoRQ, hasDataSet: false)
        c.dataSet.set(CommandTag.affectedSOPClassUID, .UI, UIDRegistry.verificationSOPClass)
        c.dataSet.set(CommandTag.messageID, uint16: messageID)
        return c
    }

    public static func echoRSP(respondingTo id: UInt16, status: DIMSEStatus = .success) -> CommandSet {
        var c = CommandSet(field: .cEchoRSP, hasDataSet: false)
        c.dataSet.set(CommandTag.affectedSOPClassUID, .UI, UIDRegistry.verificationSOPClass)
        c.dataSet.set(CommandTag.messageIDBeingRespondedTo, uint16: id)
        c.dataSet.set(CommandTag.status, uint16: status.code)
        return c
    }

    public static func storeRQ(
        messageID: UInt16, sopClass: String, sopInstance: String, priority: Priority = .medium,
        moveOriginator: (aeTitle: String, messageID: UInt16)? = nil
    ) -> CommandSet {
        var c = CommandSet(field: .cStoreRQ, hasDataSet: true)
        c.dataSet.set(CommandTag.affectedSOPClassUID, .UI, sopClass)
        c.dataSet.set(CommandTag.messageID, uint16: messageID)
        c.dataSet.set(CommandTag.priority, uint16: priority.rawValue)
        c.dataSet.set(CommandTag.affectedSOPInstanceUID, .UI, sopInstance)
        if let m = moveOriginator {
            c.dataSet.set(CommandTag.moveOriginatorAETitle, .AE, m.aeTitle)
            c.dataSet.set(CommandTag.moveOriginatorMessageID, uint16: m.messageID)
        }
        return c
    }

    public static func storeRSP(
        respondingTo id: UInt16, sopClass: String, sopInstance: String, status: DIMSEStatus,
        errorComment: String? = nil
    ) -> CommandSet {
        var c = CommandSet(field: .cStoreRSP, hasDataSet: false)
        c.dataSet.set(CommandTag.affectedSOPClassUID, .UI, sopClass)
        c.dataSet.set(CommandTag.messageIDBeingRespondedTo, uint16: id)
        c.dataSet.set(CommandTag.status, uint16: status.code)
        c.dataSet.set(CommandTag.affectedSOPInstanceUID, .UI, sopInstance)
        if let comment = errorComment {
            c.dataSet.set(CommandTag.errorComment, .LO, String(comment.prefix(64)))
        }
        return c
    }
}

import NIOCore

/// The seven protocol data units of the DICOM upper layer (PS3.8 9.3).
public enum PDU: Sendable {
    case associateRQ(AssociateRQ)
    case associateAC(AssociateAC)
    case associateRJ(AssociateRJ)
    case data(PDataTF)
    case releaseRQ
    case releaseRP
    case abort(AbortPDU)

    public enum Kind: UInt8, Sendable {
        case associateRQ = 0x01, associateAC = 0x02, associateRJ = 0x03, data = 0x04
        case releaseRQ = 0x05, releaseRP = 0x06, abort = 0x07
    }

    public var kind: Kind {
        switch self {
        case .associateRQ: .associateRQ
        case .associateAC: .associateAC
        case .associateRJ: .associateRJ
        case .data: .data
        case .releaseRQ: .releaseRQ
        case .releaseRP: .releaseRP
        case .abort: .abort
        }
    }
}

/// The DICOM application context (PS3.7 A.2.1): the only one defined.
public let dicomApplicationContext = "1.2.840.10008.3.1.1.1"

/// A-ASSOCIATE-RQ (PS3.8 9.3.2).
public struct AssociateRQ: Sendable, Equatable {
    public var protocolVersion: UInt16 = 1
    public var calledAE: String
    public var callingAE: String
    public var applicationContext = dicomApplicationContext
    public var presentationContexts: [PresentationContextProposal]
    public var userInformation: UserInformation

    public init(
        calledAE: String, callingAE: String, presentationContexts: [PresentationContextProposal],
        userInformation: UserInformation
    ) {
        self.calledAE = calledAE
        self.callingAE = callingAE
        self.presentationContexts = presentationContexts
        self.userInformation = userInformation
    }
}

/// A-ASSOCIATE-AC (PS3.8 9.3.3). The AE title fields echo the request and are not tested.
public struct AssociateAC: Sendable, Equatable {
    public var protocolVersion: UInt16 = 1
    public var calledAE: String
    public var callingAE: String
    public var applicationContext = dicomApplicationContext
    public var presentationContexts: [PresentationContextResult]
    public var userInformation: UserInformation

    public init(
        calledAE: String, callingAE: String, presentationContexts: [PresentationContextResult],
        userInformation: UserInformation
    ) {
        self.calledAE = calledAE
        self.callingAE = callingAE
        self.presentationContexts = presentationContexts
        self.userInformation = userInformation
    }
}

/// A-ASSOCIATE-RJ (PS3.8 9.3.4) with the result, source and reason names of Table 9-21.
public struct AssociateRJ: Sendable, Equatable, CustomStringConvertible {
    public var result: UInt8  // 1 permanent, 2 transient
    public var source: UInt8  // 1 service user, 2 service provider (ACSE), 3 service provider (presentation)
    public var reason: UInt8

    public init(result: UInt8, source: UInt8, reason: UInt8) {
        self.result = result
        self.source = source
        self.reason = reason
    }

    public static func permanent(_ source: UInt8, _ reason: UInt8) -> AssociateRJ {
        AssociateRJ(result: 1, source: source, reason: reason)
    }
    public static let noReason = permanent(1, 1)
    public static let applicationContextNotSupported = permanent(1, 2)
    public static let callingAENotRecognized = permanent(1, 3)
    public static let calledAENotRecognized = permanent(1, 7)
    public static let protocolVersionNotSupported = permanent(2, 2)
    public static let temporaryCongestion = AssociateRJ(result: 2, source: 3, reason: 1)
    public static let localLimitExceeded = AssociateRJ(result: 2, source: 3, reason: 2)

    public var description: String {
        let resultName = result == 1 ? "Rejected Permanent" : result == 2 ? "Rejected Transient" : "result \(result)"
        let (sourceName, reasonName): (String, String) =
            switch (source, reason) {
            case (1, 1): ("Service User", "No Reason")
            case (1, 2): ("Service User", "Application Context Name Not Supported")
            case (1, 3): ("Service User", "Calling AE Title Not Recognized")
            case (1, 7): ("Service User", "Called AE Title Not Recognized")
            case (1, _): ("Service User", "reason \(reason)")
            case (2, 1): ("Service Provider (ACSE)", "No Reason")
            case (2, 2): ("Service Provider (ACSE)", "Protocol Version Not Supported")
            case (2, _): ("Service Provider (ACSE)", "reason \(reason)")
            case (3, 1): ("Service Provider (Presentation)", "Temporary Congestion")
            case (3, 2): ("Service Provider (Presentation)", "Local Limit Exceeded")
            case (3, _): ("Service Provider (Presentation)", "reason \(reason)")
            default: ("source \(source)", "reason \(reason)")
            }
        return "\(resultName), Source: \(sourceName), Reason: \(reasonName)"
    }
}

/// A-ABORT (PS3.8 9.3.8): source 0 service user, 2 service provider; reasons of Table 9-26.
public struct AbortPDU: Sendable, Equatable, CustomStringConvertible {
    public var source: UInt8
    public var reason: UInt8

    public init(source: UInt8, reason: UInt8) {
        self.source = source
        self.reason = reason
    }

    public static let byUser = AbortPDU(source: 0, reason: 0)
    public static let unrecognizedPDU = AbortPDU(source: 2, reason: 1)
    public static let unexpectedPDU = AbortPDU(source: 2, reason: 2)
    public static let unrecognizedParameter = AbortPDU(source: 2, reason: 4)
    public static let unexpectedParameter = AbortPDU(source: 2, reason: 5)
    public static let invalidParameter = AbortPDU(source: 2, reason: 6)

    public var description: String {
        if source == 0 { return "Service User" }
        let reasons = [
            "reason not specified", "unrecognized PDU", "unexpected PDU", "reserved",
            "unrecognized PDU parameter", "unexpected PDU parameter", "invalid PDU parameter value",
        ]
        let name = Int(reason) < reasons.count ? reasons[Int(reason)] : "reason \(reason)"
        return source == 2 ? "Service Provider: \(name)" : "source \(source): \(name)"
    }
}

/// P-DATA-TF (PS3.8 9.3.5): presentation data values, each a fragment of a command or data set.
public struct PDataTF: Sendable {
    public var values: [PDV]
    public init(values: [PDV]) { self.values = values }
}

/// One presentation data value item (PS3.8 9.3.5.1, E.2): context id, message control header, fragment.
public struct PDV: Sendable {
    public var contextID: UInt8
    public var isCommand: Bool
    public var isLast: Bool
    public var data: ByteBuffer

    public init(contextID: UInt8, isCommand: Bool, isLast: Bool, data: ByteBuffer) {
        self.contextID = contextID
        self.isCommand = isCommand
        self.isLast = isLast
        self.data = data
    }
}

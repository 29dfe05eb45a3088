/// The DICOM upper layer protocol state machine (PS3.8 9.2, Tables 9-9 and 9-10), as a
/// value: it is fed events and answers with the action the standard names. The driver
/// (an `AssociationChannel`) carries actions out: it owns the socket, the PDUs and the ARTIM timer.
public struct UpperLayerStateMachine: Sendable {
    public enum State: Int, Sendable, CustomStringConvertible {
        case sta1 = 1, sta2, sta3, sta4, sta5, sta6, sta7, sta8, sta9, sta10, sta11, sta12, sta13
        public var description: String { "Sta\(rawValue)" }
    }

    public enum Event: Int, Sendable, CustomStringConvertible {
        case associateRequest = 1  // Evt1: local A-ASSOCIATE request
        case transportConfirm  // Evt2
        case associateACReceived  // Evt3
        case associateRJReceived  // Evt4
        case transportIndication  // Evt5: a peer connected to us
        case associateRQReceived  // Evt6
        case associateAccept  // Evt7: local A-ASSOCIATE response (accept)
        case associateReject  // Evt8: local A-ASSOCIATE response (reject)
        case dataRequest  // Evt9: local P-DATA request
        case dataReceived  // Evt10
        case releaseRequest  // Evt11: local A-RELEASE request
        case releaseRQReceived  // Evt12
        case releaseRPReceived  // Evt13
        case releaseResponse  // Evt14: local A-RELEASE response
        case abortRequest  // Evt15: local A-ABORT request
        case abortReceived  // Evt16
        case transportClosed  // Evt17
        case artimExpired  // Evt18
        case invalidPDU  // Evt19: unrecognized or invalid PDU
        public var description: String { "Evt\(rawValue)" }
    }

    /// The actions of Table 9-7; `ae6` comes in two outcomes decided by the acceptor before
    /// it feeds the event (`acceptable`).
    public enum Action: String, Sendable {
        case ae1, ae2, ae3, ae4, ae5, ae6Accept, ae6Reject, ae7, ae8
        case dt1, dt2
        case ar1, ar2, ar3, ar4, ar5, ar6, ar7, ar8, ar9, ar10
        case aa1, aa2, aa3, aa4, aa5, aa6, aa7, aa8
    }

    public private(set) var state: State = .sta1
    /// True on the side that sent A-ASSOCIATE-RQ (decides AR-8's release-collision branch).
    public private(set) var isRequestor = false

    public init() {}

    /// Feeds one event; returns the action to perform, or nil when the event is not allowed
    /// in this state (a local primitive in the wrong state: a programming error the caller reports).
    /// `acceptable` is consulted only for Evt6 in Sta2 (AE-6).
    public mutating func handle(_ event: Event, acceptable: Bool = true) -> Action? {
        guard let (action, next) = transition(event, acceptable: acceptable) else { return nil }
        state = next
        return action
    }

    private mutating func transition(_ e: Event, acceptable: Bool) -> (Action, State)? {
        let s = state
        let established: ClosedRange<Int> = 6...12  // Sta6..Sta12
        switch e {
        case .associateRequest:
            guard s == .sta1 else { return nil }
            isRequestor = true
            return (.ae1, .sta4)
        case .transportConfirm:
            return s == .sta4 ? (.ae2, .sta5) : nil
        case .associateACReceived, .associateRJReceived:
            switch s {
            case .sta2: return (.aa1, .sta13)
            case .sta5: return e == .associateACReceived ? (.ae3, .sta6) : (.ae4, .sta1)
            case .sta13: return (.aa6, .sta13)
            case .sta3: return (.aa8, .sta13)
            default: return established.contains(s.rawValue) ? (.aa8, .sta13) : nil
            }
        case .transportIndication:
            guard s == .sta1 else { return nil }
            isRequestor = false
            return (.ae5, .sta2)
        case .associateRQReceived:
            switch s {
            case .sta2: return acceptable ? (.ae6Accept, .sta3) : (.ae6Reject, .sta13)
            case .sta3, .sta5: return (.aa8, .sta13)
            case .sta13: return (.aa7, .sta13)
            default: return established.contains(s.rawValue) ? (.aa8, .sta13) : nil
            }
        case .associateAccept:
            return s == .sta3 ? (.ae7, .sta6) : nil
        case .associateReject:
            return s == .sta3 ? (.ae8, .sta13) : nil
        case .dataRequest:
            switch s {
            case .sta6: return (.dt1, .sta6)
            case .sta8: return (.ar7, .sta8)
            default: return nil
            }
        case .dataReceived:
            switch s {
            case .sta2: return (.aa1, .sta13)
            case .sta6: return (.dt2, .sta6)
            case .sta7: return (.ar6, .sta7)
            case .sta13: return (.aa6, .sta13)
            case .sta3, .sta5: return (.aa8, .sta13)
            default: return established.contains(s.rawValue) ? (.aa8, .sta13) : nil
            }
        case .releaseRequest:
            return s == .sta6 ? (.ar1, .sta7) : nil
        case .releaseRQReceived:
            switch s {
            case .sta2: return (.aa1, .sta13)
            case .sta6: return (.ar2, .sta8)
            case .sta7: return (.ar8, isRequestor ? .sta9 : .sta10)
            case .sta13: return (.aa6, .sta13)
            case .sta3, .sta5: return (.aa8, .sta13)
            default: return established.contains(s.rawValue) ? (.aa8, .sta13) : nil
            }
        case .releaseRPReceived:
            switch s {
            case .sta2: return (.aa1, .sta13)
            case .sta7, .sta11: return (.ar3, .sta1)
            case .sta10: return (.ar10, .sta12)
            case .sta13: return (.aa6, .sta13)
            case .sta3, .sta5: return (.aa8, .sta13)
            default: return established.contains(s.rawValue) ? (.aa8, .sta13) : nil
            }
        case .releaseResponse:
            switch s {
            case .sta8, .sta12: return (.ar4, .sta13)
            case .sta9: return (.ar9, .sta11)
            default: return nil
            }
        case .abortRequest:
            switch s {
            case .sta3: return (.aa1, .sta13)
            case .sta4: return (.aa2, .sta1)
            default: return (5...12).contains(s.rawValue) ? (.aa1, .sta13) : nil
            }
        case .abortReceived:
            switch s {
            case .sta2: return (.aa2, .sta1)
            case .sta13: return (.ar5, .sta1)
            default: return (3...12).contains(s.rawValue) ? (.aa3, .sta1) : nil
            }
        case .transportClosed:
            switch s {
            case .sta2: return (.aa5, .sta1)
            case .sta13: return (.ar5, .sta1)
            case .sta1: return nil
            default: return (.aa4, .sta1)
            }
        case .artimExpired:
            return s == .sta2 || s == .sta13 ? (.aa2, .sta1) : nil
        case .invalidPDU:
            switch s {
            case .sta2: return (.aa1, .sta13)
            case .sta13: return (.aa7, .sta13)
            default: return (3...12).contains(s.rawValue) ? (.aa8, .sta13) : nil
            }
        }
    }
}

extension UpperLayerStateMachine.Event {
    /// The event a received PDU raises.
    public init(received pdu: PDU) {
        switch pdu {
        case .associateRQ: self = .associateRQReceived
        case .associateAC: self = .associateACReceived
        case .associateRJ: self = .associateRJReceived
        case .data: self = .dataReceived
        case .releaseRQ: self = .releaseRQReceived
        case .releaseRP: self = .releaseRPReceived
        case .abort: self = .abortReceived
        }
    }
}

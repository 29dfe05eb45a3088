import FerryNetwork
import FerryServices
import Testing

/// The PS3.8 9.2 state table, walked through the paths an association takes.
@Suite(.scratch)
struct StateMachineTests {
    typealias SM = UpperLayerStateMachine

    func run(_ events: [SM.Event], acceptable: Bool = true) -> (SM, [SM.Action?]) {
        var m = SM()
        let actions = events.map { m.handle($0, acceptable: acceptable) }
        return (m, actions)
    }

    @Test func requestorLifecycle() {
        let (m, actions) = run([
            .associateRequest, .transportConfirm, .associateACReceived, .dataRequest, .dataReceived,
            .releaseRequest, .releaseRPReceived,
        ])
        #expect(actions == [.ae1, .ae2, .ae3, .dt1, .dt2, .ar1, .ar3])
        #expect(m.state == .sta1)
    }

    @Test func acceptorLifecycle() {
        let (m, actions) = run([
            .transportIndication, .associateRQReceived, .associateAccept, .dataReceived, .dataRequest,
            .releaseRQReceived, .releaseResponse, .transportClosed,
        ])
        #expect(actions == [.ae5, .ae6Accept, .ae7, .dt2, .dt1, .ar2, .ar4, .ar5])
        #expect(m.state == .sta1)
    }

    @Test func rejection() {
        let (m, actions) = run([.associateRequest, .transportConfirm, .associateRJReceived])
        #expect(actions == [.ae1, .ae2, .ae4])
        #expect(m.state == .sta1)
        let (m2, a2) = run([.transportIndication, .associateRQReceived, .artimExpired], acceptable: false)
        #expect(a2 == [.ae5, .ae6Reject, .aa2])
        #expect(m2.state == .sta1)
    }

    /// Unexpected PDUs are answered with A-ABORT (AA-8 / AA-1) in every state that can receive them.
    @Test(arguments: [
        SM.Event.associateACReceived, .associateRJReceived, .associateRQReceived, .releaseRPReceived, .invalidPDU,
    ])
    func unexpectedPDUWhileEstablishedAborts(event: SM.Event) {
        var m = SM()
        _ = m.handle(.associateRequest); _ = m.handle(.transportConfirm); _ = m.handle(.associateACReceived)
        #expect(m.handle(event) == .aa8)
        #expect(m.state == .sta13)
        #expect(m.handle(.transportClosed) == .ar5)
    }

    @Test func pduBeforeAssociationRequestIsAbortedAndARTIMCloses() {
        let (m, actions) = run([.transportIndication, .dataReceived, .artimExpired])
        #expect(actions == [.ae5, .aa1, .aa2])
        #expect(m.state == .sta1)
    }

    @Test func releaseCollisionOnBothSides() {
        // Requestor: Sta7 -> AR-8 -> Sta9 -> AR-9 -> Sta11 -> AR-3.
        let (r, ra) = run([
            .associateRequest, .transportConfirm, .associateACReceived, .releaseRequest, .releaseRQReceived,
            .releaseResponse, .releaseRPReceived,
        ])
        #expect(ra == [.ae1, .ae2, .ae3, .ar1, .ar8, .ar9, .ar3])
        #expect(r.state == .sta1)
        // Acceptor: Sta7 -> AR-8 -> Sta10 -> AR-10 -> Sta12 -> AR-4 -> Sta13.
        let (a, aa) = run([
            .transportIndication, .associateRQReceived, .associateAccept, .releaseRequest, .releaseRQReceived,
            .releaseRPReceived, .releaseResponse,
        ])
        #expect(aa == [.ae5, .ae6Accept, .ae7, .ar1, .ar8, .ar10, .ar4])
        #expect(a.state == .sta13)
    }

    @Test func abortsAndLocalPrimitivesInTheWrongState() {
        let (m, actions) = run([.associateRequest, .transportConfirm, .associateACReceived, .abortReceived])
        #expect(actions.last == .aa3)
        #expect(m.state == .sta1)
        var idle = SM()
        #expect(idle.handle(.dataRequest) == nil, "P-DATA without an association is refused")
        #expect(idle.handle(.releaseRequest) == nil)
        #expect(idle.state == .sta1)
    }
}

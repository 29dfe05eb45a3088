import Logging

extension Association {
    /// The acceptor's answer to an A-ASSOCIATE-RQ.
    public enum AcceptDecision: Sendable {
        case accept([PresentationContextResult], UserInformation)
        case reject(AssociateRJ)
    }

    /// Negotiates the association a peer requests on `channel` (the acceptor's side): waits
    /// (ARTIM) for its A-ASSOCIATE-RQ, asks `decide`, answers with A-ASSOCIATE-AC or -RJ.
    /// Nil when the peer was rejected or opened with another PDU (then aborted, AA-1); throws
    /// on a timeout, a protocol error or a closed connection.
    public static func accept(
        channel: PDUChannel, peer: String, timeouts: Timeouts, maxReceivePDU: UInt32, logger: Logger,
        decide: (AssociateRQ) -> AcceptDecision
    ) async throws -> Association? {
        var machine = UpperLayerStateMachine()
        _ = machine.handle(.transportIndication)  // AE-5: ARTIM runs until A-ASSOCIATE-RQ
        do {
            let pdu = try await channel.receive(timeout: timeouts.acse, what: "waiting for A-ASSOCIATE-RQ (ARTIM)")
            guard case .associateRQ(let rq) = pdu else {
                _ = machine.handle(UpperLayerStateMachine.Event(received: pdu))  // AA-1
                await sendAbortAndClose(channel, .unexpectedPDU)
                return nil
            }
            logger.lines(.debug, "A-ASSOCIATE-RQ from \(peer):", PDUDump.associateRQ(rq).split(separator: "\n"))
            switch decide(rq) {
            case .reject(let rj):
                _ = machine.handle(.associateRQReceived, acceptable: false)  // AE-6 -> AE-8
                try? await channel.send(.associateRJ(rj), timeout: .seconds(5), what: "sending A-ASSOCIATE-RJ")
                // ARTIM: give the peer a moment to close, then close ourselves.
                _ = try? await channel.receive(timeout: .seconds(2), what: "waiting for the peer to close")
                await channel.close()
                return nil
            case .accept(let results, let info):
                _ = machine.handle(.associateRQReceived, acceptable: true)
                _ = machine.handle(.associateAccept)  // AE-7
                let ac = AssociateAC(
                    calledAE: rq.calledAE, callingAE: rq.callingAE, presentationContexts: results,
                    userInformation: info)
                try await channel.send(.associateAC(ac), timeout: timeouts.socket, what: "sending A-ASSOCIATE-AC")
                return Association(
                    role: .acceptor, request: rq, acceptance: ac, ourMaxPDU: maxReceivePDU, sendCap: nil,
                    timeouts: timeouts, channel: channel, machine: machine, peer: peer, logger: logger)
            }
        } catch let error as AssociationError {
            await closeAfterError(channel, error)
            throw error
        } catch {
            let cause = await channel.recordedFailure() ?? error
            let mapped = AssociationError.plain(cause, peer: peer, .during("association negotiation"))
            await closeAfterError(channel, mapped)
            throw mapped
        }
    }
}

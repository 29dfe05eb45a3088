import FerryNetwork
import FerryServices
import NIOCore
import Testing

@Suite(.scratch)
struct PDUCodecTests {
    func roundTrip(_ pdu: PDU) throws -> PDU {
        var buffer = PDUEncoder.encode(pdu)
        let type = buffer.readInteger(as: UInt8.self) ?? 0
        buffer.moveReaderIndex(forwardBy: 1)
        let length = buffer.readInteger(as: UInt32.self) ?? 0
        #expect(Int(length) == buffer.readableBytes, "PDU length field matches the body")
        return try PDUDecoder.decode(type: type, body: buffer)
    }

    @Test func associateRequestWithEveryUserInformationItem() throws {
        var info = UserInformation(
            maxLength: 16384, implementationClassUID: "1.2.3.4", implementationVersionName: "FERRY_010")
        info.asyncOperationsWindow = AsyncOperationsWindow(maxInvoked: 4, maxPerformed: 2)
        info.roleSelections = [RoleSelection(sopClass: "1.2.840.10008.5.1.4.1.1.2", scu: true, scp: false)]
        info.extendedNegotiations = [ExtendedNegotiation(sopClass: "1.2.840.10008.5.1.4.1.1.2", info: [1, 0, 1])]
        info.userIdentity = .username("alice", passcode: "pa55", positiveResponse: true)
        let rq = AssociateRQ(
            calledAE: "ANY-SCP", callingAE: "FERRY",
            presentationContexts: [
                PresentationContextProposal(
                    id: 1, abstractSyntax: "1.2.840.10008.1.1", transferSyntaxes: ["1.2.840.10008.1.2"]),
                PresentationContextProposal(
                    id: 3, abstractSyntax: "1.2.840.10008.5.1.4.1.1.2",
                    transferSyntaxes: ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]),
            ], userInformation: info)
        guard case .associateRQ(let decoded) = try roundTrip(.associateRQ(rq)) else {
            Issue.record("not an RQ"); return
        }
        #expect(decoded == rq)
    }

    @Test(arguments: [UserIdentity.Kind.kerberos, .saml, .jwt])
    func tokenIdentitiesRoundTripAndAreRedacted(kind: UserIdentity.Kind) throws {
        let token = Array("TOKEN-SECRET-VALUE".utf8)
        var info = UserInformation(maxLength: 0, implementationClassUID: "1.2.3", implementationVersionName: nil)
        info.userIdentity = UserIdentity(kind: kind, positiveResponseRequested: true, primaryField: token)
        let rq = AssociateRQ(calledAE: "A", callingAE: "B", presentationContexts: [], userInformation: info)
        guard case .associateRQ(let decoded) = try roundTrip(.associateRQ(rq)) else {
            Issue.record("not an RQ"); return
        }
        #expect(decoded.userInformation.userIdentity == info.userIdentity)
        let dump = PDUDump.associateRQ(decoded)
        #expect(!dump.contains("TOKEN-SECRET-VALUE"))
        #expect(!"\(decoded)".contains("TOKEN-SECRET-VALUE"), "not even in a reflection dump of the PDU")
    }

    @Test func passcodeNeverInDescriptions() {
        let id = UserIdentity.username("alice", passcode: "hunter2")
        #expect("\(id)".contains("alice"))
        #expect(!"\(id)".contains("hunter2"))
        #expect(!String(reflecting: id).contains("hunter2"))
    }

    @Test func associateAcceptRejectReleaseAbort() throws {
        var info = UserInformation(maxLength: 32768, implementationClassUID: "1.2.3", implementationVersionName: "X")
        info.userIdentityResponse = [1, 2, 3]
        let ac = AssociateAC(
            calledAE: "SCP", callingAE: "SCU",
            presentationContexts: [
                PresentationContextResult(id: 1, result: .acceptance, transferSyntax: "1.2.840.10008.1.2"),
                PresentationContextResult(id: 3, result: .abstractSyntaxNotSupported, transferSyntax: ""),
            ], userInformation: info)
        guard case .associateAC(let decoded) = try roundTrip(.associateAC(ac)) else {
            Issue.record("not an AC"); return
        }
        #expect(decoded == ac)
        guard case .associateRJ(let rj) = try roundTrip(.associateRJ(.calledAENotRecognized)) else {
            Issue.record("not an RJ"); return
        }
        #expect(rj == .calledAENotRecognized)
        #expect("\(rj)" == "Rejected Permanent, Source: Service User, Reason: Called AE Title Not Recognized")
        guard case .abort(let a) = try roundTrip(.abort(.unexpectedPDU)) else { Issue.record("not an abort"); return }
        #expect(a == .unexpectedPDU)
        guard case .releaseRQ = try roundTrip(.releaseRQ), case .releaseRP = try roundTrip(.releaseRP) else {
            Issue.record("release"); return
        }
    }

    @Test func pDataValues() throws {
        let pdu = PDU.data(
            PDataTF(values: [
                PDV(contextID: 1, isCommand: true, isLast: true, data: ByteBuffer(bytes: [1, 2, 3, 4])),
                PDV(contextID: 3, isCommand: false, isLast: false, data: ByteBuffer(bytes: [5, 6])),
            ]))
        guard case .data(let d) = try roundTrip(pdu) else { Issue.record("not data"); return }
        #expect(d.values.map(\.contextID) == [1, 3])
        #expect(d.values.map(\.isCommand) == [true, false])
        #expect(d.values.map(\.isLast) == [true, false])
        #expect(d.values.map { Array($0.data.readableBytesView) } == [[1, 2, 3, 4], [5, 6]])
    }

    /// Malformed bodies are errors, never crashes or huge allocations.
    @Test(arguments: [
        (UInt8(0x04), [UInt8]([0xFF, 0xFF, 0xFF, 0xFF, 1, 3])),  // PDV length past the end
        (UInt8(0x04), [UInt8]([0, 0, 0, 1, 1])),  // PDV shorter than its header
        (UInt8(0x04), [UInt8]([0, 0, 0, 2, 2, 3])),  // even context id
        (UInt8(0x04), [UInt8]()),  // no PDV at all
        (UInt8(0x01), [UInt8](repeating: 0, count: 20)),  // RQ shorter than its header
        (UInt8(0x02), [UInt8](repeating: 0, count: 68) + [0x21, 0, 0xFF, 0xFF]),  // item longer than the PDU
        (UInt8(0x05), [UInt8]([0, 0])),  // release of the wrong length
        (UInt8(0x07), [UInt8]([0, 0, 0, 0, 0])),  // abort of the wrong length
        (UInt8(0x0A), [UInt8]([0, 0, 0, 0])),  // unknown type
    ])
    func malformedBodiesAreErrors(type: UInt8, body: [UInt8]) {
        #expect(throws: PDUError.self) { try PDUDecoder.decode(type: type, body: ByteBuffer(bytes: body)) }
    }
}

@Suite(.scratch)
struct CommandSetTests {
    @Test func storeRequestWithPriorityAndMoveOriginator() throws {
        let rq = CommandSet.storeRQ(
            messageID: 7, sopClass: "1.2.840.10008.5.1.4.1.1.2", sopInstance: "1.2.3.4", priority: .high,
            moveOriginator: (aeTitle: "MOVESCU", messageID: 42))
        let decoded = try CommandSet.decode(try rq.encode())
        #expect(decoded.field == .cStoreRQ)
        #expect(decoded.messageID == 7)
        #expect(decoded.priority == Priority.high.rawValue)
        #expect(decoded.moveOriginatorAETitle == "MOVESCU")
        #expect(decoded.moveOriginatorMessageID == 42)
        #expect(decoded.affectedSOPInstanceUID == "1.2.3.4")
        #expect(decoded.hasDataSet)
        // The group length covers the rest of the command (PS3.7 E.1).
        let bytes = try rq.encode()
        let groupLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        #expect(groupLength == bytes.count - 12)
    }

    @Test func responseStatusesAndNames() throws {
        let rsp = CommandSet.storeRSP(
            respondingTo: 7, sopClass: "1.2.840.10008.5.1.4.1.1.2", sopInstance: "1.2.3.4",
            status: DIMSEStatus(0xA701), errorComment: "disk full")
        let decoded = try CommandSet.decode(try rsp.encode())
        #expect(decoded.messageIDBeingRespondedTo == 7)
        #expect(!decoded.hasDataSet)
        #expect(decoded.errorComment == "disk full")
        #expect(decoded.status?.category == .failure)
        #expect(decoded.status?.name == "Refused: Out of resources")
        #expect(DIMSEStatus(0xB007).category == .warning)
        #expect(DIMSEStatus(0xFF00).category == .pending)
        #expect(DIMSEStatus(0x0000).isSuccessOrWarning)
        #expect(!DIMSEStatus(0x0110).isSuccessOrWarning)
        #expect("\(DIMSEStatus(0xC000))" == "0xC000: Error: Cannot understand")
    }
}

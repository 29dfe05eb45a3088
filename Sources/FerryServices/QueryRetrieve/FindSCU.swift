import FerryDICOM
import FerryNetwork

/// C-FIND as the requestor (PS3.4 C.4.1, PS3.7 9.1.2): sends one identifier, reads every
/// pending response's identifier, optionally cancels after N of them (a pending response or
/// the final status may still cross the C-CANCEL-RQ), and returns the final status.
public enum FindSCU {
    /// The largest response identifier read (sequences included): a peer sending more is cut off.
    public static let maxIdentifierLength = 16 << 20

    public struct Final: Sendable {
        public var status: DIMSEStatus
        public var errorComment: String?
        public var responses: Int
    }

    public static func find(
        on association: Association, sopClass: String, identifier: DataSet, priority: Priority = .medium,
        cancelAfter: Int? = nil, onResponse: (Int, DataSet) throws -> Void
    ) async throws -> Final {
        guard let pc = association.acceptedContexts.first(where: { $0.abstractSyntax == sopClass }) else {
            throw AssociationError.noAcceptedContext
        }
        let encoding = Encoding(TransferSyntax.lookup(pc.transferSyntax) ?? .implicitVRLittleEndian)
        let id = association.makeMessageID()
        try await association.sendCommand(
            .queryRQ(.cFindRQ, messageID: id, sopClass: sopClass, priority: priority), contextID: pc.id)
        var source = BytesSource(try DataSetWriter(encoding: encoding).encode(identifier))
        try await association.sendDataSet(contextID: pc.id, source: &source)
        var count = 0
        var cancelled = false
        while true {
            let (rsp, data) = try await readResponse(on: association, to: id, field: .cFindRSP)
            let status = rsp.status ?? DIMSEStatus(0xFFFF)
            guard status.category == .pending else {
                return Final(status: status, errorComment: rsp.errorComment, responses: count)
            }
            count += 1
            if let data {
                do { try onResponse(count, try DataSetDecoder.decode(data, encoding: encoding)) } catch let e
                    as DICOMError
                {
                    throw AssociationError.protocolError("an undecodable C-FIND-RSP identifier: \(e)", underlying: e)
                }
            }
            if let n = cancelAfter, count >= n, !cancelled {
                cancelled = true
                try await association.sendCommand(.cancelRQ(respondingTo: id), contextID: pc.id)
            }
        }
    }

    /// A C-FIND of `keys` whose answers are handed to `each` as they come, none kept. True
    /// when the peer capped them: a final FE00 or A7xx to a query never cancelled (some PACS
    /// cut their answers so, with no status of their own for it). Another failure is a
    /// `ServiceError` naming `peer` ("the destination", "the source").
    public static func findCapped(
        _ keys: [(Tag, VR, String)], on association: Association, sopClass: String, peer: String,
        each: (DataSet) -> Void
    ) async throws -> Bool {
        var identifier = DataSet()
        for (tag, vr, value) in keys { identifier.set(tag, vr, value) }
        let final = try await find(on: association, sopClass: sopClass, identifier: identifier) { _, answer in
            each(answer)
        }
        switch final.status.code {
        case 0x0000: return false
        case 0xFE00, 0xA700...0xA7FF: return true
        default:
            throw ServiceError(
                .refused,
                "\(peer) answered a C-FIND with \(final.status)\(final.errorComment.map { ": \($0.escapedForLog())" } ?? "")",
                status: final.status)
        }
    }

    /// The next response to message `id`, with its data set's bytes when one follows.
    static func readResponse(
        on association: Association, to id: UInt16, field: CommandField, extendWhile extend: () -> Bool = { false }
    ) async throws -> (CommandSet, [UInt8]?) {
        var command: CommandSet?
        var data: [UInt8] = []
        while true {
            let part = try await association.receiveOne(
                timeout: association.timeouts.dimseWait, what: "waiting for \(field.name) (DIMSE timeout)",
                extendWhile: extend)
            do {
                switch part {
                case .command(let c, _):
                    guard command == nil, c.rawField == Int(field.rawValue), c.messageIDBeingRespondedTo == id else {
                        throw AssociationError.protocolError(
                            "expected \(field.name) to message \(id), got command 0x\(String(c.rawField ?? 0, radix: 16))"
                        )
                    }
                    if !c.hasDataSet { return (c, nil) }
                    command = c
                case .data(let fragment, _, let isLast):
                    guard let c = command else {
                        throw AssociationError.protocolError("a data set without its command")
                    }
                    guard data.count + fragment.readableBytes <= maxIdentifierLength else {
                        throw AssociationError.protocolError("a response identifier longer than 16 MiB")
                    }
                    data += fragment.readableBytesView
                    if isLast { return (c, data) }
                case .released:
                    throw AssociationError.releasedByPeer
                case .aborted(let a):
                    throw AssociationError.abortedByPeer(a)
                }
            }
        }
    }
}

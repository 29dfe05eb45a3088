import FerryDICOM
import FerryNetwork
import Logging

/// C-MOVE and C-GET as the requestor (PS3.4 C.4.2, C.4.3): sends the identifier, follows the
/// pending responses' counters, optionally cancels after N of them, and returns the final
/// status with its counters and Failed SOP Instance UID List. C-GET also stores the instances
/// the SCP sends on the same association, as `ferry storescp` does (atomic writes, the same
/// output options), answering each C-STORE-RQ.
public enum RetrieveSCU {
    public struct Final: Sendable {
        public var status: DIMSEStatus
        public var counts: SubOperationCounts
        public var failedInstances: [String]
        public var errorComment: String?
        public var pendingResponses: Int
    }

    public static func move(
        on association: Association, sopClass: String, destination: String, identifier: DataSet,
        priority: Priority = .medium, cancelAfter: Int? = nil,
        onPending: (Int, SubOperationCounts) -> Void = { _, _ in },
        stillArriving: () -> Bool = { false }
    ) async throws -> Final {
        let (pc, encoding, id) = try await send(
            .cMoveRQ, on: association, sopClass: sopClass, destination: destination, identifier: identifier,
            priority: priority)
        var pending = 0
        var cancelled = false
        while true {
            // A source that sends no pending responses is still at work while its sub-operations
            // arrive (`stillArriving`, asked when the DIMSE timeout passes): the wait goes on.
            let (rsp, data) = try await FindSCU.readResponse(
                on: association, to: id, field: .cMoveRSP, extendWhile: stillArriving)
            let status = rsp.status ?? DIMSEStatus(0xFFFF)
            if status.category != .pending { return try final(rsp, data, encoding: encoding, pending: pending) }
            pending += 1
            onPending(pending, rsp.subOperations)
            if let n = cancelAfter, pending >= n, !cancelled {
                cancelled = true
                try await association.sendCommand(.cancelRQ(respondingTo: id), contextID: pc)
            }
        }
    }

    /// C-GET; `output` says where and how the received instances are written, `onStored` hears
    /// of each one kept.
    public static func get(
        on association: Association, sopClass: String, identifier: DataSet, output: StoreOutputOptions,
        priority: Priority = .medium, cancelAfter: Int? = nil, logger: Logger,
        onPending: (Int, SubOperationCounts) -> Void = { _, _ in },
        onStored: (_ sopInstanceUID: String, _ path: String) -> Void = { _, _ in }
    ) async throws -> Final {
        let (pc, encoding, id) = try await send(
            .cGetRQ, on: association, sopClass: sopClass, destination: nil, identifier: identifier, priority: priority)
        let sorting = StudySorting()
        var pending = 0
        var cancelled = false
        var response: (CommandSet, [UInt8])?
        var store: (command: CommandSet, context: UInt8, file: ReceivedFile)?
        while true {
            let part = try await association.receiveOne(
                timeout: association.timeouts.dimseWait, what: "waiting for C-GET-RSP or C-STORE-RQ (DIMSE timeout)")
            switch part {
            case .command(let c, let context) where c.field == .cStoreRQ:
                guard c.hasDataSet, let accepted = association.context(context) else {
                    throw AssociationError.protocolError("C-STORE-RQ without a data set or context")
                }
                let file = ReceivedFile(
                    options: output, sopClass: c.affectedSOPClassUID ?? "", sopInstance: c.affectedSOPInstanceUID ?? "",
                    transferSyntax: TransferSyntax.lookup(accepted.transferSyntax) ?? .implicitVRLittleEndian,
                    callingAE: association.calledAE)
                store = (c, context, file)
            case .command(let c, _) where c.field == .cGetRSP:
                guard c.messageIDBeingRespondedTo == id else {
                    throw AssociationError.protocolError("C-GET-RSP to message \(c.messageIDBeingRespondedTo ?? 0)")
                }
                let status = c.status ?? DIMSEStatus(0xFFFF)
                if c.hasDataSet {
                    response = (c, [])
                } else if status.category == .pending {
                    pending += 1
                    onPending(pending, c.subOperations)
                    if let n = cancelAfter, pending >= n, !cancelled {
                        cancelled = true
                        try await association.sendCommand(.cancelRQ(respondingTo: id), contextID: pc)
                    }
                } else {
                    return try final(c, nil, encoding: encoding, pending: pending)
                }
            case .command(let c, _):
                throw AssociationError.protocolError("unexpected command 0x\(String(c.rawField ?? 0, radix: 16))")
            case .data(let fragment, _, let isLast):
                if let s = store {
                    s.file.append(fragment)
                    guard isLast else { continue }
                    store = nil
                    var status = DIMSEStatus.success
                    var comment: String?
                    do throws(ServiceError) {
                        if let stored = try s.file.commit(sorting: sorting) {
                            logger.info("Stored \(stored.path)")
                            // The file's own SOP Instance UID, checked against the command's.
                            onStored(s.command.affectedSOPInstanceUID ?? "", stored.path)
                        }
                    } catch {
                        status = error.status ?? DIMSEStatus(0xA700)
                        comment = error.message
                        logger.error("Store refused: \(error)")
                    }
                    try await association.sendCommand(
                        .storeRSP(
                            respondingTo: s.command.messageID ?? 0, sopClass: s.command.affectedSOPClassUID ?? "",
                            sopInstance: s.command.affectedSOPInstanceUID ?? "", status: status, errorComment: comment),
                        contextID: s.context)
                } else if let (c, bytes) = response {
                    guard bytes.count + fragment.readableBytes <= FindSCU.maxIdentifierLength else {
                        throw AssociationError.protocolError("a response data set longer than 16 MiB")
                    }
                    let all = bytes + fragment.readableBytesView
                    response = (c, all)
                    guard isLast else { continue }
                    response = nil
                    if c.status?.category != .pending { return try final(c, all, encoding: encoding, pending: pending) }
                    pending += 1
                    onPending(pending, c.subOperations)
                } else {
                    throw AssociationError.protocolError("a data set without its command")
                }
            case .released:
                store?.file.discard()
                throw AssociationError.releasedByPeer
            case .aborted(let a):
                store?.file.discard()
                throw AssociationError.abortedByPeer(a)
            }
        }
    }

    private static func send(
        _ field: CommandField, on association: Association, sopClass: String, destination: String?,
        identifier: DataSet, priority: Priority
    ) async throws -> (UInt8, Encoding, UInt16) {
        guard let pc = association.acceptedContexts.first(where: { $0.abstractSyntax == sopClass }) else {
            throw AssociationError.noAcceptedContext
        }
        let encoding = Encoding(TransferSyntax.lookup(pc.transferSyntax) ?? .implicitVRLittleEndian)
        let id = association.makeMessageID()
        try await association.sendCommand(
            .queryRQ(field, messageID: id, sopClass: sopClass, priority: priority, moveDestination: destination),
            contextID: pc.id)
        var source = BytesSource(try DataSetWriter(encoding: encoding).encode(identifier))
        try await association.sendDataSet(contextID: pc.id, source: &source)
        return (pc.id, encoding, id)
    }

    private static func final(_ rsp: CommandSet, _ data: [UInt8]?, encoding: Encoding, pending: Int) throws -> Final {
        var failed: [String] = []
        if let data, !data.isEmpty, let ds = try? DataSetDecoder.decode(data, encoding: encoding),
            let list = ds.string(QueryKeys.failedSOPInstanceUIDList)
        {
            failed = list.split(separator: "\\").map(String.init)
        }
        return Final(
            status: rsp.status ?? DIMSEStatus(0xFFFF), counts: rsp.subOperations, failedInstances: failed,
            errorComment: rsp.errorComment, pendingResponses: pending)
    }
}

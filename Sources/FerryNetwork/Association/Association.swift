import FerryDICOM
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// An established association, either role: the requestor's (`open`) or the acceptor's
/// (`accept`). One core serves both: one P-DATA fragmenter (`sendCommand`, `sendDataSet`),
/// one receive loop and DIMSE message reader (`receive`), one release and abort, one PS3.8
/// state machine. Used by one task at a time. After any timeout, abort or protocol error it
/// is unusable and every further call fails with `.unusable`.
public final class Association {
    public enum Role: Sendable { case requestor, acceptor }
    public let role: Role
    public let request: AssociateRQ
    public let acceptance: AssociateAC
    public let timeouts: Timeouts
    public let acceptedContexts: [AcceptedContext]
    /// Largest P-DATA-TF variable field we send (peer's maximum, bounded by ours).
    public let sendPDULength: Int
    public let peerDescription: String
    let channel: PDUChannel
    let logger: Logger
    private var machine: UpperLayerStateMachine
    private var nextMessageID: UInt16 = 1
    private let contexts: [UInt8: AcceptedContext]
    /// The reader's state: parts read but not yet taken, a command set in fragments, the
    /// context of the data set being received.
    private var unread: [InboundMessage] = []
    private var command: (contextID: UInt8, bytes: [UInt8])?
    private var dataSetContext: UInt8?
    /// C-CANCEL-RQs that arrived while a response was awaited (an SCP's C-GET sub-operation
    /// waits for C-STORE-RSPs while its requestor may cancel): message IDs they name.
    private var cancels: Set<UInt16> = []

    /// A rate cap this association's data sets share with others (nil: none).
    public var pacer: Pacer?

    public var isUsable: Bool { machine.state == .sta6 }
    /// The event loop of the association's connection.
    public var eventLoop: any EventLoop { channel.channel.eventLoop }

    /// How many operations this side may invoke before their responses: the negotiated
    /// Asynchronous Operations Window (the requestor invokes up to its max-invoked, the
    /// acceptor up to the requestor's max-performed; unlimited taken as 64), else 1.
    public var invokeWindow: Int { operationsWindow(invokedBy: role) }

    private func operationsWindow(invokedBy side: Role) -> Int {
        guard request.userInformation.asyncOperationsWindow != nil,
            let w = acceptance.userInformation.asyncOperationsWindow
        else { return 1 }
        let n = Int(side == .requestor ? w.maxInvoked : w.maxPerformed)
        return n == 0 ? 64 : n
    }
    public var callingAE: String { request.callingAE }
    public var calledAE: String { request.calledAE }

    init(
        role: Role, request: AssociateRQ, acceptance: AssociateAC, ourMaxPDU: UInt32, sendCap: UInt32?,
        timeouts: Timeouts, channel: PDUChannel, machine: UpperLayerStateMachine, peer: String, logger: Logger
    ) {
        self.role = role
        self.request = request
        self.acceptance = acceptance
        self.timeouts = timeouts
        self.channel = channel
        self.machine = machine
        self.peerDescription = peer
        self.logger = logger
        let proposed = Dictionary(
            request.presentationContexts.map { ($0.id, $0.abstractSyntax) }, uniquingKeysWith: { a, _ in a })
        acceptedContexts = acceptance.presentationContexts.compactMap { r in
            guard r.result == .acceptance, let abstract = proposed[r.id] else { return nil }
            return AcceptedContext(id: r.id, abstractSyntax: abstract, transferSyntax: r.transferSyntax)
        }
        contexts = Dictionary(acceptedContexts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        // The peer's maximum (0: none, then ours), never above the ceiling of what we would
        // buffer ourselves: a peer announcing 4 GiB does not make us allocate 4 GiB buffers.
        let peerMax = role == .requestor ? acceptance.userInformation.maxLength : request.userInformation.maxLength
        let ceiling = UInt32(PDUFramer.unlimitedDataCeiling)
        var limit = peerMax == 0 ? (ourMaxPDU == 0 ? ceiling : ourMaxPDU) : min(peerMax, ceiling)
        if let sendCap { limit = min(limit, sendCap) }
        sendPDULength = max(Int(limit), 64)
    }

    public func context(_ id: UInt8) -> AcceptedContext? { contexts[id] }

    /// Connects, negotiates and returns the established association, or throws why not
    /// (connection refused, TLS failure, A-ASSOCIATE-RJ, abort, ACSE timeout).
    public static func open(
        host: String, port: Int, parameters: AssociationParameters, timeouts: Timeouts = Timeouts(),
        tls: TLSClient? = nil, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "ferry.association")
    ) async throws -> Association {
        // The user identity item's fields have 16-bit lengths (PS3.7 D.3.3.7): refused here,
        // not truncated into a malformed PDU.
        if let id = parameters.userIdentity, id.primaryField.count > 0xFFFF || id.secondaryField.count > 0xFFFF {
            throw AssociationError.protocolError("a user identity field longer than 65535 bytes cannot be sent")
        }
        var machine = UpperLayerStateMachine()
        _ = machine.handle(.associateRequest)  // AE-1: issue the transport connect
        var bootstrap = ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.autoRead, value: false)
        if let t = timeouts.connect { bootstrap = bootstrap.connectTimeout(t) }
        let maxPDU = parameters.maxReceivePDU
        let channel: PDUChannel
        do {
            channel = try await bootstrap.connect(host: host, port: port) { ch in
                ch.eventLoop.makeCompletedFuture {
                    if let tls {
                        try ch.pipeline.syncOperations.addHandler(try tls.handler(host: host))
                        try ch.pipeline.syncOperations.addHandler(TLSHandshakeReader())
                    }
                    return try PDUChannel.configure(ch, maxReceivePDU: maxPDU)
                }
            }
        } catch {
            throw AssociationError.plain(error, peer: "\(host):\(port)", .connecting)
        }
        _ = machine.handle(.transportConfirm)  // AE-2: send A-ASSOCIATE-RQ
        let rq = parameters.request
        logger.lines(.debug, "A-ASSOCIATE-RQ:", PDUDump.associateRQ(rq).split(separator: "\n"))
        do {
            try await channel.send(.associateRQ(rq), timeout: timeouts.socket, what: "sending A-ASSOCIATE-RQ")
            let pdu = try await channel.receive(
                timeout: timeouts.acse, what: "waiting for A-ASSOCIATE-AC (ACSE timeout)")
            switch machine.handle(UpperLayerStateMachine.Event(received: pdu)) {
            case .ae3:
                guard case .associateAC(let ac) = pdu else { break }
                logger.lines(
                    .debug, "A-ASSOCIATE-AC:",
                    PDUDump.associateAC(ac, proposed: rq.presentationContexts).split(separator: "\n"))
                return Association(
                    role: .requestor, request: rq, acceptance: ac, ourMaxPDU: parameters.maxReceivePDU,
                    sendCap: parameters.maxSendPDU, timeouts: timeouts, channel: channel, machine: machine,
                    peer: "\(host):\(port)", logger: logger)
            case .ae4:
                await channel.close()
                if case .associateRJ(let rj) = pdu { throw AssociationError.rejected(rj) }
            case .aa3:
                await channel.close()
                if case .abort(let a) = pdu { throw AssociationError.abortedByPeer(a) }
            default:
                break
            }
            // AA-8: anything else during negotiation is a protocol violation.
            await sendAbortAndClose(channel, .unexpectedPDU)
            throw AssociationError.protocolError("unexpected \(pdu.kind) while waiting for A-ASSOCIATE-AC")
        } catch let error as AssociationError {
            await closeAfterError(channel, error)
            throw error
        } catch {
            let cause = await channel.recordedFailure() ?? error
            let mapped = AssociationError.plain(cause, peer: "\(host):\(port)", .during("association negotiation"))
            await closeAfterError(channel, mapped)
            throw mapped
        }
    }

    // MARK: DIMSE

    public func makeMessageID() -> UInt16 {
        defer { nextMessageID = nextMessageID == UInt16.max ? 1 : nextMessageID + 1 }
        return nextMessageID
    }

    /// C-ECHO (PS3.7 9.1.5) on the first accepted Verification context.
    public func echo() async throws -> DIMSEStatus {
        guard let pc = acceptedContexts.first(where: { $0.abstractSyntax == UIDRegistry.verificationSOPClass }) else {
            throw AssociationError.noAcceptedContext
        }
        let id = makeMessageID()
        try await sendCommand(.echoRQ(messageID: id), contextID: pc.id)
        let rsp = try await receiveResponse(to: id, expecting: .cEchoRSP)
        return rsp.status ?? DIMSEStatus(0xFFFF)
    }

    /// C-STORE (PS3.7 9.1.1): sends the command, streams the data set, waits for the response.
    public func store<Source: DataSetSource>(
        sopClass: String, sopInstance: String, contextID: UInt8, data: inout Source,
        priority: Priority = .medium,
        moveOriginator: (aeTitle: String, messageID: UInt16)? = nil
    ) async throws -> CommandSet {
        let id = try await startStore(
            sopClass: sopClass, sopInstance: sopInstance, contextID: contextID, data: &data, priority: priority,
            moveOriginator: moveOriginator)
        let response = try await receiveResponse(to: id, expecting: .cStoreRSP)
        if let named = response.affectedSOPInstanceUID, named != sopInstance {
            throw await fail(
                AssociationError.protocolError(
                    "C-STORE-RSP names SOP Instance UID \(named.prefix(64)), the request \(sopInstance)"), during: "")
        }
        return response
    }

    /// The first half of a C-STORE within an Asynchronous Operations Window: the request and
    /// its data set sent; its response is read later by `nextStoreResponse`. The message ID.
    public func startStore<Source: DataSetSource>(
        sopClass: String, sopInstance: String, contextID: UInt8, data: inout Source,
        priority: Priority = .medium,
        moveOriginator: (aeTitle: String, messageID: UInt16)? = nil
    ) async throws -> UInt16 {
        let id = makeMessageID()
        try await sendCommand(
            .storeRQ(
                messageID: id, sopClass: sopClass, sopInstance: sopInstance, priority: priority,
                moveOriginator: moveOriginator), contextID: contextID)
        try await sendDataSet(contextID: contextID, source: &data)
        return id
    }

    /// The next C-STORE-RSP, in whatever order the peer answers (PS3.7 D.3.3.3); which store
    /// it answers is the send loop's to match (`SendStateMachine`). A C-CANCEL-RQ meanwhile is
    /// kept for `takeCancel`.
    public func nextStoreResponse() async throws -> CommandSet {
        try await nextResponse(.cStoreRSP)
    }

    public func sendCommand(_ command: CommandSet, contextID: UInt8) async throws {
        var source = try encoded(command, contextID: contextID)
        try await sendPDVs(contextID: contextID, isCommand: true, source: &source)
    }

    private func encoded(_ command: CommandSet, contextID: UInt8) throws -> BytesSource {
        try checkUsable()
        logger.trace("sending \(command.field?.name ?? "command") on context \(contextID)")
        do { return BytesSource(try command.encode()) } catch {
            throw AssociationError.protocolError("cannot encode the command set: \(error)", underlying: error)
        }
    }

    /// Sends a response (a command set alone) that may wait to share a socket write with the
    /// next ones while more requests are being read (`PDUChannel.writeHeld`): at most half the
    /// peer's Asynchronous Operations Window are held, so it always has requests left to send.
    /// Without a window of at least 4 it is sent at once, as `sendCommand` does.
    public func sendResponse(_ command: CommandSet, contextID: UInt8) async throws {
        let limit = operationsWindow(invokedBy: role == .acceptor ? .requestor : .acceptor) / 2
        guard limit >= 2 else { return try await sendCommand(command, contextID: contextID) }
        var source = try encoded(command, contextID: contextID)
        guard machine.handle(.dataRequest) == .dt1 else { throw AssociationError.unusable }
        var remaining = source.length
        repeat {
            let buffer = try Self.fill(
                &source, remaining: &remaining, contextID: contextID, isCommand: true, maxFragment: maxFragment,
                perBuffer: perBuffer, allocator: channel.allocator)
            channel.writeHeld(buffer, limit: limit)
        } while remaining > 0
    }

    public func sendDataSet<Source: DataSetSource>(contextID: UInt8, source: inout Source) async throws {
        try await sendPDVs(contextID: contextID, isCommand: false, source: &source)
    }

    /// Sends a command or data set as P-DATA-TF PDUs of at most `sendPDULength`, built
    /// straight into socket buffers of about 256 KiB; one buffer is written while the next
    /// is filled, so memory stays bounded whatever the data set's size. A source that reads
    /// from disk fills its buffers on the `BlockingPool`, never on the event loop.
    private func sendPDVs<Source: DataSetSource>(contextID: UInt8, isCommand: Bool, source: inout Source) async throws {
        guard machine.handle(.dataRequest) == .dt1 else { throw AssociationError.unusable }
        let (maxFragment, perBuffer) = (self.maxFragment, self.perBuffer)
        let allocator = channel.allocator
        var remaining = source.length
        var pendingWrite: EventLoopFuture<Void>?
        var first = true
        do {
            while remaining > 0 || first {
                first = false
                var buffer: ByteBuffer?
                if source.blocks {
                    // From the page cache on the event loop; from the disk on the pool.
                    var attempt = source
                    var left = remaining
                    do {
                        buffer = try Self.fill(
                            &attempt, remaining: &left, contextID: contextID, isCommand: isCommand,
                            maxFragment: maxFragment, perBuffer: perBuffer, allocator: allocator, withoutBlocking: true)
                        (source, remaining) = (attempt, left)
                    } catch is WouldBlock {}
                }
                if let filled = buffer {
                    buffer = filled
                } else if source.blocks {
                    let (filled, advanced, left) = try await BlockingPool.shared.run { [source, remaining] in
                        var (s, r) = (source, remaining)
                        let b = try Self.fill(
                            &s, remaining: &r, contextID: contextID, isCommand: isCommand,
                            maxFragment: maxFragment, perBuffer: perBuffer, allocator: allocator)
                        return (b, s, r)
                    }
                    (buffer, source, remaining) = (filled, advanced, left)
                } else {
                    buffer = try Self.fill(
                        &source, remaining: &remaining, contextID: contextID, isCommand: isCommand,
                        maxFragment: maxFragment, perBuffer: perBuffer, allocator: allocator)
                }
                guard let ready = buffer else { throw AssociationError.protocolError("no data set buffer") }
                if let pacer, !isCommand { try await pacer.admit(ready.readableBytes) }
                if let f = pendingWrite { try await f.get() }
                pendingWrite = channel.write(ready, timeout: timeouts.socket, what: "sending P-DATA (peer not reading)")
            }
            if let f = pendingWrite { try await f.get() }
        } catch {
            if let f = pendingWrite { _ = try? await f.get() }
            throw await fail(error, during: isCommand ? "sending a command" : "sending a data set")
        }
    }

    /// The longest P-DATA fragment: even, as some peers refuse odd ones.
    private var maxFragment: Int { (sendPDULength - 6) & ~1 }
    /// Fragments per socket buffer (about 256 KiB).
    private var perBuffer: Int { max(1, (256 * 1024) / maxFragment) }

    /// One socket buffer of P-DATA-TF PDUs (one PDV each) holding the next bytes of `source`.
    private static func fill<Source: DataSetSource>(
        _ source: inout Source, remaining left: inout Int, contextID: UInt8, isCommand: Bool, maxFragment: Int,
        perBuffer: Int, allocator: ByteBufferAllocator, withoutBlocking: Bool = false
    ) throws -> ByteBuffer {
        var buffer = allocator.buffer(capacity: min(perBuffer, left / maxFragment + 1) * (maxFragment + 12))
        var fragments = 0
        repeat {
            let n = min(maxFragment, left)
            buffer.writeInteger(UInt8(0x04))
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(UInt32(n + 6))
            buffer.writeInteger(UInt32(n + 2))
            buffer.writeInteger(contextID)
            buffer.writeInteger(UInt8((isCommand ? 1 : 0) | (n == left ? 2 : 0)))
            if n > 0 {
                try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: n) { ptr in
                    try source.read(
                        into: UnsafeMutableRawBufferPointer(rebasing: ptr[0..<n]), withoutBlocking: withoutBlocking)
                    return n
                }
            }
            left -= n
            fragments += 1
        } while left > 0 && fragments < perBuffer
        return buffer
    }

    /// Reads until the response to `id` arrives (a command set without a data set).
    func receiveResponse(to id: UInt16, expecting field: CommandField) async throws -> CommandSet {
        let command = try await nextResponse(field)
        guard command.messageIDBeingRespondedTo == id else {
            throw await fail(
                AssociationError.protocolError(
                    "\(field.name) answers message id \(command.messageIDBeingRespondedTo.map(String.init) ?? "none"), expected \(id)"
                ), during: "")
        }
        return command
    }

    /// The next response, which must be a `field` without a data set. A C-CANCEL-RQ that comes
    /// meanwhile is kept for `takeCancel` (PS3.7 9.3.2.3: a cancel may come at any time; its
    /// operation's owner takes it); a data set fragment, a release or an abort ends the wait.
    private func nextResponse(_ field: CommandField) async throws -> CommandSet {
        try checkUsable()
        while true {
            switch try await receiveOne(timeout: timeouts.dimseWait, what: "waiting for \(field.name) (DIMSE timeout)")
            {
            case .command(let command, _) where command.field == .cCancelRQ && field != .cCancelRQ:
                cancels.insert(command.messageIDBeingRespondedTo ?? 0)
            case .command(let command, _):
                guard command.rawField == Int(field.rawValue) else {
                    throw await fail(
                        AssociationError.protocolError(
                            "expected \(field.name), got command field 0x\(String(command.rawField ?? 0, radix: 16))"),
                        during: "")
                }
                guard !command.hasDataSet else {
                    throw await fail(AssociationError.protocolError("\(field.name) with a data set"), during: "")
                }
                return command
            case .data:
                throw await fail(
                    AssociationError.protocolError("unexpected data set fragment while waiting for \(field.name)"),
                    during: "")
            case .released:
                throw AssociationError.releasedByPeer
            case .aborted(let a):
                throw AssociationError.abortedByPeer(a)
            }
        }
    }

    /// Whether a C-CANCEL-RQ for message `id` arrived while a response was awaited (taken once).
    public func takeCancel(respondingTo id: UInt16) -> Bool { cancels.remove(id) != nil }

    /// The next whole DIMSE message: a command set and the bytes of the data set that follows
    /// it, if any (at most `maxDataSet`: a longer one is a protocol error). A release or an
    /// abort by the peer is thrown.
    public func receiveMessage(
        timeout: TimeAmount?, what: String, maxDataSet: Int = 16 << 20
    ) async throws
        -> DIMSEMessage
    {
        var header: (CommandSet, UInt8)?
        var bytes: [UInt8] = []
        while true {
            switch try await receiveOne(timeout: timeout, what: what) {
            case .command(let command, let contextID):
                guard header == nil else {
                    throw await fail(AssociationError.protocolError("a command set inside a message"), during: what)
                }
                if !command.hasDataSet { return DIMSEMessage(command: command, contextID: contextID, dataSet: nil) }
                header = (command, contextID)
            case .data(let fragment, _, let isLast):
                guard let (command, contextID) = header else {
                    throw await fail(AssociationError.protocolError("a data set without its command"), during: what)
                }
                guard bytes.count + fragment.readableBytes <= maxDataSet else {
                    throw await fail(
                        AssociationError.protocolError("a data set longer than \(maxDataSet) bytes"), during: what)
                }
                bytes += fragment.readableBytesView
                if isLast { return DIMSEMessage(command: command, contextID: contextID, dataSet: bytes) }
            case .released:
                throw AssociationError.releasedByPeer
            case .aborted(let a):
                throw AssociationError.abortedByPeer(a)
            }
        }
    }

    /// Parts a caller took with `receive` and has not handled yet: read again before anything
    /// else (a service serving a request sees what came after it, its cancel among them).
    public func putBack(_ parts: ArraySlice<InboundMessage>) {
        unread.insert(contentsOf: parts, at: 0)
    }

    /// The next part of a DIMSE message (one at a time, where `receive` gives a batch).
    public func receiveOne(
        timeout: TimeAmount?, what: String, extendWhile extend: () -> Bool = { false }
    ) async throws -> InboundMessage {
        if unread.isEmpty { unread = try await receive(timeout: timeout, what: what, extendWhile: extend) }
        return unread.removeFirst()
    }

    /// Every message part that has arrived, at least one (waiting up to `timeout`): complete
    /// command sets, the data set fragments that follow them, and the peer's release or
    /// abort (after which the association is closed). A receiver of large data sets takes
    /// them in batches. The reader checks what PS3.7 and PS3.8 require: fragments on accepted
    /// contexts only, a command set whole before its data set, a data set only after a command
    /// that announces one, on the same context.
    /// When `timeout` passes and `extend` says the peer is still at work elsewhere (a C-MOVE
    /// whose sub-operations still arrive on other associations, from a peer that sends no
    /// pending responses), the wait starts again instead of failing.
    public func receive(
        timeout: TimeAmount?, what: String, extendWhile extend: () -> Bool = { false }
    ) async throws -> [InboundMessage] {
        if !unread.isEmpty {
            defer { unread = [] }
            return unread
        }
        try checkUsable()
        while true {
            let batch: [PDU]
            do { batch = try await channel.receiveBatch(timeout: timeout, what: what) } catch let error
                as AssociationError where error.code == .timeout && extend()
            {
                continue
            } catch {
                throw await fail(error, during: what)
            }
            let parts = try await process(batch, what: what)
            if !parts.isEmpty { return parts }
        }
    }

    /// The message parts that have arrived already, without waiting (empty when none has):
    /// how a service in the middle of an operation looks for the peer's C-CANCEL-RQ.
    public func poll() async throws -> [InboundMessage] {
        if !unread.isEmpty {
            defer { unread = [] }
            return unread
        }
        try checkUsable()
        let batch: [PDU]
        do { batch = try await channel.receiveQueued() } catch { throw await fail(error, during: "reading") }
        return try await process(batch, what: "reading")
    }

    /// Whether a message part has arrived, without waiting; what arrived stays to be read.
    public func hasArrived() async throws -> Bool {
        if unread.isEmpty { unread = try await poll() }
        return !unread.isEmpty
    }

    private func process(_ batch: [PDU], what: String) async throws -> [InboundMessage] {
        var parts: [InboundMessage] = []
        for pdu in batch {
            let action = machine.handle(UpperLayerStateMachine.Event(received: pdu))
            switch (pdu, action) {
            case (.data(let pdata), .dt2?):
                for v in pdata.values {
                    do { try read(v, into: &parts) } catch { throw await fail(error, during: what) }
                }
            case (.releaseRQ, .ar2?):
                // The peer ends the association: answer (AR-4) and close.
                _ = machine.handle(.releaseResponse)
                try? await channel.send(.releaseRP, timeout: .seconds(5), what: "sending A-RELEASE-RP")
                await channel.close()
                parts.append(.released)
                return parts
            case (.abort(let a), _):
                await channel.close()
                parts.append(.aborted(a))
                return parts
            default:
                throw await fail(
                    AssociationError.protocolError("unexpected \(pdu.kind) on an established association"),
                    during: what)
            }
        }
        return parts
    }

    private func read(_ v: PDV, into parts: inout [InboundMessage]) throws {
        guard contexts[v.contextID] != nil else {
            throw AssociationError.protocolError("presentation context \(v.contextID) was not accepted")
        }
        if let context = dataSetContext {
            guard !v.isCommand, v.contextID == context else {
                throw AssociationError.protocolError("unexpected fragment inside a data set")
            }
            if v.isLast { dataSetContext = nil }
            parts.append(.data(v.data, contextID: v.contextID, isLast: v.isLast))
            return
        }
        guard v.isCommand else { throw AssociationError.protocolError("data set fragment without a command") }
        var bytes: [UInt8] = []
        if let earlier = command {
            guard earlier.contextID == v.contextID else {
                throw AssociationError.protocolError("command fragments on two presentation contexts")
            }
            bytes = earlier.bytes
        }
        guard bytes.count + v.data.readableBytes <= Self.maxCommandLength else {
            throw AssociationError.protocolError("command set longer than 1 MiB")
        }
        bytes += v.data.readableBytesView
        guard v.isLast else {
            command = (v.contextID, bytes)
            return
        }
        command = nil
        let decoded: CommandSet
        do { decoded = try CommandSet.decode(bytes) } catch {
            throw AssociationError.protocolError("undecodable command set: \(error)", underlying: error)
        }
        if decoded.hasDataSet { dataSetContext = v.contextID }
        parts.append(.command(decoded, contextID: v.contextID))
    }

    /// Command sets are small (a C-FIND identifier travels as a data set): a longer one is a
    /// hostile or broken peer.
    static let maxCommandLength = 1 << 20

    // MARK: Ending

    /// A-RELEASE: waits (ACSE timeout) for the peer's A-RELEASE-RP, then closes.
    public func release() async throws {
        guard machine.handle(.releaseRequest) == .ar1 else { await channel.close(); return }
        do {
            try await channel.send(.releaseRQ, timeout: timeouts.socket, what: "sending A-RELEASE-RQ")
            while true {
                let pdu = try await channel.receive(
                    timeout: timeouts.acse, what: "waiting for A-RELEASE-RP (ACSE timeout)")
                switch machine.handle(UpperLayerStateMachine.Event(received: pdu)) {
                case .ar3?:
                    await channel.close()
                    return
                case .ar8?:
                    // Release collision: we are the requestor, answer and keep waiting for their RP.
                    _ = machine.handle(.releaseResponse)
                    try await channel.send(.releaseRP, timeout: timeouts.socket, what: "sending A-RELEASE-RP")
                case .ar6?:
                    continue  // late P-DATA is ignored while releasing
                case .aa3?:
                    await channel.close()
                    if case .abort(let a) = pdu { throw AssociationError.abortedByPeer(a) }
                    return
                default:
                    throw await fail(
                        AssociationError.protocolError("unexpected \(pdu.kind) while releasing"), during: "")
                }
            }
        } catch let error as AssociationError {
            await channel.close()
            throw error
        } catch {
            throw await fail(error, during: "release")
        }
    }

    /// A-ABORT (service user), then close.
    public func abort() async {
        if machine.handle(.abortRequest) == .aa1 {
            try? await channel.send(.abort(.byUser), timeout: .seconds(2), what: "sending A-ABORT")
        }
        await channel.close()
    }

    // MARK: Errors

    func checkUsable() throws {
        guard isUsable else { throw AssociationError.unusable }
    }

    /// Ends the association after an error (abort PDU where one can still be sent) and
    /// returns the error to throw.
    func fail(_ error: Error, during: String) async -> AssociationError {
        let cause = error is AssociationError ? error : (await channel.recordedFailure() ?? error)
        let mapped = AssociationError.plain(cause, peer: peerDescription, .during(during))
        switch mapped.code {
        case .timeout, .protocolError:
            _ = machine.handle(.abortRequest)
            await Self.closeAfterError(channel, mapped)
        default:
            _ = machine.handle(.transportClosed)
            await channel.close()
        }
        return mapped
    }

    static func closeAfterError(
        _ channel: PDUChannel, _ error: AssociationError
    ) async {
        switch error.code {
        case .timeout, .protocolError:
            let reason = (error.underlying as? PDUError).map { AbortPDU(source: 2, reason: $0.abortReason) } ?? .byUser
            await sendAbortAndClose(channel, reason)
        default:
            await channel.close()
        }
    }

    static func sendAbortAndClose(_ channel: PDUChannel, _ abort: AbortPDU) async {
        try? await channel.send(.abort(abort), timeout: .seconds(2), what: "sending A-ABORT")
        await channel.close()
    }
}

func isIPAddress(_ host: String) -> Bool {
    host.allSatisfy { $0.isNumber || $0 == "." } || host.contains(":")
}

/// A whole DIMSE message: its command and the data set's bytes when one follows.
public struct DIMSEMessage: Sendable {
    public var command: CommandSet
    public var contextID: UInt8
    public var dataSet: [UInt8]?
    public init(command: CommandSet, contextID: UInt8, dataSet: [UInt8]?) {
        self.command = command
        self.contextID = contextID
        self.dataSet = dataSet
    }
}

/// A part of a DIMSE message as the association reader delivers it.
public enum InboundMessage {
    /// A complete command set, on an accepted context.
    case command(CommandSet, contextID: UInt8)
    /// A fragment of the data set that follows the last command.
    case data(ByteBuffer, contextID: UInt8, isLast: Bool)
    /// The peer released the association (answered; the association is closed).
    case released
    /// The peer aborted the association.
    case aborted(AbortPDU)
}

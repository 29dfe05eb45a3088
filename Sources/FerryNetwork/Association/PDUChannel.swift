import NIOCore
import NIOPosix

/// Last handler of an association's pipeline: queues decoded PDUs and hands them out one at
/// a time on request. It reads from the socket only when a PDU is wanted and none is queued
/// (autoRead is off), so a fast sender cannot make us buffer without bound.
final class PDUInbox: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = PDU

    // Confined to the channel's event loop.
    private var queue = CircularBuffer<PDU>()
    private var queuedBytes = 0
    private var failure: Error?
    private var waiter: (promise: EventLoopPromise<[PDU]>, batch: Bool, timer: Scheduled<Void>?)?
    private var context: ChannelHandlerContext?
    /// Responses written but not yet flushed (`hold`).
    private var held = 0
    /// Reading ahead stops once this many bytes of PDUs wait to be taken: a receiver gets
    /// its data in batches (fewer thread hops) while memory per association stays bounded.
    static let readAheadLimit = 1 << 20

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let pdu = unwrapInboundIn(data)
        queue.append(pdu)
        queuedBytes += pdu.approximateSize
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        deliver()
        flushHeldIfIdle()  // a read that completed no PDU: the reader still waits
        // Read on while someone waits (a partial PDU) or while the read-ahead has room.
        if failure == nil, waiter != nil || queuedBytes < Self.readAheadLimit { context.read() }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if failure == nil { failure = error }
        deliver()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if failure == nil { failure = ChannelError.eof }
        deliver()
        context.fireChannelInactive()
    }

    /// The first error the pipeline reported (a TLS handshake failure, a framing error):
    /// the root cause when a write fails only with "channel closed". On the event loop.
    var recordedFailure: Error? { failure is ChannelError ? nil : failure }

    /// The next PDU; fails with `AssociationError.timeout(what)` if none arrives within
    /// `timeout` (the caller then aborts the association). Must be called on the event loop.
    func next(timeout: TimeAmount?, what: String, on loop: EventLoop, batch: Bool = false) -> EventLoopFuture<[PDU]> {
        loop.preconditionInEventLoop()
        let promise = loop.makePromise(of: [PDU].self)
        guard waiter == nil else {
            promise.fail(AssociationError.protocolError("two concurrent receives on one association"))
            return promise.futureResult
        }
        let timer = timeout.map { t in
            loop.scheduleTask(in: t) { [weak self] in
                guard let self, let w = self.waiter else { return }
                self.waiter = nil
                w.promise.fail(AssociationError.timeout(what))
            }
        }
        waiter = (promise, batch, timer)
        let wasFull = queuedBytes >= Self.readAheadLimit
        deliver()
        flushHeldIfIdle()
        if waiter != nil || (wasFull && queuedBytes < Self.readAheadLimit) { context?.read() }
        return promise.futureResult
    }

    /// Writes `buffer` without flushing it while the reader has input to go on with: it goes
    /// out with the next ones when the reader waits and the socket is empty, or when `limit`
    /// are held. On the event loop.
    func hold(_ buffer: ByteBuffer, limit: Int) {
        guard let context else { return }  // removed: the channel is closed
        context.write(NIOAny(buffer), promise: nil)  // a failed write closes the channel
        held += 1
        if held >= limit || waiter != nil { flushHeld() }
    }

    /// SO_MEMINFO (Linux 4.6): an array of UInt32, the first the memory of the socket's
    /// receive queue. NIO reads an option into an Int, so it gets the first two.
    private static let socketMemory = ChannelOptions.Types.SocketOption(
        level: NIOBSDSocket.OptionLevel(rawValue: SOL_SOCKET), name: NIOBSDSocket.Option(rawValue: 55))

    private var socketHasUnreadBytes: Bool {
        guard let options = context?.channel.syncOptions,
            let fields = try? options.getOption(Self.socketMemory)
        else { return false }
        return withUnsafeBytes(of: fields) { $0.load(as: UInt32.self) } > 0
    }

    /// Held responses go once the reader waits and the socket has no bytes to read: the peer
    /// is not sending, and may be waiting for them.
    private func flushHeldIfIdle() {
        if waiter != nil, held > 0, !socketHasUnreadBytes { flushHeld() }
    }

    private func flushHeld() {
        guard held > 0 else { return }
        held = 0
        context?.flush()
    }

    /// The PDUs queued now (none: an empty array), or the recorded failure when nothing is
    /// queued and the connection failed. Must be called on the event loop.
    func takeQueued() throws -> [PDU] {
        let wasFull = queuedBytes >= Self.readAheadLimit
        var out: [PDU] = []
        while let pdu = queue.popFirst() {
            queuedBytes -= pdu.approximateSize
            out.append(pdu)
        }
        if out.isEmpty, let failure { throw failure }
        if wasFull { context?.read() }  // reading had stopped at the read-ahead limit
        return out
    }

    private func deliver() {
        guard let w = waiter else { return }
        if !queue.isEmpty {
            waiter = nil
            w.timer?.cancel()
            var out: [PDU] = []
            repeat {
                if let pdu = queue.popFirst() {
                    queuedBytes -= pdu.approximateSize
                    out.append(pdu)
                }
            } while w.batch && !queue.isEmpty
            w.promise.succeed(out)
        } else if let f = failure {
            waiter = nil
            w.timer?.cancel()
            w.promise.fail(f)
        }
    }
}

/// An open transport connection carrying PDUs: encoded writes, one-at-a-time reads with
/// timeouts. Thread-safe: every operation goes through the channel's event loop.
public final class PDUChannel: Sendable {
    public let channel: Channel
    let inbox: PDUInbox

    init(channel: Channel, inbox: PDUInbox) {
        self.channel = channel
        self.inbox = inbox
    }

    /// Installs the PDU framing and the inbox on a fresh channel (after TLS, if any).
    public static func configure(_ channel: Channel, maxReceivePDU: UInt32) throws -> PDUChannel {
        let inbox = PDUInbox()
        try channel.pipeline.syncOperations.addHandler(PDUFramer(maxPDULength: maxReceivePDU))
        try channel.pipeline.syncOperations.addHandler(inbox)
        return PDUChannel(channel: channel, inbox: inbox)
    }

    public var allocator: ByteBufferAllocator { channel.allocator }

    public func receive(timeout: TimeAmount?, what: String) async throws -> PDU {
        let loop = channel.eventLoop
        let pdus = try await loop.flatSubmit { [inbox] in inbox.next(timeout: timeout, what: what, on: loop) }.get()
        guard let pdu = pdus.first else { throw AssociationError.protocolError("no PDU") }
        return pdu
    }

    /// Every PDU already read (at least one, waiting up to `timeout` for it): a receiver of
    /// large data sets takes them in batches.
    public func receiveBatch(timeout: TimeAmount?, what: String) async throws -> [PDU] {
        let loop = channel.eventLoop
        // On the channel's own loop (where a receiver's task resumes) the inbox is asked directly.
        if loop.inEventLoop { return try await inbox.next(timeout: timeout, what: what, on: loop, batch: true).get() }
        return try await loop.flatSubmit { [inbox] in inbox.next(timeout: timeout, what: what, on: loop, batch: true) }
            .get()
    }

    /// The PDUs read already, without waiting (see `PDUInbox.takeQueued`).
    public func receiveQueued() async throws -> [PDU] {
        if channel.eventLoop.inEventLoop { return try inbox.takeQueued() }
        return try await channel.eventLoop.submit { [inbox] in try inbox.takeQueued() }.get()
    }

    public func send(_ pdu: PDU, timeout: TimeAmount?, what: String) async throws {
        var buffer = channel.allocator.buffer(capacity: 512)
        PDUEncoder.encode(pdu, into: &buffer)
        try await write(buffer, timeout: timeout, what: what).get()
    }

    /// Writes a response the peer can wait for a little (`PDUInbox.hold`): a receiver kept
    /// busy by a windowed sender answers with one socket write per several responses instead
    /// of one each, while a sender that waits for each response gets it as soon as the
    /// receiver waits for input. Not awaitable: nothing would flush it before the reader
    /// waits. A failed write closes the channel, which the next receive reports.
    public func writeHeld(_ buffer: ByteBuffer, limit: Int) {
        let loop = channel.eventLoop
        if loop.inEventLoop {
            inbox.hold(buffer, limit: limit)
        } else {
            loop.execute { [inbox] in inbox.hold(buffer, limit: limit) }
        }
    }

    /// Writes and flushes; the future fails with a timeout (and the channel is closed) if the
    /// peer does not take the bytes within `timeout`.
    public func write(_ buffer: ByteBuffer, timeout: TimeAmount?, what: String) -> EventLoopFuture<Void> {
        let written = channel.writeAndFlush(buffer)
        guard let timeout else { return written }
        let loop = channel.eventLoop
        let promise = loop.makePromise(of: Void.self)
        let channel = self.channel
        let timer = loop.scheduleTask(in: timeout) {
            promise.fail(AssociationError.timeout(what))
            channel.close(promise: nil)
        }
        written.whenComplete { result in
            timer.cancel()
            promise.completeWith(result)
        }
        return promise.futureResult
    }

    /// The root cause of a failure, if the pipeline recorded one.
    public func recordedFailure() async -> Error? {
        try? await channel.eventLoop.submit { [inbox] in inbox.recordedFailure }.get()
    }

    public func close() async {
        try? await channel.close()
    }
}

extension PDU {
    /// Bytes a queued PDU holds (its data fragments; a small constant for the rest).
    var approximateSize: Int {
        if case .data(let p) = self { return p.values.reduce(64) { $0 + $1.data.readableBytes } }
        return 64
    }
}

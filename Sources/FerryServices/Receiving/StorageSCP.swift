import FerryNetwork
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// The receiver: a Storage and Verification SCP serving many associations at once on one
/// event loop group (no fork), each in a task of its own.
public final class StorageSCP: Sendable {
    public let settings: ReceiverSettings
    let logger: Logger
    let sorting = StudySorting()
    let spares = SpareFiles()

    public init(settings: ReceiverSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// Binds and serves until the task is cancelled; returns after closing the listener.
    public func run(onListening: @Sendable (Int) -> Void = { _ in }) async throws {
        defer { spares.removeAll() }
        let maxPDU = settings.maxReceivePDU
        let tls = settings.tls
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.recvAllocator, value: ReceiveBuffer.reads)
            .bind(host: settings.host, port: settings.port) { child in
                child.eventLoop.makeCompletedFuture {
                    if let size = ReceiveBuffer.size {
                        try child.syncOptions?.setOption(.socketOption(.so_rcvbuf), value: size)
                    }
                    if let tls {
                        try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        try child.pipeline.syncOperations.addHandler(TLSHandshakeReader())
                    }
                    return try PDUChannel.configure(child, maxReceivePDU: maxPDU)
                }
            }
        onListening(server.channel.localAddress?.port ?? settings.port)
        logger.info(
            "listening on \(settings.host):\(server.channel.localAddress?.port ?? settings.port) as \(settings.policy.aeTitle)"
        )
        try await withThrowingDiscardingTaskGroup { group in
            if let timeout = settings.hooks.endOfStudyTimeout, settings.hooks.needsStudyTracking {
                group.addTask { [self] in
                    // Checked ten times per timeout (at most once a second), so a study ends
                    // between 1.0 and 1.1 timeouts after its last instance.
                    let tick = min(timeout.nanoseconds / 10, 1_000_000_000)
                    while !Task.isCancelled {
                        try await Task.sleep(for: .nanoseconds(tick))
                        if let study = sorting.expire(after: .nanoseconds(timeout.nanoseconds)) {
                            settings.hooks.studyCompleted(
                                study, callingAE: "", calledAE: settings.policy.aeTitle, peer: "", logger: logger)
                        }
                    }
                }
            }
            let (limits, lowered) = DescriptorBudget.fit(settings.limits)
            if let lowered { logger.warning("\(lowered)") }
            let associations = AssociationCount(limits)
            let waiting = WaitingConnections(
                limit: limits.maxWaitingConnections, grace: limits.waitingGrace, logger: logger)
            try await server.executeThenClose { inbound in
                for try await connection in inbound {
                    let remote = connection.channel.remoteAddress
                    let host = remote?.ipAddress ?? "?"
                    // Waits while the waiting connections are at their limit: accepting pauses
                    // and the listen backlog holds the next ones.
                    let ticket = await waiting.admit(connection.channel)
                    let gate = AcceptorSession.Gate(associations: associations, waiting: waiting, ticket: ticket)
                    group.addTask { [self] in
                        await AcceptorSession(
                            channel: connection, settings: settings, sorting: sorting, spares: spares, logger: logger,
                            peerHost: host, peerPort: remote?.port ?? 0, gate: gate
                        ).run()
                    }
                }
            }
        }
    }
}

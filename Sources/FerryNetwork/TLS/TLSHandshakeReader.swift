import NIOCore
import NIOTLS

/// Association channels read only on demand (autoRead off), but a TLS handshake needs reads
/// nobody asked for: this handler keeps reading until the handshake completes, then leaves.
public final class TLSHandshakeReader: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    public typealias InboundIn = NIOAny

    public init() {}

    public func channelActive(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelActive()
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { context.read() }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelReadComplete()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}

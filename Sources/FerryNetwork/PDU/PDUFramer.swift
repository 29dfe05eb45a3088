import NIOCore

/// Splits the TCP stream into PDUs. The 6-byte header is checked before anything else is
/// read: a PDU longer than this side's limit is refused without reading or allocating it.
///
/// A PDU that lies whole in one read goes on as a view of that read's buffer; only one that
/// straddles reads is copied, into a buffer of its own size. (NIO's ByteToMessageHandler
/// appended nearly every read to one cumulation buffer and compacted it: 6% of a receiver's
/// CPU in memmove.) After a framing error nothing more is read from the stream.
public final class PDUFramer: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = PDU

    /// Largest P-DATA-TF PDU accepted when our maximum length is 0 (unlimited): a 4 GiB
    /// length is still refused.
    public static let unlimitedDataCeiling = 64 * 1024 * 1024

    /// Largest P-DATA-TF PDU accepted (its variable field).
    let maxDataLength: Int
    /// Largest association-setup PDU accepted (A-ASSOCIATE-RQ/AC with many contexts or a
    /// SAML assertion can exceed the data limit).
    let maxAssociateLength: Int

    /// The first bytes of a PDU that the next reads complete (perhaps only part of its header).
    private var partial: ByteBuffer?
    private var failed = false

    public init(maxPDULength: UInt32, maxAssociateLength: Int = 1 << 20) {
        self.maxDataLength = maxPDULength == 0 ? Self.unlimitedDataCeiling : Int(maxPDULength)
        self.maxAssociateLength = maxAssociateLength
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var input = unwrapInboundIn(data)
        do {
            if partial != nil {
                try complete(from: &input, context: context)
                if partial != nil { return }  // this read went into it, all of it
            }
            var nextSize = 6  // of the PDU that begins in this read and ends in a later one
            while let (type, length) = try header(of: input) {
                guard input.readableBytes >= 6 + length else {
                    nextSize = 6 + length
                    break
                }
                input.moveReaderIndex(forwardBy: 6)
                guard let body = input.readSlice(length: length) else { break }
                context.fireChannelRead(wrapInboundOut(try PDUDecoder.decode(type: type, body: body)))
            }
            if input.readableBytes > 0 {
                // The start of the next PDU, kept in a buffer of its size (its header, when
                // whole, was checked above), so the reads that complete it are copied once.
                var kept = context.channel.allocator.buffer(capacity: nextSize)
                kept.writeBuffer(&input)
                partial = kept
            }
        } catch {
            failed = true
            partial = nil
            context.fireErrorCaught(error)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if !failed, let rest = partial, rest.readableBytes > 0 {
            failed = true
            partial = nil
            context.fireErrorCaught(
                PDUError(
                    "connection closed inside a PDU (\(rest.readableBytes) bytes of an incomplete PDU)", abortReason: 0)
            )
        }
        context.fireChannelInactive()
    }

    /// Moves bytes of `input` into the partial PDU, and hands the PDU on once it is whole.
    private func complete(from input: inout ByteBuffer, context: ChannelHandlerContext) throws {
        guard var p = partial else { return }
        if p.readableBytes < 6, var head = input.readSlice(length: min(6 - p.readableBytes, input.readableBytes)) {
            p.writeBuffer(&head)
        }
        guard let (type, length) = try header(of: p) else {
            partial = p
            return
        }
        p.reserveCapacity(6 + length)  // checked against the limit by header(of:)
        let missing = 6 + length - p.readableBytes
        if var more = input.readSlice(length: min(missing, input.readableBytes)) {
            p.writeBuffer(&more)
        }
        guard p.readableBytes == 6 + length else {
            partial = p
            return
        }
        partial = nil
        p.moveReaderIndex(forwardBy: 6)
        context.fireChannelRead(wrapInboundOut(try PDUDecoder.decode(type: type, body: p)))
    }

    /// The type and length of the PDU starting at `buffer`'s reader index, nil while its
    /// header is incomplete; an unknown type or a length over the limit is refused.
    private func header(of buffer: ByteBuffer) throws(PDUError) -> (type: UInt8, length: Int)? {
        guard buffer.readableBytes >= 6,
            let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt32.self)
        else { return nil }
        let limit: Int
        switch type {
        case 0x04: limit = maxDataLength
        case 0x01, 0x02, 0x03: limit = maxAssociateLength
        case 0x05, 0x06, 0x07: limit = 4
        default: throw PDUError("unrecognized PDU type 0x\(PDUDecoder.hex(type))", abortReason: 1)
        }
        guard Int(length) <= limit else {
            throw PDUError(
                "PDU type 0x\(PDUDecoder.hex(type)) announces \(length) bytes, more than the limit of \(limit); refused before reading it",
                abortReason: 6)
        }
        return (type, Int(length))
    }
}

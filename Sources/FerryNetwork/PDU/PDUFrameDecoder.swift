import NIOCore

/// Splits the TCP stream into PDUs. The 6-byte header is checked before anything else is
/// read: a PDU longer than this side's limit is refused without reading or allocating it.
public struct PDUFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = PDU

    /// Largest P-DATA-TF PDU accepted: our maximum length (the variable field) or, when that
    /// is 0 (unlimited), a fixed ceiling so that a 4 GiB length is still refused.
    public let maxDataLength: Int
    /// Largest association-setup PDU accepted (A-ASSOCIATE-RQ/AC with many contexts or a
    /// SAML assertion can exceed the data limit).
    public let maxAssociateLength: Int

    public static let unlimitedDataCeiling = 64 * 1024 * 1024

    public init(maxPDULength: UInt32, maxAssociateLength: Int = 1 << 20) {
        self.maxDataLength = maxPDULength == 0 ? Self.unlimitedDataCeiling : Int(maxPDULength)
        self.maxAssociateLength = maxAssociateLength
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes >= 6,
            let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt32.self)
        else { return .needMoreData }
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
        guard buffer.readableBytes >= 6 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 6)
        guard let body = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(try PDUDecoder.decode(type: type, body: body)))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            throw PDUError(
                "connection closed inside a PDU (\(buffer.readableBytes) bytes of an incomplete PDU)", abortReason: 0)
        }
        return .needMoreData
    }
}

import NIOCore

/// Writes PDUs in their PS3.8 9.3 binary form (big endian lengths, space-padded AE titles).
public enum PDUEncoder {
    public static func encode(_ pdu: PDU, into buffer: inout ByteBuffer) {
        buffer.writeInteger(pdu.kind.rawValue)
        buffer.writeInteger(UInt8(0))
        let lengthAt = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        switch pdu {
        case .associateRQ(let rq):
            writeAssociateHeader(rq.protocolVersion, called: rq.calledAE, calling: rq.callingAE, into: &buffer)
            writeItem(0x10, &buffer) { $0.writeString(rq.applicationContext) }
            for pc in rq.presentationContexts {
                writeItem(0x20, &buffer) { b in
                    b.writeInteger(pc.id)
                    b.writeRepeatingByte(0, count: 3)  // reserved
                    writeItem(0x30, &b) { $0.writeString(pc.abstractSyntax) }
                    for ts in pc.transferSyntaxes { writeItem(0x40, &b) { $0.writeString(ts) } }
                }
            }
            writeUserInformation(rq.userInformation, into: &buffer)
        case .associateAC(let ac):
            writeAssociateHeader(ac.protocolVersion, called: ac.calledAE, calling: ac.callingAE, into: &buffer)
            writeItem(0x10, &buffer) { $0.writeString(ac.applicationContext) }
            for pc in ac.presentationContexts {
                writeItem(0x21, &buffer) { b in
                    b.writeInteger(pc.id)
                    b.writeInteger(UInt8(0))
                    b.writeInteger(pc.result.rawValue)
                    b.writeInteger(UInt8(0))
                    writeItem(0x40, &b) { $0.writeString(pc.transferSyntax) }
                }
            }
            writeUserInformation(ac.userInformation, into: &buffer)
        case .associateRJ(let rj):
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(rj.result)
            buffer.writeInteger(rj.source)
            buffer.writeInteger(rj.reason)
        case .data(let pdata):
            for v in pdata.values {
                buffer.writeInteger(UInt32(v.data.readableBytes + 2))
                buffer.writeInteger(v.contextID)
                buffer.writeInteger(UInt8((v.isCommand ? 1 : 0) | (v.isLast ? 2 : 0)))
                var data = v.data
                buffer.writeBuffer(&data)
            }
        case .releaseRQ, .releaseRP:
            buffer.writeInteger(UInt32(0))
        case .abort(let a):
            buffer.writeInteger(UInt16(0))
            buffer.writeInteger(a.source)
            buffer.writeInteger(a.reason)
        }
        buffer.setInteger(UInt32(buffer.writerIndex - lengthAt - 4), at: lengthAt)
    }

    public static func encode(_ pdu: PDU, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var b = allocator.buffer(capacity: 256)
        encode(pdu, into: &b)
        return b
    }

    static func aeTitleBytes(_ ae: String) -> [UInt8] {
        var bytes = Array(ae.utf8.prefix(16))
        while bytes.count < 16 { bytes.append(0x20) }
        return bytes
    }

    private static func writeAssociateHeader(
        _ version: UInt16, called: String, calling: String, into b: inout ByteBuffer
    ) {
        b.writeInteger(version)
        b.writeInteger(UInt16(0))
        b.writeBytes(aeTitleBytes(called))
        b.writeBytes(aeTitleBytes(calling))
        b.writeRepeatingByte(0, count: 32)
    }

    /// Writes an item header (type, reserved, 16-bit length) around what `body` writes.
    private static func writeItem(_ type: UInt8, _ b: inout ByteBuffer, _ body: (inout ByteBuffer) -> Void) {
        b.writeInteger(type)
        b.writeInteger(UInt8(0))
        let lengthAt = b.writerIndex
        b.writeInteger(UInt16(0))
        body(&b)
        b.setInteger(UInt16(truncatingIfNeeded: b.writerIndex - lengthAt - 2), at: lengthAt)
    }

    private static func writeUID(_ uid: String, _ b: inout ByteBuffer) {
        b.writeInteger(UInt16(uid.utf8.count))
        b.writeString(uid)
    }

    private static func writeUserInformation(_ u: UserInformation, into b: inout ByteBuffer) {
        writeItem(0x50, &b) { b in
            writeItem(0x51, &b) { $0.writeInteger(u.maxLength) }
            writeItem(0x52, &b) { $0.writeString(u.implementationClassUID) }
            if let w = u.asyncOperationsWindow {
                writeItem(0x53, &b) {
                    $0.writeInteger(w.maxInvoked); $0.writeInteger(w.maxPerformed)
                }
            }
            for r in u.roleSelections {
                writeItem(0x54, &b) { b in
                    writeUID(r.sopClass, &b)
                    b.writeInteger(UInt8(r.scu ? 1 : 0))
                    b.writeInteger(UInt8(r.scp ? 1 : 0))
                }
            }
            if let name = u.implementationVersionName {
                writeItem(0x55, &b) { $0.writeString(name) }
            }
            for e in u.extendedNegotiations {
                writeItem(0x56, &b) { b in
                    writeUID(e.sopClass, &b)
                    b.writeBytes(e.info)
                }
            }
            for item in u.otherItems {
                writeItem(item.type, &b) { $0.writeBytes(item.bytes) }
            }
            if let id = u.userIdentity {
                writeItem(0x58, &b) { b in
                    b.writeInteger(id.kind.rawValue)
                    b.writeInteger(UInt8(id.positiveResponseRequested ? 1 : 0))
                    b.writeInteger(UInt16(truncatingIfNeeded: id.primaryField.count))
                    b.writeBytes(id.primaryField)
                    b.writeInteger(UInt16(truncatingIfNeeded: id.secondaryField.count))
                    b.writeBytes(id.secondaryField)
                }
            }
            if let response = u.userIdentityResponse {
                writeItem(0x59, &b) { b in
                    b.writeInteger(UInt16(truncatingIfNeeded: response.count))
                    b.writeBytes(response)
                }
            }
        }
    }
}

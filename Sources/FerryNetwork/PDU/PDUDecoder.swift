import NIOCore

/// Why a PDU does not follow PS3.8 9.3, and the A-ABORT reason it is answered with (Evt19).
/// The decoder's own result: an association reports it as the `underlying` cause of an
/// `AssociationError` (`.protocolError`), the module's one error.
public struct PDUError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String
    /// The A-ABORT reason to send back (PS3.8 Table 9-26).
    public var abortReason: UInt8
    public init(_ message: String, abortReason: UInt8 = 6) {
        self.message = message
        self.abortReason = abortReason
    }
    public var description: String { message }
}

/// Decodes one PDU from its type and body (the bytes after the 6-byte header).
/// Every length is checked against the bytes that remain; nothing is trusted.
public enum PDUDecoder {
    public static func decode(type: UInt8, body: ByteBuffer) throws(PDUError) -> PDU {
        var b = body
        switch type {
        case 0x01:
            let h = try associateHeader(&b)
            var rq = AssociateRQ(
                calledAE: h.called, callingAE: h.calling, presentationContexts: [],
                userInformation: UserInformation(
                    maxLength: 0, implementationClassUID: "", implementationVersionName: nil))
            rq.protocolVersion = h.version
            var sawUserInfo = false
            try forEachItem(&b) { (itemType, item) throws(PDUError) in
                var item = item
                switch itemType {
                case 0x10: rq.applicationContext = uidString(item)
                case 0x20: rq.presentationContexts.append(try proposal(&item))
                case 0x50: rq.userInformation = try userInformation(&item); sawUserInfo = true
                default: throw PDUError("A-ASSOCIATE-RQ: unexpected item type 0x\(hex(itemType))", abortReason: 5)
                }
            }
            guard sawUserInfo else { throw PDUError("A-ASSOCIATE-RQ without a user information item", abortReason: 6) }
            return .associateRQ(rq)
        case 0x02:
            let h = try associateHeader(&b)
            var ac = AssociateAC(
                calledAE: h.called, callingAE: h.calling, presentationContexts: [],
                userInformation: UserInformation(
                    maxLength: 0, implementationClassUID: "", implementationVersionName: nil))
            ac.protocolVersion = h.version
            try forEachItem(&b) { (itemType, item) throws(PDUError) in
                var item = item
                switch itemType {
                case 0x10: ac.applicationContext = uidString(item)
                case 0x21: ac.presentationContexts.append(try result(&item))
                case 0x50: ac.userInformation = try userInformation(&item)
                default: throw PDUError("A-ASSOCIATE-AC: unexpected item type 0x\(hex(itemType))", abortReason: 5)
                }
            }
            return .associateAC(ac)
        case 0x03:
            guard b.readableBytes >= 4, let bytes = b.readBytes(length: 4) else {
                throw PDUError("A-ASSOCIATE-RJ shorter than 4 bytes")
            }
            return .associateRJ(AssociateRJ(result: bytes[1], source: bytes[2], reason: bytes[3]))
        case 0x04:
            var values: [PDV] = []
            while b.readableBytes > 0 {
                guard let length = b.readInteger(as: UInt32.self) else {
                    throw PDUError("P-DATA-TF: truncated PDV length")
                }
                guard length >= 2, Int(length) <= b.readableBytes else {
                    throw PDUError("P-DATA-TF: PDV length \(length) does not fit the \(b.readableBytes) bytes left")
                }
                guard let id = b.readInteger(as: UInt8.self), let header = b.readInteger(as: UInt8.self),
                    let data = b.readSlice(length: Int(length) - 2)
                else { throw PDUError("P-DATA-TF: truncated PDV") }
                guard id & 1 == 1 else { throw PDUError("P-DATA-TF: even presentation context id \(id)") }
                values.append(PDV(contextID: id, isCommand: header & 1 == 1, isLast: header & 2 == 2, data: data))
            }
            guard !values.isEmpty else { throw PDUError("P-DATA-TF without any PDV") }
            return .data(PDataTF(values: values))
        case 0x05, 0x06:
            guard b.readableBytes == 4 else { throw PDUError("A-RELEASE PDU of length \(b.readableBytes), expected 4") }
            return type == 0x05 ? .releaseRQ : .releaseRP
        case 0x07:
            guard b.readableBytes == 4, let bytes = b.readBytes(length: 4) else {
                throw PDUError("A-ABORT PDU of length \(b.readableBytes), expected 4")
            }
            return .abort(AbortPDU(source: bytes[2], reason: bytes[3]))
        default:
            throw PDUError("unrecognized PDU type 0x\(hex(type))", abortReason: 1)
        }
    }

    static func hex(_ v: UInt8) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return s.count == 1 ? "0" + s : s
    }

    private static func associateHeader(
        _ b: inout ByteBuffer
    ) throws(PDUError) -> (version: UInt16, called: String, calling: String) {
        guard b.readableBytes >= 68, let version = b.readInteger(as: UInt16.self),
            b.readInteger(as: UInt16.self) != nil,
            let called = b.readBytes(length: 16), let calling = b.readBytes(length: 16), b.readBytes(length: 32) != nil
        else {
            throw PDUError("A-ASSOCIATE PDU shorter than its 68-byte header")
        }
        return (version, aeTitle(called), aeTitle(calling))
    }

    static func aeTitle(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: " \0")
    }

    /// UIDs in items may be padded with a trailing NUL (PS3.8 9.3.2.2.1 says not, some peers do).
    private static func uidString(_ b: ByteBuffer) -> String {
        String(decoding: b.readableBytesView, as: UTF8.self).trimmingCharacters(in: " \0")
    }

    private static func forEachItem(
        _ b: inout ByteBuffer, _ body: (UInt8, ByteBuffer) throws(PDUError) -> Void
    ) throws(PDUError) {
        while b.readableBytes > 0 {
            guard let type = b.readInteger(as: UInt8.self), b.readInteger(as: UInt8.self) != nil,
                let length = b.readInteger(as: UInt16.self)
            else { throw PDUError("truncated item header") }
            guard let item = b.readSlice(length: Int(length)) else {
                throw PDUError("item 0x\(hex(type)) of length \(length) does not fit the \(b.readableBytes) bytes left")
            }
            try body(type, item)
        }
    }

    private static func proposal(_ b: inout ByteBuffer) throws(PDUError) -> PresentationContextProposal {
        guard let id = b.readInteger(as: UInt8.self), b.readBytes(length: 3) != nil else {
            throw PDUError("truncated presentation context item")
        }
        var pc = PresentationContextProposal(id: id, abstractSyntax: "", transferSyntaxes: [])
        var abstractSyntaxes = 0
        try forEachItem(&b) { (type, item) throws(PDUError) in
            switch type {
            case 0x30: pc.abstractSyntax = uidString(item); abstractSyntaxes += 1
            case 0x40: pc.transferSyntaxes.append(uidString(item))
            default: throw PDUError("presentation context \(id): unexpected sub-item 0x\(hex(type))", abortReason: 5)
            }
        }
        guard abstractSyntaxes == 1 else {
            throw PDUError("presentation context \(id) has \(abstractSyntaxes) abstract syntaxes")
        }
        return pc
    }

    private static func result(_ b: inout ByteBuffer) throws(PDUError) -> PresentationContextResult {
        guard let id = b.readInteger(as: UInt8.self), b.readInteger(as: UInt8.self) != nil,
            let raw = b.readInteger(as: UInt8.self), b.readInteger(as: UInt8.self) != nil
        else {
            throw PDUError("truncated presentation context result item")
        }
        guard let result = PresentationContextResult.Result(rawValue: raw) else {
            throw PDUError("presentation context \(id): result/reason \(raw) is not defined")
        }
        var ts = ""
        try forEachItem(&b) { (type, item) throws(PDUError) in
            guard type == 0x40 else {
                throw PDUError("presentation context result \(id): unexpected sub-item 0x\(hex(type))", abortReason: 5)
            }
            ts = uidString(item)
        }
        return PresentationContextResult(id: id, result: result, transferSyntax: ts)
    }

    private static func readUID(_ b: inout ByteBuffer) throws(PDUError) -> String {
        guard let n = b.readInteger(as: UInt16.self), let bytes = b.readSlice(length: Int(n)) else {
            throw PDUError("truncated UID in a user information sub-item")
        }
        return uidString(bytes)
    }

    private static func userInformation(_ b: inout ByteBuffer) throws(PDUError) -> UserInformation {
        var u = UserInformation(maxLength: 0, implementationClassUID: "", implementationVersionName: nil)
        try forEachItem(&b) { (type, item) throws(PDUError) in
            var item = item
            switch type {
            case 0x51:
                guard let v = item.readInteger(as: UInt32.self) else {
                    throw PDUError("maximum length sub-item shorter than 4 bytes")
                }
                u.maxLength = v
            case 0x52: u.implementationClassUID = uidString(item)
            case 0x53:
                guard let i = item.readInteger(as: UInt16.self), let p = item.readInteger(as: UInt16.self) else {
                    throw PDUError("asynchronous operations window sub-item shorter than 4 bytes")
                }
                u.asyncOperationsWindow = AsyncOperationsWindow(maxInvoked: i, maxPerformed: p)
            case 0x54:
                let uid = try readUID(&item)
                guard let scu = item.readInteger(as: UInt8.self), let scp = item.readInteger(as: UInt8.self) else {
                    throw PDUError("truncated SCP/SCU role selection sub-item")
                }
                u.roleSelections.append(RoleSelection(sopClass: uid, scu: scu == 1, scp: scp == 1))
            case 0x55: u.implementationVersionName = uidString(item)
            case 0x56:
                let uid = try readUID(&item)
                u.extendedNegotiations.append(ExtendedNegotiation(sopClass: uid, info: Array(item.readableBytesView)))
            case 0x58:
                guard let kindRaw = item.readInteger(as: UInt8.self), let positive = item.readInteger(as: UInt8.self),
                    let n1 = item.readInteger(as: UInt16.self), let primary = item.readBytes(length: Int(n1)),
                    let n2 = item.readInteger(as: UInt16.self), let secondary = item.readBytes(length: Int(n2))
                else {
                    throw PDUError("truncated user identity sub-item")
                }
                guard let kind = UserIdentity.Kind(rawValue: kindRaw) else {
                    throw PDUError("user identity type \(kindRaw) is not defined")
                }
                u.userIdentity = UserIdentity(
                    kind: kind, positiveResponseRequested: positive == 1, primaryField: primary,
                    secondaryField: secondary)
            case 0x59:
                guard let n = item.readInteger(as: UInt16.self), let response = item.readBytes(length: Int(n)) else {
                    throw PDUError("truncated user identity response sub-item")
                }
                u.userIdentityResponse = response
            default:
                u.otherItems.append(UnknownItem(type: type, bytes: Array(item.readableBytesView)))
            }
        }
        return u
    }
}

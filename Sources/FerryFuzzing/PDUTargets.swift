import Dispatch
import FerryDICOM
import FerryNetwork
import FerryServices
import Glibc
import Logging
import Synchronization

/// PDU streams against Ferry's two roles over loopback sockets, through the real association
/// code: `acceptor` sends a stream to a `StorageSCP` in the process; `requestor` answers an
/// association that Ferry opens (C-ECHO, then a C-STORE) with a stream. Byte 0 chooses raw
/// bytes (even) or PDUs built from the input (odd): an A-ASSOCIATE-RQ or -AC with fields from
/// the input, then P-DATA with command sets and data fragments, release, abort or raw PDUs.
extension FuzzTarget {
    public static let acceptor = FuzzTarget(
        name: "acceptor", summary: "the storage SCP's association, from PDU bytes a requestor sends",
        seeds: { (0..<8).map { i in [1] + (0..<160).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ i &* 7) } } }
    ) { bytes in
        var input = FuzzInput(bytes)
        let stream = input.byte() & 1 == 0 ? input.rest : PDUStream.request(&input) + PDUStream.messages(&input)
        Loopback.exchange(port: AcceptorUnderTest.shared.port, send: stream)
    }

    public static let requestor = FuzzTarget(
        name: "requestor", summary: "the sender's association, from PDU bytes an acceptor answers",
        seeds: { (0..<8).map { i in [1] + (0..<160).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i &* 5) } } }
    ) { bytes in
        RequestorUnderTest.shared.answer(bytes)
    }
}

/// PDUs (PS3.8 9.3) built from fuzz input.
enum PDUStream {
    static let abstractSyntaxes = [
        UIDRegistry.verificationSOPClass, "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.2", "1.2.3",
    ]
    static let transferSyntaxes = [
        "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.5",
    ]

    static func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func u32(_ v: Int) -> [UInt8] { u16(v >> 16) + u16(v & 0xFFFF) }
    static func item(_ type: UInt8, _ body: [UInt8]) -> [UInt8] { [type, 0] + u16(body.count) + body }
    static func pdu(_ type: UInt8, _ body: [UInt8]) -> [UInt8] { [type, 0] + u32(body.count) + body }
    static func text(_ input: inout FuzzInput, _ choices: [String]) -> [UInt8] {
        let i = input.int(0...choices.count)
        return i < choices.count ? Array(choices[i].utf8) : input.bytes(input.int(0...70))
    }

    static func userInformation(_ input: inout FuzzInput) -> [UInt8] {
        let maxLength = [16384, 0, 1, 0xFFFF_FFFF, input.int(0...0xFFFF)][input.int(0...4)]
        var body = item(0x51, u32(maxLength)) + item(0x52, Array("1.2.3.4".utf8))
        if input.bool() { body += item(0x55, text(&input, ["FUZZ"])) }
        if input.bool() { body += item(0x53, u16(input.int(0...4)) + u16(input.int(0...4))) }
        if input.bool() {
            let uid = text(&input, abstractSyntaxes)
            body += item(0x54, u16(uid.count) + uid + [input.byte(), input.byte()])
        }
        if input.bool() {
            let primary = input.bytes(input.int(0...40)), secondary = input.bytes(input.int(0...40))
            body += item(
                0x58, [input.byte(), input.byte()] + u16(primary.count) + primary + u16(secondary.count) + secondary)
        }
        return item(0x50, body)
    }

    static func header(_ input: inout FuzzInput) -> [UInt8] {
        let ae = { (input: inout FuzzInput) -> [UInt8] in
            input.bool() ? Array("FUZZ            ".utf8) : (0..<16).map { _ in input.byte() }
        }
        return u16(input.bool() ? 1 : input.int(0...3)) + [0, 0] + ae(&input) + ae(&input)
            + [UInt8](repeating: 0, count: 32)
            + item(0x10, text(&input, ["1.2.840.10008.3.1.1.1"]))
    }

    /// An A-ASSOCIATE-RQ of one to four contexts.
    static func request(_ input: inout FuzzInput) -> [UInt8] {
        var body = header(&input)
        for i in 0..<input.int(1...4) {
            var pc = [input.bool() ? UInt8(2 * i + 1) : input.byte(), 0, 0, 0]
            pc += item(0x30, text(&input, abstractSyntaxes))
            for _ in 0..<input.int(0...3) { pc += item(0x40, text(&input, transferSyntaxes)) }
            body += item(0x20, pc)
        }
        return pdu(0x01, body + userInformation(&input))
    }

    /// An A-ASSOCIATE-AC answering contexts 1 and 3 (what RequestorUnderTest proposes).
    static func acceptance(_ input: inout FuzzInput) -> [UInt8] {
        var body = header(&input)
        for id in [1, 3] {
            let result = [0, 0, 3, input.byte()][input.int(0...3)]
            body += item(
                0x21,
                [input.bool() ? UInt8(id) : input.byte(), 0, result, 0] + item(0x40, text(&input, transferSyntaxes)))
        }
        return pdu(0x02, body + userInformation(&input))
    }

    /// A command set (implicit VR little endian) like a C-ECHO or C-STORE request or response.
    static func command(_ input: inout FuzzInput) -> [UInt8] {
        func el(_ e: Int, _ v: [UInt8]) -> [UInt8] {
            var value = v
            if value.count % 2 == 1 { value.append(0) }
            return [0, 0, UInt8(e & 0xFF), UInt8(e >> 8)]
                + (0..<4).map { UInt8(truncatingIfNeeded: value.count >> (8 * $0)) } + value
        }
        func us(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        let field = [0x0030, 0x8030, 0x0001, 0x8001, input.int(0...0xFFFF)][input.int(0...4)]
        var body = el(0x0002, text(&input, abstractSyntaxes)) + el(0x0100, us(field))
        body += el(input.bool() ? 0x0110 : 0x0120, us(input.int(0...3)))
        body += el(0x0800, us([0x0101, 0x0000, input.int(0...0xFFFF)][input.int(0...2)]))
        if input.bool() {
            body += el(0x0900, us([0, 0xA700, 0xB000, 0xC000, input.int(0...0xFFFF)][input.int(0...4)]))
        }
        if input.bool() { body += el(0x1000, text(&input, ["1.2.3.4.5"])) }
        if input.bool() { body += el(0x0700, us(input.int(0...3))) }
        if input.bool() { body += el(input.int(0...0xFFFF), input.bytes(input.int(0...32))) }
        return input.bool()
            ? el(0x0000, (0..<4).map { UInt8(truncatingIfNeeded: body.count >> (8 * $0)) }) + body : body
    }

    /// Up to six PDUs after the association: P-DATA (command or data), release, abort, raw.
    static func messages(_ input: inout FuzzInput) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<input.int(0...6) {
            switch input.int(0...5) {
            case 0, 1:
                let cmd = command(&input)
                let cut = input.bool() ? cmd.count : input.int(0...cmd.count)
                let context = input.bool() ? 1 : input.byte()
                out += pdu(0x04, u32(cut + 2) + [context, input.bool() ? 3 : input.byte() & 3] + cmd.prefix(cut))
            case 2:
                let data = input.bytes(input.int(0...200))
                out += pdu(0x04, u32(data.count + 2) + [input.bool() ? 1 : input.byte(), input.bool() ? 2 : 0] + data)
            case 3: out += pdu(0x05, [0, 0, 0, 0])
            case 4: out += pdu(0x07, [0, 0, input.byte(), input.byte()])
            default: out += [input.byte(), 0] + u32(input.int(0...300)) + input.bytes(input.int(0...64))
            }
        }
        return out + input.rest
    }
}

/// Blocking loopback sockets for the fuzz thread.
enum Loopback {
    static func connect(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard ok == 0 else {
            close(fd)
            return nil
        }
        limit(fd, seconds: 2)
        return fd
    }

    static func limit(_ fd: Int32, seconds: Int) {
        var t = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
    }

    static func write(_ fd: Int32, _ bytes: [UInt8]) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            done += n
        }
    }

    /// Reads until the peer closes or stays silent for the socket's timeout.
    static func drain(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while out.count < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            out += buffer.prefix(n)
        }
        return out
    }

    static func exchange(port: Int, send bytes: [UInt8]) {
        guard let fd = connect(port: port) else { return }
        write(fd, bytes)
        shutdown(fd, Int32(SHUT_WR))
        _ = drain(fd)
        close(fd)
    }
}

/// A `StorageSCP` that stores nothing (--ignore), with short timeouts, started once.
final class AcceptorUnderTest: Sendable {
    static let shared = AcceptorUnderTest()
    let port: Int

    private init() {
        var settings = ReceiverSettings(port: 0)
        settings.host = "127.0.0.1"
        settings.output.ignore = true
        settings.policy.promiscuous = true
        settings.timeouts.acse = .milliseconds(300)
        settings.timeouts.dimse = .milliseconds(300)
        settings.timeouts.socket = .milliseconds(300)
        let scp = StorageSCP(settings: settings, logger: Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() })
        let ready = DispatchSemaphore(value: 0)
        let listening = Mutex(0)
        Task.detached {
            try? await scp.run { port in
                listening.withLock { $0 = port }
                ready.signal()
            }
        }
        ready.wait()
        port = listening.withLock { $0 }
    }
}

/// Ferry's requestor against a listener of the fuzz thread, which answers with the input.
final class RequestorUnderTest: Sendable {
    static let shared = RequestorUnderTest()
    let listener: Int32
    let port: Int

    private init() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(fd, $0, length)
                return getsockname(fd, $0, &length)
            }
        }
        listen(fd, 16)
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func answer(_ bytes: [UInt8]) {
        let done = DispatchSemaphore(value: 0)
        let port = port
        Task.detached {
            var parameters = AssociationParameters()
            parameters.presentationContexts = [
                PresentationContextProposal(
                    id: 1, abstractSyntax: UIDRegistry.verificationSOPClass, transferSyntaxes: ["1.2.840.10008.1.2"]),
                PresentationContextProposal(
                    id: 3, abstractSyntax: "1.2.840.10008.5.1.4.1.1.7", transferSyntaxes: ["1.2.840.10008.1.2"]),
            ]
            var timeouts = Timeouts()
            timeouts.connect = .seconds(1)
            timeouts.acse = .milliseconds(300)
            timeouts.dimse = .milliseconds(300)
            timeouts.socket = .milliseconds(300)
            let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }
            if let association = try? await Association.open(
                host: "127.0.0.1", port: port, parameters: parameters, timeouts: timeouts, logger: logger)
            {
                _ = try? await association.echo()
                var data = BytesSource([UInt8](repeating: 0x20, count: 300))
                _ = try? await association.store(
                    sopClass: "1.2.840.10008.5.1.4.1.1.7", sopInstance: "1.2.3.4.5", contextID: 3, data: &data,
                    priority: .medium)
                try? await association.release()
                await association.abort()
            }
            done.signal()
        }
        var pending = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        if poll(&pending, 1, 2000) == 1 {
            let conn = accept(listener, nil, nil)
            if conn >= 0 {
                Loopback.limit(conn, seconds: 1)
                var head = [UInt8](repeating: 0, count: 6)
                _ = head.withUnsafeMutableBytes { recv(conn, $0.baseAddress, 6, Int32(MSG_WAITALL)) }
                var input = FuzzInput(bytes)
                let stream =
                    input.byte() & 1 == 0 ? input.rest : PDUStream.acceptance(&input) + PDUStream.messages(&input)
                Loopback.write(conn, stream)
                // Take what the requestor sends until it has finished (or gives up).
                Loopback.limit(conn, seconds: 0)
                var t = timeval(tv_sec: 0, tv_usec: 50_000)
                setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
                var buffer = [UInt8](repeating: 0, count: 65536)
                while done.wait(timeout: .now()) == .timedOut {
                    _ = buffer.withUnsafeMutableBytes { recv(conn, $0.baseAddress, $0.count, 0) }
                }
                close(conn)
                return
            }
        }
        _ = done.wait(timeout: .now() + 5)
    }
}

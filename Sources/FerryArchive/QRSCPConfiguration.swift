import FerryDICOM
import FerryServices

/// DCMTK dcmqrscp's configuration file (dcmqrdb/docs/dcmqrcnf.txt): global parameters, the
/// HostTable of symbolic peers, the VendorTable, the AETable of storage areas.
///
///     NetworkTCPPort = 104                           # `=` optional, `#` starts a comment
///     HostTable BEGIN
///     acme1 = (ACME1, acmehost1, 5678)               # (AE title, host, port)
///     acme  = acme1, acme2                           # a group of symbolic names
///     HostTable END
///     VendorTable BEGIN
///     "Acme CT Company" = acme
///     VendorTable END
///     AETable BEGIN
///     ACME_STORE /var/lib/db/ACME RW (9, 1024mb) acme  # AE, area, R|RW|W, quota, peers or ANY
///     AETable END
public struct QRSCPConfiguration: Sendable {
    public struct Peer: Sendable, Equatable {
        public var aeTitle: String
        public var host: String
        public var port: Int
    }

    public struct Area: Sendable {
        public var aeTitle: String
        public var directory: String
        public var canRead: Bool
        public var canWrite: Bool
        public var maxStudies: Int
        public var maxBytesPerStudy: Int
        /// The peers allowed to use this AE title; nil: ANY.
        public var peers: [Peer]?
    }

    public var port: Int?
    public var maxPDUSize: UInt32?
    public var maxAssociations: Int?
    public var characterSet: String?
    public var userName: String?
    public var groupName: String?
    public var hosts: [String: [Peer]] = [:]
    public var vendors: [String: String] = [:]
    public var areas: [Area] = []

    public init() {}

    public init(contentsOf path: String) throws(ServiceError) {
        let bytes: [UInt8]
        do { bytes = try FileBytes.readAll(path) } catch {
            throw ServiceError(.configuration, "cannot read: \(error)", path: path, line: 0, underlying: error)
        }
        try self.init(text: String(decoding: bytes, as: UTF8.self), path: path)
    }

    init(text: String, path: String) throws(ServiceError) {
        enum Section { case global, hosts, vendors, aes }
        var section = Section.global
        var pending = ""
        var startLine = 0
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(raw)
            if let hash = line.firstIndex(of: "#") { line = String(line[..<hash]) }
            line = line.trimmingWhitespace
            if line.isEmpty { continue }
            // An entry continues while its parentheses are open or it ends with a comma.
            if pending.isEmpty { startLine = n + 1 }
            pending += (pending.isEmpty ? "" : " ") + line
            if pending.filter({ $0 == "(" }).count > pending.filter({ $0 == ")" }).count || pending.hasSuffix(",") {
                continue
            }
            let entry = pending
            pending = ""
            func fail(_ message: String) -> ServiceError {
                ServiceError(.configuration, message, path: path, line: startLine)
            }
            let words = entry.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if words.count == 2, words[1].uppercased() == "BEGIN" {
                switch words[0].lowercased() {
                case "hosttable": section = .hosts
                case "vendortable": section = .vendors
                case "aetable": section = .aes
                default: throw fail("unknown table \(words[0])")
                }
                continue
            }
            if words.count == 2, words[1].uppercased() == "END" {
                section = .global
                continue
            }
            switch section {
            case .global:
                let (key, value) = Self.keyValue(entry)
                switch key.lowercased() {
                case "networktcpport":
                    guard let p = Int(value), (1...65535).contains(p) else { throw fail("NetworkTCPPort \(value)") }
                    port = p
                case "maxpdusize":
                    guard let v = UInt32(value), (4096...131072).contains(v) else { throw fail("MaxPDUSize \(value)") }
                    maxPDUSize = v
                case "maxassociations":
                    guard let v = Int(value), v > 0 else { throw fail("MaxAssociations \(value)") }
                    maxAssociations = v
                case "specificcharacterset": characterSet = value.unquoted
                case "username": userName = value
                case "groupname": groupName = value
                default: throw fail("unknown parameter \(key)")
                }
            case .hosts:
                let (name, value) = Self.keyValue(entry)
                guard !name.isEmpty, !value.isEmpty else { throw fail("expected name = (AE, host, port) or names") }
                hosts[name] = try peers(value, path: path, line: startLine)
            case .vendors:
                let (name, value) = Self.keyValue(entry)
                guard !name.isEmpty, !value.isEmpty else { throw fail("expected \"vendor\" = symbolic name") }
                vendors[name.unquoted] = value
            case .aes:
                areas.append(try area(entry, path: path, line: startLine))
            }
        }
        if !pending.isEmpty {
            throw ServiceError(.configuration, "unterminated entry", path: path, line: startLine)
        }
    }

    /// `key = value` or `key value`.
    static func keyValue(_ entry: String) -> (String, String) {
        if entry.hasPrefix("\""), let close = entry.dropFirst().firstIndex(of: "\"") {
            let key = String(entry[entry.index(after: entry.startIndex)..<close])
            var rest = String(entry[entry.index(after: close)...]).trimmingWhitespace
            if rest.hasPrefix("=") { rest = String(rest.dropFirst()).trimmingWhitespace }
            return (key, rest)
        }
        if let eq = entry.firstIndex(of: "=") {
            return (
                String(entry[..<eq]).trimmingWhitespace, String(entry[entry.index(after: eq)...]).trimmingWhitespace
            )
        }
        let parts = entry.split(separator: " ", maxSplits: 1).map(String.init)
        return (parts.first ?? "", parts.count > 1 ? parts[1].trimmingWhitespace : "")
    }

    /// A peer list: tuples `(AE, host, port)` and symbolic names of the HostTable.
    func peers(_ text: String, path: String, line: Int) throws(ServiceError) -> [Peer] {
        var out: [Peer] = []
        var rest = Substring(text)
        while true {
            rest = Substring(String(rest).trimmingWhitespace)
            if rest.isEmpty { break }
            if rest.hasPrefix("(") {
                guard let close = rest.firstIndex(of: ")") else {
                    throw ServiceError(.configuration, "unclosed peer tuple", path: path, line: line)
                }
                let fields = rest[rest.index(after: rest.startIndex)..<close].split(separator: ",").map {
                    String($0).trimmingWhitespace
                }
                guard fields.count == 3, let port = Int(fields[2]), (1...65535).contains(port), !fields[0].isEmpty,
                    fields[0].count <= 16
                else {
                    throw ServiceError(
                        .configuration, "a peer is (AE title, host, port), not (\(fields.joined(separator: ", ")))",
                        path: path, line: line)
                }
                out.append(Peer(aeTitle: fields[0], host: fields[1], port: port))
                rest = rest[rest.index(after: close)...]
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                let name = String(rest[..<end]).trimmingWhitespace
                guard let group = hosts[name] else {
                    throw ServiceError(.configuration, "unknown symbolic name \(name)", path: path, line: line)
                }
                out += group
                rest = rest[end...]
            }
            rest = Substring(String(rest).trimmingWhitespace)
            if rest.hasPrefix(",") { rest = rest.dropFirst() }
        }
        return out
    }

    /// `AET  /path  R|RW|W  (maxStudies, maxBytesPerStudy)  peers|ANY`.
    func area(_ entry: String, path: String, line: Int) throws(ServiceError) -> Area {
        func fail(_ m: String) -> ServiceError { ServiceError(.configuration, m, path: path, line: line) }
        let words = entry.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true).map(String.init)
        guard words.count == 4 else { throw fail("expected AETitle StorageArea Access (Quota) Peers") }
        let ae = words[0].unquoted
        guard !ae.isEmpty, ae.count <= 16 else { throw fail("AE title \(ae) is not 1-16 characters") }
        let access = words[2].uppercased()
        guard ["R", "RW", "W"].contains(access) else { throw fail("access \(words[2]) is not R, RW or W") }
        let rest = words[3].trimmingWhitespace
        guard rest.hasPrefix("("), let close = rest.firstIndex(of: ")") else {
            throw fail("expected a quota (maxStudies, maxBytesPerStudy)")
        }
        let quota = rest[rest.index(after: rest.startIndex)..<close].split(separator: ",").map {
            String($0).trimmingWhitespace
        }
        guard quota.count == 2, let studies = Int(quota[0]), studies > 0, let bytes = Self.size(quota[1]) else {
            throw fail("quota (\(quota.joined(separator: ", "))) is not (studies, size)")
        }
        let peerText = String(rest[rest.index(after: close)...]).trimmingWhitespace
        guard !peerText.isEmpty else { throw fail("expected peers or ANY") }
        return Area(
            aeTitle: ae, directory: words[1].unquoted, canRead: access.contains("R"), canWrite: access.contains("W"),
            maxStudies: studies, maxBytesPerStudy: bytes,
            peers: peerText.uppercased() == "ANY" ? nil : try peers(peerText, path: path, line: line))
    }

    /// `24mb`, `1gb`, `512kb`, or bytes.
    static func size(_ text: String) -> Int? {
        let lower = text.lowercased()
        for (suffix, factor) in [("kb", 1 << 10), ("mb", 1 << 20), ("gb", 1 << 30)] where lower.hasSuffix(suffix) {
            guard let n = Int(lower.dropLast(2).trimmingCharacters(in: " ")), n >= 0, n <= Int.max / factor else {
                return nil
            }
            return n * factor
        }
        return Int(lower)
    }

    /// The move destination named `aeTitle` (dcmqrscp's peerForAETitle: AETable peer lists
    /// first, then the HostTable; exact, case-sensitive).
    public func destination(_ aeTitle: String) -> Peer? {
        for area in areas { if let p = area.peers?.first(where: { $0.aeTitle == aeTitle }) { return p } }
        for name in hosts.keys.sorted() { if let p = hosts[name]?.first(where: { $0.aeTitle == aeTitle }) { return p } }
        return nil
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }

    var unquoted: String {
        if count >= 2, (hasPrefix("\"") && hasSuffix("\"")) || (hasPrefix("'") && hasSuffix("'")) {
            return String(dropFirst().dropLast())
        }
        return self
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in c: Character) -> String {
        var s = self
        while s.first == c { s = s.dropFirst() }
        while s.last == c { s = s.dropLast() }
        return String(s)
    }
}

/// Every section of a job file takes only the keys its `CodingKeys` name: a misspelt key would
/// otherwise be skipped, and its setting left at the default without a word (`path:` for
/// `paths:` used to end in "no source paths").
extension Decoder {
    /// The section's container, once each of its keys is one of `Key`'s cases; the first other
    /// key is a `DecodingError.dataCorrupted` at that key, naming the nearest known one.
    func container<Key: CodingKey & CaseIterable>(onlyKeyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let known = Key.allCases.map(\.stringValue)
        for key in try container(keyedBy: AnyKey.self).allKeys where !known.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: codingPath + [key], debugDescription: KnownKeys.unknown(key.stringValue, known: known)))
        }
        return try container(keyedBy: type)
    }
}

/// Any key a mapping holds, for listing them all.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

enum KnownKeys {
    /// "unknown key; did you mean "paths"?", or the keys allowed when none is near.
    static func unknown(_ key: String, known: [String]) -> String {
        if let near = nearest(to: key, in: known) { return "unknown key; did you mean \"\(near)\"?" }
        return "unknown key; the keys here are \(known.joined(separator: ", "))"
    }

    /// The known key closest to `key` by edit distance, ignoring case, `_` and `-` (so
    /// `maxPDU` finds `max_pdu`); nil when none is within a typo's reach.
    static func nearest(to key: String, in known: [String]) -> String? {
        let typed = folded(key)
        let scored = known.map { (key: $0, distance: editDistance(typed, folded($0))) }
        guard let best = scored.min(by: { $0.distance < $1.distance }) else { return nil }
        return best.distance <= (typed.count < 5 ? 1 : 2) ? best.key : nil
    }

    static func folded(_ key: String) -> [Character] { Array(key.lowercased().filter { $0 != "_" && $0 != "-" }) }

    /// Levenshtein distance: insertions, deletions and substitutions.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, y) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

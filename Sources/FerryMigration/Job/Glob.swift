/// Shell-style globs on relative paths: `*` and `?` within a path segment, `[...]` classes,
/// and `**` for any number of whole segments (including none).
public struct Glob: Sendable, Equatable {
    public let pattern: String
    private let segments: [Substring]

    public init(_ pattern: String) {
        self.pattern = pattern
        segments = pattern.split(separator: "/", omittingEmptySubsequences: true)
    }

    public func matches(_ relativePath: String) -> Bool {
        let parts = relativePath.split(separator: "/", omittingEmptySubsequences: true)
        return match(segments[...], parts[...])
    }

    private func match(_ p: ArraySlice<Substring>, _ s: ArraySlice<Substring>) -> Bool {
        guard let first = p.first else { return s.isEmpty }
        if first == "**" {
            // Zero or more segments.
            var rest = s
            while true {
                if match(p.dropFirst(), rest) { return true }
                guard !rest.isEmpty else { return false }
                rest = rest.dropFirst()
            }
        }
        guard let name = s.first, Self.segmentMatches(Array(first), Array(name)) else { return false }
        return match(p.dropFirst(), s.dropFirst())
    }

    static func segmentMatches(_ p: [Character], _ s: [Character]) -> Bool {
        var pi = 0, si = 0
        var star: Int?, starS = 0
        while si < s.count {
            if pi < p.count, p[pi] == "[", let (matched, next) = classMatch(p, pi, s[si]) {
                if matched { pi = next; si += 1; continue }
            } else if pi < p.count, p[pi] == "?" || (p[pi] != "*" && p[pi] == s[si]) {
                pi += 1; si += 1; continue
            } else if pi < p.count, p[pi] == "*" {
                star = pi; starS = si; pi += 1; continue
            }
            if let st = star {
                pi = st + 1; starS += 1; si = starS
                continue
            }
            return false
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// `[abc]`, `[a-z]`, `[!x]`: whether `c` matches, and the index after the class.
    private static func classMatch(_ p: [Character], _ start: Int, _ c: Character) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < p.count, p[i] == "!" || p[i] == "^" { negate = true; i += 1 }
        var matched = false
        var first = true
        while i < p.count, p[i] != "]" || first {
            first = false
            if i + 2 < p.count, p[i + 1] == "-", p[i + 2] != "]" {
                if p[i] <= c && c <= p[i + 2] { matched = true }
                i += 3
            } else {
                if p[i] == c { matched = true }
                i += 1
            }
        }
        guard i < p.count else { return nil }  // no closing bracket: a literal '['
        return (matched != negate, i + 1)
    }
}

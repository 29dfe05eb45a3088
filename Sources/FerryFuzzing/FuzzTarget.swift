/// One fuzz target: a function that must survive any input (a value or a typed error, never a
/// trap, a hang or a sanitizer report), and how to make seed inputs for it. libFuzzer runs the
/// targets at length (scripts/fuzz, with AddressSanitizer); the test suite runs each for a few
/// seconds with `Mutator`.
public struct FuzzTarget: Sendable {
    public let name: String
    /// What the target exercises, for the README's table.
    public let summary: String
    /// Seed inputs built from parameters alone (the corpus files add more: `seed(frame:)`).
    public let seeds: @Sendable () -> [[UInt8]]
    public let run: @Sendable ([UInt8]) -> Void

    public static let all: [FuzzTarget] = [
        .reader, .rle, .jpegLossless, .jpegDCT, .jpegLS, .jpeg2000, .acceptor, .requestor,
    ]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// Reads parameters from the front of a fuzz input, as libFuzzer's FuzzedDataProvider does:
/// every read succeeds (zeros once the input is used up), so any input is a valid script.
public struct FuzzInput {
    let bytes: [UInt8]
    public private(set) var position = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        let raw = UInt64(byte()) << 8 | UInt64(byte())
        return range.lowerBound + Int(raw % span)
    }
    public mutating func bool() -> Bool { byte() & 1 == 1 }
    public mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in byte() } }
    /// What the input holds after the parameters.
    public var rest: [UInt8] { position < bytes.count ? Array(bytes[position...]) : [] }
}

/// In-process mutation of seed inputs for short runs in the test suite: bit flips, byte sets,
/// interesting values, inserted, deleted and duplicated runs, truncation. Deterministic for a
/// given seed (printed by the tests, so a failure can be replayed).
public struct Mutator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// SplitMix64.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }

    public mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var out = input.isEmpty ? [0] : input
        for _ in 0...below(8) {
            let at = below(out.count)
            switch below(7) {
            case 0: out[at] ^= UInt8(1 << below(8))
            case 1: out[at] = UInt8(truncatingIfNeeded: next())
            case 2: out[at] = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE][below(6)]
            case 3: out.insert(contentsOf: (0..<(1 + below(16))).map { _ in UInt8(truncatingIfNeeded: next()) }, at: at)
            case 4: out.removeSubrange(at..<min(out.count, at + 1 + below(16)))
            case 5:
                let n = min(out.count - at, 1 + below(32))
                out.insert(contentsOf: out[at..<(at + n)], at: below(out.count))
            default: out.removeLast(below(max(1, out.count / 4)))
            }
            if out.isEmpty { out = [0] }
        }
        return out
    }

    /// Runs `target` on mutations of `seeds` until `seconds` have passed; returns the count.
    public mutating func run(_ target: FuzzTarget, seeds: [[UInt8]], seconds: Double) -> Int {
        let pool = seeds.isEmpty ? [[0]] : seeds
        for seed in pool { target.run(seed) }
        let clock = ContinuousClock()
        let end = clock.now + .milliseconds(Int(seconds * 1000))
        var executions = pool.count
        while clock.now < end {
            target.run(mutate(pool[below(pool.count)]))
            executions += 1
        }
        return executions
    }
}

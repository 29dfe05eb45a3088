/// `--shard I/N`: this run takes only the studies whose Study Instance UID hashes to shard I
/// (1-based) of N; the others are `skipped` in this manifest. The hash (FNV-1a, 64 bit) is
/// stable across hosts and runs, so N hosts with N manifests split one job.
public struct Shard: Sendable, Equatable {
    public var index: Int
    public var count: Int

    public static func parse(_ s: String) throws -> Shard {
        let parts = s.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (1...n).contains(i) else {
            throw MigrationError.invalidJob("--shard must be I/N with 1 <= I <= N, got \(s)")
        }
        return Shard(index: i, count: n)
    }

    public func contains(study: String?) -> Bool {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in (study ?? "").utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return Int(h % UInt64(count)) == index - 1
    }

    /// Restricts the manifest's planned files to `shard`'s studies. Files an earlier run's
    /// shard skipped are planned again first, so a run with another shard, or with none,
    /// takes what belongs to it.
    public static func restrict(_ manifest: Manifest, to shard: Shard?) throws {
        try manifest.unskip(kind: .shard)
        guard let shard else { return }
        try manifest.skipPlanned(
            reason: "study belongs to another shard than \(shard.index)/\(shard.count)", kind: .shard
        ) { shard.contains(study: $0) }
    }
}

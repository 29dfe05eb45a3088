import FerryCodecs
import FerryDICOM
import FerryFuzzing
import Foundation
import TestSupport
import Testing

/// A few seconds of each codec fuzz target and the reader's, on mutations of seeds built from
/// parameters and of the corpus files' first frames (issue 14). A trap, a hang or a failed
/// round trip ends the test process; `FERRY_FUZZ_SEED` replays a run.
@Suite(.scratch)
struct FuzzTests {
    static let seconds = 3.0

    static func runSeed() -> UInt64 {
        if let text = ProcessInfo.processInfo.environment["FERRY_FUZZ_SEED"], let seed = UInt64(text) { return seed }
        return UInt64.random(in: 1...UInt64.max)
    }

    @Test(arguments: ["reader", "rle", "jpeg-lossless", "jpeg-dct", "jpeg-ls", "jpeg2000"])
    func fuzzBriefly(name: String) throws {
        let target = try #require(FuzzTarget.named(name))
        let files = try ["tiny", "htj2k"].flatMap { try Corpus.files($0) }
        let seeds = target.seeds() + (FuzzSeeds.fromFiles(files)[name] ?? [])
        let seed = Self.runSeed()
        print("fuzz \(name): seed \(seed), \(seeds.count) seeds")
        var mutator = Mutator(seed: seed)
        let executions = mutator.run(target, seeds: seeds, seconds: Self.seconds)
        print("fuzz \(name): \(executions) executions in \(Self.seconds) s, no crash")
        #expect(executions > seeds.count, "mutations ran after the seeds")
    }
}

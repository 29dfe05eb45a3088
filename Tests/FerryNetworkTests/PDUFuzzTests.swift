import FerryFuzzing
import Foundation
import Testing

/// A few seconds of each PDU-stream fuzz target (issue 14): raw and built streams against
/// Ferry's acceptor and requestor over loopback. A trap or a hang ends the test process.
@Suite(.serialized)
struct PDUFuzzTests {
    @Test(arguments: ["acceptor", "requestor"])
    func fuzzBriefly(name: String) throws {
        let target = try #require(FuzzTarget.named(name))
        let text = ProcessInfo.processInfo.environment["FERRY_FUZZ_SEED"]
        let seed = text.flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        print("fuzz \(name): seed \(seed)")
        var mutator = Mutator(seed: seed)
        let seeds = target.seeds()
        let executions = mutator.run(target, seeds: seeds, seconds: 3)
        print("fuzz \(name): \(executions) executions in 3 s, no crash")
        #expect(executions > seeds.count, "mutations ran after the seeds")
    }
}

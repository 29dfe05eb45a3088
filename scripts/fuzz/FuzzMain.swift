// The fuzzer (built by scripts/fuzz/run as main.swift, with libFuzzer and AddressSanitizer):
// FERRY_FUZZ_TARGET names a target of FerryFuzzing; before fuzzing, an empty corpus directory
// gets the target's seeds and those of the DICOM files under FERRY_FUZZ_FILES.
import CFuzzerDriver
import FerryCodecs
import FerryFuzzing
import Glibc

// The C libraries' decoding runs in decoder processes, as in `ferry`: this program is also
// their worker. A short time limit: fuzzed frames are small, and a stalled library (CharLS's
// loop on truncated scans) should cost one second, not five.
if CommandLine.arguments.dropFirst().first == "codec-worker" { exit(DecodeWorker.serve()) }
var isolation = DecoderProcesses.Configuration(executable: "/proc/self/exe", arguments: ["codec-worker"])
isolation.baseTimeLimit = 1
DecoderProcesses.shared.withLock { $0 = DecoderProcesses(isolation) }

let target: FuzzTarget = {
    let name = getenv("FERRY_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget.named(name) else {
        fatalError("FERRY_FUZZ_TARGET=\(name): not one of \(FuzzTarget.all.map(\.name))")
    }
    return target
}()

if let corpus = CommandLine.arguments.dropFirst().first(where: { !$0.hasPrefix("-") }) {
    let files = getenv("FERRY_FUZZ_FILES").map { String(cString: $0) } ?? "/nonexistent"
    FuzzSeeds.write(target, filesUnder: files, to: corpus)
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(
    LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        target.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
        return 0
    })

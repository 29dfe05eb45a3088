// libFuzzer's entry point for every target of FerryFuzzing (built by scripts/fuzz/run, with
// AddressSanitizer): FERRY_FUZZ_TARGET names the target.
import FerryFuzzing
import Glibc

let target: FuzzTarget = {
    let name = getenv("FERRY_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget.named(name) else {
        fatalError("FERRY_FUZZ_TARGET=\(name): not one of \(FuzzTarget.all.map(\.name))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    target.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// Before the first input: the corpus directory (the first argument that is not a flag)
/// gets the target's seeds and those of the files under FERRY_FUZZ_FILES, if it is empty.
@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    let arguments = (0..<Int(argc.pointee)).compactMap { argv.pointee?[$0].map { String(cString: $0) } }
    if let corpus = arguments.dropFirst().first(where: { !$0.hasPrefix("-") }) {
        FuzzSeeds.write(
            target, filesUnder: getenv("FERRY_FUZZ_FILES").map { String(cString: $0) } ?? "/nonexistent", to: corpus)
    }
    return 0
}

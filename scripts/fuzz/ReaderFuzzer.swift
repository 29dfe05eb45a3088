// libFuzzer entry point for the Part 10 reader and the header scan (built by scripts/fuzz-reader).
// Any input must give a value or a DICOMError: a crash, trap or sanitizer report is a bug.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var options = ReadOptions()
    options.maxInflatedSize = 8 << 20  // as OSS-Fuzz caps DCMTK's allocations
    if let file = try? Part10Reader.read(bytes: bytes, options: options) {
        _ = DataSetDump(maxValues: 4).lines(file)
        if let pixels = try? PixelAttributes(file.dataSet), case .encapsulated(let e)? = file.dataSet[.pixelData]?.value
        {
            _ = try? e.frames(numberOfFrames: pixels.numberOfFrames)
        }
        _ = try? DataSetWriter(encoding: .explicitLittle).encode(file.dataSet)
    }
    _ = try? HeaderScan.summary(prefix: bytes, fileSize: bytes.count, path: "fuzz", options: options)
    _ = try? HeaderScan.summary(prefix: Array(bytes.prefix(size / 2)), fileSize: size, path: "fuzz", options: options)
    return 0
}

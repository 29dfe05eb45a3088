/// The Image Pixel module attributes (PS3.3 C.7.6.3) a sender or codec needs, checked up front.
public struct PixelAttributes: Sendable, Codable, Equatable {
    public var rows: Int
    public var columns: Int
    public var samplesPerPixel: Int
    public var bitsAllocated: Int
    public var bitsStored: Int
    public var highBit: Int
    public var pixelRepresentation: Int
    public var photometricInterpretation: String
    public var planarConfiguration: Int
    public var numberOfFrames: Int

    /// Reads and validates the attributes. Returns nil when the data set has no Rows (not an image).
    public init?(_ ds: DataSet) throws(DICOMError) {
        guard ds[.rows] != nil else { return nil }
        func required(_ tag: Tag) throws(DICOMError) -> Int {
            guard let v = ds.integer(tag) else {
                throw DICOMError(.missingAttribute, "missing or empty", tag: tag)
            }
            return v
        }
        rows = try required(.rows)
        columns = try required(.columns)
        samplesPerPixel = ds.integer(.samplesPerPixel) ?? 1
        bitsAllocated = try required(.bitsAllocated)
        bitsStored = ds.integer(.bitsStored) ?? bitsAllocated
        highBit = ds.integer(.highBit) ?? (bitsStored - 1)
        pixelRepresentation = ds.integer(.pixelRepresentation) ?? 0
        photometricInterpretation = ds.string(.photometricInterpretation) ?? ""
        planarConfiguration = ds.integer(.planarConfiguration) ?? 0
        if let frames = ds[.numberOfFrames] {
            guard let text = frames.string, let n = Int(text.trimmingCharacters(in: " ")) else {
                throw DICOMError(
                    .invalidPixelAttributes, "Number of Frames '\(frames.string ?? "")' is not an integer",
                    tag: .numberOfFrames)
            }
            numberOfFrames = n
        } else {
            numberOfFrames = 1
        }
        try validate()
    }

    /// The checks of CVE-2024-52333, CVE-2024-47796 and Orthanc 5442/5443, in 64-bit arithmetic.
    public func validate() throws(DICOMError) {
        func fail(_ msg: String, _ tag: Tag) -> DICOMError {
            DICOMError(.invalidPixelAttributes, msg, tag: tag)
        }
        guard rows >= 1, rows <= 65535 else { throw fail("Rows \(rows) out of range", .rows) }
        guard columns >= 1, columns <= 65535 else { throw fail("Columns \(columns) out of range", .columns) }
        guard samplesPerPixel == 1 || samplesPerPixel == 3 || samplesPerPixel == 4 else {
            throw fail("Samples per Pixel \(samplesPerPixel) is not 1 or 3", .samplesPerPixel)
        }
        guard [1, 8, 16, 32, 64].contains(bitsAllocated) else {
            throw fail("Bits Allocated \(bitsAllocated) unsupported", .bitsAllocated)
        }
        guard bitsStored >= 1, bitsStored <= bitsAllocated else {
            throw fail("Bits Stored \(bitsStored) not in 1...\(bitsAllocated)", .bitsStored)
        }
        guard highBit < bitsAllocated, highBit >= bitsStored - 1 else {
            throw fail(
                "High Bit \(highBit) inconsistent with Bits Stored \(bitsStored) / Allocated \(bitsAllocated)", .highBit
            )
        }
        guard pixelRepresentation == 0 || pixelRepresentation == 1 else {
            throw fail("Pixel Representation \(pixelRepresentation) is not 0 or 1", .pixelRepresentation)
        }
        guard numberOfFrames >= 1, numberOfFrames <= 1 << 24 else {
            throw fail("Number of Frames \(numberOfFrames) out of range", .numberOfFrames)
        }
        guard frameLength != nil, totalLength != nil else { throw fail("pixel data size overflows 64 bits", .rows) }
    }

    /// Bytes of one native (uncompressed) frame, or nil on 64-bit overflow.
    public var frameLength: Int? {
        let (a, o1) = rows.multipliedReportingOverflow(by: columns)
        let (b, o2) = a.multipliedReportingOverflow(by: samplesPerPixel)
        let (bits, o3) = b.multipliedReportingOverflow(by: bitsAllocated)
        guard !o1, !o2, !o3 else { return nil }
        return (bits + 7) / 8
    }

    /// Bytes of all native frames, or nil on 64-bit overflow.
    public var totalLength: Int? {
        guard let f = frameLength else { return nil }
        let (t, o) = f.multipliedReportingOverflow(by: numberOfFrames)
        return o ? nil : t
    }
}

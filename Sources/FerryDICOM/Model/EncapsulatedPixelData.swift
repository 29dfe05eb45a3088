/// Encapsulated pixel data (PS3.5 A.4): a Basic Offset Table item followed by fragments.
/// Fragments are slices of the buffer they were read from: nothing is copied.
public struct EncapsulatedPixelData: Sendable {
    public var basicOffsetTable: ArraySlice<UInt8>
    public var fragments: [ArraySlice<UInt8>]

    public init(basicOffsetTable: ArraySlice<UInt8> = [], fragments: [ArraySlice<UInt8>]) {
        self.basicOffsetTable = basicOffsetTable
        self.fragments = fragments
    }

    /// Byte offset of each fragment item relative to the first fragment item, as offset tables count them.
    private var fragmentItemOffsets: [UInt64] {
        var offsets: [UInt64] = []
        var at: UInt64 = 0
        for f in fragments {
            offsets.append(at)
            at += 8 + UInt64(f.count + (f.count & 1))
        }
        return offsets
    }

    /// Groups the fragments into frames: by the Basic Offset Table when present, else by the
    /// Extended Offset Table (7FE0,0001), else one frame per fragment when the counts agree,
    /// else all fragments form one frame when there is a single frame.
    public func frames(
        numberOfFrames: Int, extendedOffsets: [UInt64]? = nil
    ) throws(DICOMError) -> [[ArraySlice<UInt8>]] {
        guard numberOfFrames >= 1 else {
            throw DICOMError(
                .invalidPixelAttributes, "Number of Frames is \(numberOfFrames)", tag: .numberOfFrames)
        }
        var offsets: [UInt64]? = extendedOffsets
        if !basicOffsetTable.isEmpty {
            guard basicOffsetTable.count % 4 == 0 else {
                throw DICOMError(
                    .encapsulation, "Basic Offset Table length \(basicOffsetTable.count) is not a multiple of 4",
                    tag: .pixelData)
            }
            if extendedOffsets != nil {
                throw DICOMError(
                    .encapsulation, "Extended Offset Table present with a non-empty Basic Offset Table",
                    tag: .extendedOffsetTable)
            }
            offsets = stride(from: basicOffsetTable.startIndex, to: basicOffsetTable.endIndex, by: 4).map {
                UInt64(basicOffsetTable.loadLE32($0))
            }
        }
        if let offsets {
            guard offsets.count == numberOfFrames else {
                throw DICOMError(
                    .encapsulation, "offset table has \(offsets.count) entries for \(numberOfFrames) frames",
                    tag: .pixelData)
            }
            let itemOffsets = fragmentItemOffsets
            // One pass: the offsets increase, so each frame's first fragment is at or after the
            // previous frame's end (a search from the start for each frame was quadratic).
            var frames: [[ArraySlice<UInt8>]] = []
            var next = 0
            for (i, start) in offsets.enumerated() {
                let end = i + 1 < offsets.count ? offsets[i + 1] : UInt64.max
                while next < itemOffsets.count, itemOffsets[next] < start { next += 1 }
                guard end > start, next < itemOffsets.count, itemOffsets[next] == start else {
                    throw DICOMError(
                        .encapsulation,
                        "frame \(i + 1) offset \(start) is not at a fragment boundary or not increasing",
                        tag: .pixelData)
                }
                var frame: [ArraySlice<UInt8>] = []
                while next < fragments.count, itemOffsets[next] < end {
                    frame.append(fragments[next])
                    next += 1
                }
                frames.append(frame)
            }
            return frames
        }
        if fragments.count == numberOfFrames { return fragments.map { [$0] } }
        if numberOfFrames == 1 { return [fragments] }
        throw DICOMError(
            .encapsulation, "\(fragments.count) fragments for \(numberOfFrames) frames and no offset table",
            tag: .pixelData)
    }
}

extension DataSet {
    /// The frames of encapsulated Pixel Data, using Number of Frames and, when present,
    /// the Extended Offset Table (7FE0,0001); nil when the pixel data is not encapsulated.
    public func encapsulatedFrames() throws(DICOMError) -> [[ArraySlice<UInt8>]]? {
        guard case .encapsulated(let pixels)? = self[.pixelData]?.value else { return nil }
        let frames = try PixelAttributes(self)?.numberOfFrames ?? 1
        var extended: [UInt64]?
        if let table = self[.extendedOffsetTable]?.bytes {
            guard table.count % 8 == 0 else {
                throw DICOMError(
                    .encapsulation, "Extended Offset Table length \(table.count) is not a multiple of 8",
                    tag: .extendedOffsetTable)
            }
            extended = stride(from: table.startIndex, to: table.endIndex, by: 8).map { table.loadLE64($0) }
        }
        return try pixels.frames(numberOfFrames: frames, extendedOffsets: extended)
    }
}

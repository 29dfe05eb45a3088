/// A data set: elements kept in ascending tag order (PS3.5 7.1).
public struct DataSet: Sendable {
    public private(set) var elements: [DataElement] = []
    /// For a sequence item read from a stream: its length as encoded (0xFFFFFFFF = undefined).
    public var sourceItemLength: UInt32?

    public init() {}
    public init(_ elements: [DataElement]) {
        for e in elements { self[e.tag] = e }
    }

    public var isEmpty: Bool { elements.isEmpty }
    public var count: Int { elements.count }

    private func index(of tag: Tag) -> (found: Bool, at: Int) {
        // Elements usually arrive in order: check the end first, then search.
        if let last = elements.last {
            if last.tag == tag { return (true, elements.count - 1) }
            if last.tag < tag { return (false, elements.count) }
        }
        var lo = 0, hi = elements.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if elements[mid].tag < tag { lo = mid + 1 } else { hi = mid }
        }
        return (lo < elements.count && elements[lo].tag == tag, lo)
    }

    public subscript(tag: Tag) -> DataElement? {
        get {
            let (found, i) = index(of: tag)
            return found ? elements[i] : nil
        }
        set {
            let (found, i) = index(of: tag)
            switch (found, newValue) {
            case (true, let e?): elements[i] = e
            case (true, nil): elements.remove(at: i)
            case (false, let e?): elements.insert(e, at: i)
            case (false, nil): break
            }
        }
    }

    /// Appends an element read from a stream. Out-of-order or repeated tags (seen in
    /// damaged files) fall back to the ordered insert, keeping the last occurrence.
    mutating func appendRead(_ e: DataElement) {
        if let last = elements.last, last.tag >= e.tag { self[e.tag] = e } else { elements.append(e) }
    }

    public func string(_ tag: Tag) -> String? { self[tag]?.string }
    public func integer(_ tag: Tag) -> Int? { self[tag]?.integers.first }

    public mutating func set(_ tag: Tag, _ vr: VR, _ string: String) {
        self[tag] = DataElement(tag, vr, string: string)
    }
    public mutating func set(_ tag: Tag, uint16 value: UInt16) {
        self[tag] = DataElement(tag, .US, bytes: [UInt8(value & 0xFF), UInt8(value >> 8)])
    }
}

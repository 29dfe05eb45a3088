import FerryDICOM
import FerryNetwork
import Glibc

/// Reads the markers at the start of a file's first JPEG fragment: enough to tell whether
/// a JPEG Lossless Process 14 stream uses predictor 1 (so it is valid 4.70) or whether an
/// extended-process stream is baseline (SOF0, so it is valid 4.50). Bounded read, no decoding.
public enum JPEGProbe {
    public struct Info: Equatable, Sendable {
        public var sofMarker: UInt8
        public var precision: Int
        public var selectionValue: Int?
    }

    public static func firstFrame(path: String, pixelData: PixelDataLocation) -> Info? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 64 * 1024)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(pixelData.valueOffset)) }
        guard n > 16 else { return nil }
        return parse(Array(bytes[0..<n]))
    }

    /// `b` starts at the value of an encapsulated Pixel Data element: BOT item, then fragments.
    static func parse(_ b: [UInt8]) -> Info? {
        func le32(_ i: Int) -> Int? {
            i + 4 <= b.count ? Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24 : nil
        }
        // Item tag (FFFE,E000) then length; skip the BOT.
        guard b.count >= 8, b[0] == 0xFE, b[1] == 0xFF, b[2] == 0x00, b[3] == 0xE0, let botLength = le32(4) else {
            return nil
        }
        var p = 8 + botLength
        guard p + 8 <= b.count, b[p] == 0xFE, b[p + 1] == 0xFF, b[p + 2] == 0x00, b[p + 3] == 0xE0 else { return nil }
        p += 8
        guard p + 2 <= b.count, b[p] == 0xFF, b[p + 1] == 0xD8 else { return nil }
        p += 2
        var info: Info?
        while p + 4 <= b.count {
            guard b[p] == 0xFF else { return info }
            let marker = b[p + 1]
            if marker == 0xFF { p += 1; continue }
            let length = Int(b[p + 2]) << 8 | Int(b[p + 3])
            if (0xC0...0xCF).contains(marker), marker != 0xC4, marker != 0xC8, marker != 0xCC, p + 4 < b.count {
                info = Info(sofMarker: marker, precision: Int(b[p + 4]), selectionValue: nil)
            }
            if marker == 0xDA {
                // SOS: Ns, then Ns component specs (2 bytes each), then Ss (the predictor in lossless).
                guard p + 4 < b.count else { return info }
                let ns = Int(b[p + 4])
                let ss = p + 5 + 2 * ns
                if ss < b.count { info?.selectionValue = Int(b[ss]) }
                return info
            }
            p += 2 + length
        }
        return info
    }
}

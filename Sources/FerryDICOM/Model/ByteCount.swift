import Foundation

/// Byte counts as people write and read them (binary units: K, M, G, T count 1024s).
public enum ByteCount {
    /// "512M", "2G", "2 GiB", "1.5 TiB", or bytes; nil unless positive and below 2^62.
    public static func parse(_ text: String) -> Int? {
        var number = text.trimmingCharacters(in: .whitespaces)
        var scale = 1.0
        for (i, unit) in ["K", "M", "G", "T"].enumerated().reversed() {
            for suffix in [unit + "IB", unit + "B", unit] where number.uppercased().hasSuffix(suffix) {
                number = String(number.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
                scale = pow(1024, Double(i + 1))
                break
            }
            if scale > 1 { break }
        }
        guard let value = Double(number), value > 0, value * scale < 0x1p62 else { return nil }
        return Int(value * scale)
    }

    /// "4096 bytes", "2.0 GiB".
    public static func describe(_ bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) bytes" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}

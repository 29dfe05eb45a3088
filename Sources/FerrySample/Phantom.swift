import Foundation

/// SplitMix64: a small deterministic generator, so sample archives are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Approximately normal noise (sum of uniforms), cheap and good enough for texture.
    mutating func noise() -> Double {
        var s = 0.0
        for _ in 0..<4 { s += Double(next() >> 11) / Double(1 << 53) }
        return (s - 2.0) * 0.866
    }
}

/// A body-like phantom: an elliptical body with organs, a smooth shading term and noise,
/// so that it looks like a scan and compresses like one.
struct Phantom {
    struct Ellipse { var cx, cy, rx, ry, value: Double }
    var body: Ellipse
    var organs: [Ellipse]

    init(rng: inout SplitMix64) {
        body = Ellipse(cx: 0.5, cy: 0.5, rx: 0.42, ry: 0.36, value: 0.45)
        organs = (0..<6).map { _ in
            Ellipse(
                cx: 0.3 + 0.4 * Double(rng.next() % 1000) / 1000, cy: 0.3 + 0.4 * Double(rng.next() % 1000) / 1000,
                rx: 0.03 + 0.09 * Double(rng.next() % 1000) / 1000, ry: 0.03 + 0.09 * Double(rng.next() % 1000) / 1000,
                value: -0.2 + 0.6 * Double(rng.next() % 1000) / 1000)
        }
    }

    /// One slice as intensities 0...1; `slice` moves the organs a little.
    func render(rows: Int, columns: Int, slice: Int, rng: inout SplitMix64) -> [Double] {
        var out = [Double](repeating: 0, count: rows * columns)
        let shift = Double(slice) * 0.004
        for y in 0..<rows {
            let fy = Double(y) / Double(rows)
            for x in 0..<columns {
                let fx = Double(x) / Double(columns)
                var v = 0.0
                if inside(body, fx, fy) {
                    v = body.value
                    for o in organs
                    where inside(Ellipse(cx: o.cx + shift, cy: o.cy, rx: o.rx, ry: o.ry, value: 0), fx, fy) {
                        v += o.value
                    }
                    v += 0.05 * sin(Double(x) / 17) * cos(Double(y) / 23)
                }
                out[y * columns + x] = min(1, max(0, v + 0.012 * rng.noise()))
            }
        }
        return out
    }

    private func inside(_ e: Ellipse, _ x: Double, _ y: Double) -> Bool {
        let dx = (x - e.cx) / e.rx, dy = (y - e.cy) / e.ry
        return dx * dx + dy * dy <= 1
    }
}

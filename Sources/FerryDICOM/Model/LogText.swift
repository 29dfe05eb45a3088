extension String {
    /// The string with its control characters (C0, DEL, C1) written as \xNN: a value from a
    /// file or a peer (an AE title, a UID, an error comment) cannot forge log lines or send
    /// terminal escapes. `keeping` names control characters left as they are.
    public func escapedForLog(keeping: Set<Unicode.Scalar> = []) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(unicodeScalars.count)
        for scalar in unicodeScalars {
            let v = scalar.value
            if (v < 0x20 || (0x7F...0x9F).contains(v)) && !keeping.contains(scalar) {
                let hex = String(v, radix: 16, uppercase: true)
                out += "\\x" + (hex.count < 2 ? "0" : "") + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

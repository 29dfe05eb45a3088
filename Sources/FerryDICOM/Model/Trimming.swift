extension StringProtocol {
    /// The text without the leading and trailing characters of `set` (DICOM pads with spaces
    /// and NULs; Foundation's version wants a CharacterSet).
    public func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return String(s)
    }
}

import FerrySample

enum FerrySampleAccess {
    static func write(_ dir: String) throws -> [String] { try SampleArchive().write(to: dir) }
}

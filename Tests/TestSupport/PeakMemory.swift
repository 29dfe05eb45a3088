import Foundation

/// Runs a command and reports its peak resident memory (ru_maxrss of it and its children,
/// measured by a Python parent that runs nothing else).
public enum PeakMemory {
    public static func run(_ executable: String, _ arguments: [String]) throws -> (output: Tools.Output, kib: Int) {
        let script = """
            import resource, subprocess, sys
            status = subprocess.run(sys.argv[1:]).returncode
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            print(f"peak-kib {peak} status {status}", file=sys.stderr)
            """
        var out = try Tools.run("/usr/bin/python3", ["-c", script, executable] + arguments)
        let last = out.stderr.split(separator: "\n").last { $0.hasPrefix("peak-kib ") } ?? ""
        let fields = last.split(separator: " ")
        guard fields.count == 4, let kib = Int(fields[1]), let status = Int32(fields[3]) else {
            throw PeerError(message: "no peak memory figure: \(out.stderr)")
        }
        out.status = status
        return (out, kib)
    }
}

/// How a `ferry` command ends, for the shell and for schedulers: one set for `plan`, `run`,
/// `verify`, `status`, `report`, `transcode`, `dump` and `scan`. (The DCMTK-style tools exit
/// with DCMTK's own codes, which scripts written for DCMTK expect.)
public enum ExitStatus: Int32, Sendable, CaseIterable {
    case success = 0
    /// Some files failed, some instances are missing at the destination, or not committed.
    case someFailed = 1
    /// The job or its manifest cannot be used: configuration, a manifest locked, damaged or missing.
    case usage = 2
    /// The destination is unreachable or out of resources: what is left stays planned.
    case destinationUnavailable = 3
    /// The job's time window closed (or `--until` came): what is left stays planned.
    case windowClosed = 4
    /// Stopped by SIGINT or SIGTERM: stores in flight finished, the rest stays planned.
    case interrupted = 130
}

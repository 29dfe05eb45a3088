import Dispatch
import Synchronization

/// Header-scans many files on every core; results keep the input order.
public enum ParallelScan {
    public static func summaries(
        _ paths: [String], options: ReadOptions = ReadOptions()
    ) -> [Result<HeaderSummary, DICOMError>] {
        let slots = Mutex<[Result<HeaderSummary, DICOMError>?]>(Array(repeating: nil, count: paths.count))
        DispatchQueue.concurrentPerform(iterations: paths.count) { i in
            let r = Result { () throws(DICOMError) in try HeaderScan.summary(path: paths[i], options: options) }
            slots.withLock { $0[i] = r }
        }
        return slots.withLock { $0.compactMap { $0 } }
    }
}

import FerryNetwork

/// What a sender does with the outcome of one store, as a value: `ferry run` retries by status
/// class, `ferry storescu` keeps DCMTK storescu's rules (no retries; a store without a status
/// ends the run unless --no-halt). Both ask the same function, so the rules are tested without
/// a socket (RetryPolicyTests).
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts per file when the outcome is unknown (timeout, abort or reset before the
    /// response: the peer may have stored it) and per file answered 0xA7xx.
    public var maxAttempts: Int
    /// Attempts per file answered 0xCxxx (cannot understand): the pipeline tries once more on a
    /// new association, since some PACS answer it for a transient fault.
    public var cannotUnderstandAttempts: Int
    /// 0xA7xx (out of resources) is the destination's state, not the file's: back off and try
    /// again instead of failing the file.
    public var backOffOnOutOfResources: Bool
    /// A store without a status (association failure, no presentation context, unreadable
    /// file) ends the run: DCMTK storescu's default.
    public var haltWithoutStatus: Bool
    /// Attempts to open an association before the destination counts as unreachable.
    public var openAttempts: Int
    public var whenUnreachable: Unreachable
    /// A file whose store had an unknown outcome is set aside, not sent again at once: the
    /// driver asks the destination whether it holds the instance first (check_before_resend).
    public var checkBeforeResend = false

    public enum Unreachable: Sendable, Equatable {
        /// The run pauses and every file stays planned for the next run (the pipeline).
        case pause
        /// The files of the association fail without a status (DCMTK storescu, exit code 1).
        case failFiles
    }

    public init(
        maxAttempts: Int, cannotUnderstandAttempts: Int, backOffOnOutOfResources: Bool, haltWithoutStatus: Bool,
        openAttempts: Int, whenUnreachable: Unreachable
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.cannotUnderstandAttempts = cannotUnderstandAttempts
        self.backOffOnOutOfResources = backOffOnOutOfResources
        self.haltWithoutStatus = haltWithoutStatus
        self.openAttempts = max(1, openAttempts)
        self.whenUnreachable = whenUnreachable
    }

    /// The migration pipeline's rules (README, "Retry policy of ferry run").
    public static func pipeline(maxAttempts: Int, checkBeforeResend: Bool = false) -> RetryPolicy {
        var p = RetryPolicy(
            maxAttempts: maxAttempts, cannotUnderstandAttempts: 2, backOffOnOutOfResources: true,
            haltWithoutStatus: false, openAttempts: maxAttempts, whenUnreachable: .pause)
        p.checkBeforeResend = checkBeforeResend
        return p
    }

    /// DCMTK storescu's: every file once; `halt` (no --no-halt) stops at a store without a status.
    public static func dcmtk(halt: Bool) -> RetryPolicy {
        RetryPolicy(
            maxAttempts: 1, cannotUnderstandAttempts: 1, backOffOnOutOfResources: false, haltWithoutStatus: halt,
            openAttempts: 1, whenUnreachable: .failFiles)
    }

    public enum Verdict: Sendable, Equatable {
        /// Stored: success, or a warning status (0x0001, 0x0107, 0x0116, 0xBxxx).
        case stored(warning: Bool)
        /// The file is failed; go on with the next.
        case failed
        /// Send the file again on a new association.
        case retryOnNewAssociation
        /// The destination is out of resources: wait, then send the file again.
        case backOff
        /// The file is failed and the run ends.
        case halt
        /// The outcome is unknown: ask the destination before sending it again.
        case setAside
    }

    /// The verdict on `outcome`, the file's `attempts`-th (counting this one).
    public func verdict(for outcome: StoreOutcome, attempts: Int) -> Verdict {
        if let status = outcome.status {
            switch status.category {
            case .success: return .stored(warning: false)
            case .warning: return .stored(warning: true)
            default:
                switch status.code {
                case 0xA700...0xA7FF:
                    return backOffOnOutOfResources ? .backOff : .failed
                case 0xC000...0xCFFF:
                    return attempts < cannotUnderstandAttempts ? .retryOnNewAssociation : .failed
                default:
                    return .failed
                }
            }
        }
        if haltWithoutStatus { return .halt }
        if outcome.error?.code == .association && attempts < maxAttempts {
            return checkBeforeResend ? .setAside : .retryOnNewAssociation
        }
        return .failed
    }
}

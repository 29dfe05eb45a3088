import FerryNetwork
import FerryServices
import TestSupport
import Testing

/// The retry policies of `ferry run` and `ferry storescu`, rule by rule, without a socket.
@Suite(.scratch)
struct RetryPolicyTests {
    let pipeline = RetryPolicy.pipeline(maxAttempts: 3)

    func answered(_ code: UInt16) -> StoreOutcome {
        StoreOutcome(path: "f.dcm", sopInstanceUID: "1.2.3", status: DIMSEStatus(code))
    }

    func unanswered(_ failure: ServiceError.Code) -> StoreOutcome {
        StoreOutcome(path: "f.dcm", sopInstanceUID: "1.2.3", error: ServiceError(failure, "test"))
    }

    @Test func successIsStored() {
        #expect(pipeline.verdict(for: answered(0x0000), attempts: 1) == .stored(warning: false))
        #expect(RetryPolicy.dcmtk(halt: true).verdict(for: answered(0x0000), attempts: 1) == .stored(warning: false))
    }

    @Test(arguments: [UInt16(0x0001), 0x0107, 0x0116, 0xB000, 0xB007, 0xB006])
    func warningIsStoredWithTheWarning(code: UInt16) {
        #expect(pipeline.verdict(for: answered(code), attempts: 1) == .stored(warning: true))
        #expect(RetryPolicy.dcmtk(halt: true).verdict(for: answered(code), attempts: 1) == .stored(warning: true))
    }

    /// 0xA7xx: the pipeline backs off on every attempt (the runner pauses the destination once
    /// they are spent); storescu fails the file and goes on, as DCMTK does with a status.
    @Test(arguments: [UInt16(0xA700), 0xA7FF])
    func outOfResourcesBacksOffInThePipelineAndFailsInStorescu(code: UInt16) {
        for attempt in 1...3 { #expect(pipeline.verdict(for: answered(code), attempts: attempt) == .backOff) }
        #expect(RetryPolicy.dcmtk(halt: true).verdict(for: answered(code), attempts: 1) == .failed)
    }

    /// 0xCxxx: once more on a new association, then failed.
    @Test(arguments: [UInt16(0xC000), 0xCFFF])
    func cannotUnderstandIsRetriedOnceOnANewAssociation(code: UInt16) {
        #expect(pipeline.verdict(for: answered(code), attempts: 1) == .retryOnNewAssociation)
        #expect(pipeline.verdict(for: answered(code), attempts: 2) == .failed)
        #expect(RetryPolicy.dcmtk(halt: true).verdict(for: answered(code), attempts: 1) == .failed)
    }

    /// Other failures (0xA9xx, 0x0122 SOP class not supported, 0x0211, 0xFE00 ...) fail the file.
    @Test(arguments: [UInt16(0xA900), 0xA9FF, 0x0122, 0x0211, 0x0110, 0xFE00])
    func otherFailuresFailTheFile(code: UInt16) {
        #expect(pipeline.verdict(for: answered(code), attempts: 1) == .failed)
        #expect(RetryPolicy.dcmtk(halt: true).verdict(for: answered(code), attempts: 1) == .failed)
    }

    /// Timeout, abort or reset before the response: the outcome is unknown; retried on a new
    /// association until max_attempts, then failed.
    @Test func unknownOutcomeIsRetriedUntilTheAttemptsAreSpent() {
        #expect(pipeline.verdict(for: unanswered(.association), attempts: 1) == .retryOnNewAssociation)
        #expect(pipeline.verdict(for: unanswered(.association), attempts: 2) == .retryOnNewAssociation)
        #expect(pipeline.verdict(for: unanswered(.association), attempts: 3) == .failed)
        #expect(RetryPolicy.pipeline(maxAttempts: 1).verdict(for: unanswered(.association), attempts: 1) == .failed)
    }

    /// check_before_resend: an unknown outcome sets the file aside for the check, within the
    /// attempts; a known failure is judged as without it.
    @Test func unknownOutcomeIsSetAsideForTheCheckBeforeResend() {
        let checking = RetryPolicy.pipeline(maxAttempts: 3, checkBeforeResend: true)
        #expect(checking.verdict(for: unanswered(.association), attempts: 1) == .setAside)
        #expect(checking.verdict(for: unanswered(.association), attempts: 3) == .failed)
        #expect(checking.verdict(for: answered(0xC000), attempts: 1) == .retryOnNewAssociation)
        var machine = SendStateMachine(.init(policy: checking))
        _ = machine.handle(.start)
        _ = machine.handle(.work(plan: 0, files: [7, 8]))
        _ = machine.handle(.opened(window: 1))
        _ = machine.handle(.marked(7, attempts: 1))
        let actions = machine.handle(.completed(7, unanswered(.association), associationUsable: false))
        #expect(actions.contains(.record(7, .setAside)))
        #expect(!machine.upcoming(5).contains(7), "a file set aside is not sent again by the machine")
    }

    /// No context can carry the file, or the file cannot be read: failed at once, never retried.
    @Test(arguments: [ServiceError.Code.noContext, .unreadableFile, .preparation])
    func unsendableFilesFailAtOnce(failure: ServiceError.Code) {
        #expect(pipeline.verdict(for: unanswered(failure), attempts: 1) == .failed)
    }

    /// storescu: a store without a status halts the run, unless --no-halt.
    @Test(arguments: [ServiceError.Code.association, .noContext, .unreadableFile])
    func storescuHaltsOnAStoreWithoutAStatusUnlessNoHalt(failure: ServiceError.Code) {
        #expect(RetryPolicy.dcmtk(halt: true).verdict(for: unanswered(failure), attempts: 1) == .halt)
        #expect(RetryPolicy.dcmtk(halt: false).verdict(for: unanswered(failure), attempts: 1) == .failed)
    }
}

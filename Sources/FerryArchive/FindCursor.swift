import FerryDICOM
import FerryServices
import Logging
import Synchronization

/// One C-FIND's answers read from an area's index a page at a time (keyset pagination on the
/// query level's ids), converted to the answer character set when one is set, within the
/// request's time budget.
final class FindCursor: FindAnswers {
    /// A page: at most this many answers, from at most this many candidate rows.
    static let pageAnswers = 64
    static let pageRows = 2000

    private let query: PreparedQuery
    private let index: ArchiveIndex
    private let retrieveAETitle: String
    private let answerCharset: AnswerCharset?
    private let budget: Duration
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        /// The id to resume after; nil once the index has no rows left.
        var after: Int64? = 0
        var spent: Duration = .zero
        var answered = 0
    }

    init(
        _ query: PreparedQuery, index: ArchiveIndex, retrieveAETitle: String, answerCharset: AnswerCharset?,
        budget: Duration, logger: Logger
    ) {
        self.query = query
        self.index = index
        self.retrieveAETitle = retrieveAETitle
        self.answerCharset = answerCharset
        self.budget = budget
        self.logger = logger
    }

    func next() throws(ServiceError) -> [DataSet]? {
        var state = self.state.withLock { $0 }
        defer { self.state.withLock { $0 = state } }
        guard let after = state.after else { return nil }
        guard state.spent < budget else {
            throw ServiceError(
                .refused,
                "the query passed its time budget of \(budget) (--max-query-time) after \(state.answered) answers",
                status: .outOfResources)
        }
        let clock = ContinuousClock()
        let start = clock.now
        let answers: [DataSet]
        do {
            (answers, state.after) = try index.findPage(
                query, after: after, limit: Self.pageAnswers, scanLimit: Self.pageRows, retrieveAETitle: retrieveAETitle
            )
        } catch {
            throw ServiceError(.refused, "the index cannot answer: \(error)", status: .unableToCalculateMatches)
        }
        state.spent += clock.now - start
        state.answered += answers.count
        return converted(answers)
    }

    private func converted(_ answers: [DataSet]) -> [DataSet] {
        guard let conversion = answerCharset else { return answers }
        let destination = conversion.destination(for: query.query)
        return answers.map { answer in
            if let converted = conversion.convert(answer, to: destination) { return converted }
            logger.warning(
                "cannot convert an answer from \(answer.string(QueryKeys.specificCharacterSet) ?? "ASCII") to \(destination.terms.isEmpty ? "ASCII" : destination.description): sent unconverted"
            )
            return answer
        }
    }
}

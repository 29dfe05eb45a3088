import FerryDICOM
import FerryNetwork

/// Query SCP, C-FIND (PS3.4 C.4.1): a pending response per match, each with its identifier,
/// then the final status. A C-CANCEL-RQ arriving meanwhile ends it with FE00 (PS3.7 9.3.2.3).
/// Answers are read from the provider a page at a time on the blocking pool and sent as
/// they come; a refusal midway (the request's time budget spent) ends it with its status.
struct FindHandler {
    let context: SessionContext
    init(_ context: SessionContext) { self.context = context }

    func serve(_ command: CommandSet, contextID: UInt8, identifier: [UInt8]) async throws {
        guard let provider = context.settings.queryRetrieve,
            let request = try await QueryRequest.read(
                command, contextID: contextID, identifier: identifier, in: context)
        else { return }
        let (association, logger, faults) = (context.association, context.logger, context.faults)
        let query = request.query
        func final(_ status: DIMSEStatus, _ comment: String? = nil) async throws {
            try await faults.apply(.finalResponse, logger: logger)
            try await association.sendCommand(
                .queryRSP(
                    .cFindRSP, respondingTo: request.messageID, sopClass: request.sopClass, status: status,
                    hasDataSet: false, errorComment: comment), contextID: contextID)
        }
        logger.info(
            "Received Find Request: MsgID \(request.messageID), \(query.model.rawValue) \(query.level.rawValue), \(query.keys.count) keys, from \(context.callingAE.escapedForLog())"
        )
        let answers: any FindAnswers
        do throws(ServiceError) { answers = try provider.find(query, calledAE: context.calledAE) } catch {
            logger.warning("Find refused: \(error)")
            return try await final(error.status ?? .unableToProcess, error.message)
        }
        let writer = DataSetWriter(encoding: context.encoding(contextID))
        let unsupported = query.unsupportedKeys
        if !unsupported.isEmpty {
            let named = unsupported.prefix(8).map(\.description).joined(separator: " ")
            logger.info(
                "Keys not supported (below the \(query.level.rawValue) level or in no model): \(named)\(unsupported.count > 8 ? " and \(unsupported.count - 8) more" : ""); answering FF01"
            )
        }
        let pending: DIMSEStatus = unsupported.isEmpty ? .pending : .pendingWarning
        var sent = 0
        while let page = try await Self.nextPage(answers) {
            let matches: [DataSet]
            switch page {
            case .success(let m): matches = m
            case .failure(let error):
                logger.warning("Find stopped after \(sent) matches: \(error)")
                return try await final(error.status ?? .unableToProcess, error.message)
            }
            for match in matches {
                if let cap = faults.capResults, sent >= cap {
                    logger.info("Find capped after \(cap) matches (--cap-results)")
                    return try await final(faults.capStatus, "results capped at \(cap)")
                }
                try await faults.apply(.pendingResponse(sent: sent), logger: logger)
                if try await request.cancelRequested(on: association) {
                    logger.info("Find cancelled after \(sent) matches")
                    return try await final(.cancel)
                }
                try await association.sendCommand(
                    .queryRSP(
                        .cFindRSP, respondingTo: request.messageID, sopClass: request.sopClass, status: pending,
                        hasDataSet: true),
                    contextID: contextID)
                var source = BytesSource(try writer.encode(match))
                try await association.sendDataSet(contextID: contextID, source: &source)
                sent += 1
            }
        }
        logger.info("Find answered: \(sent) matches")
        try await final(.success)
    }

    /// The next page of answers, read on the blocking pool: nil when there are none left.
    private static func nextPage(_ answers: any FindAnswers) async throws -> Result<[DataSet], ServiceError>? {
        try await BlockingPool.shared.run { () -> Result<[DataSet], ServiceError>? in
            do throws(ServiceError) { return try answers.next().map { .success($0) } } catch {
                return .failure(error)
            }
        }
    }
}

import FerryDICOM
import FerryNetwork

/// Query SCP, C-FIND (PS3.4 C.4.1): a pending response per match, each with its identifier,
/// then the final status. A C-CANCEL-RQ arriving meanwhile ends it with FE00 (PS3.7 9.3.2.3).
/// Matching runs on the blocking pool.
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
        let called = context.calledAE
        let result = try await BlockingPool.shared.run { () -> Result<[DataSet], ServiceError> in
            do throws(ServiceError) { return .success(try provider.find(query, calledAE: called)) } catch {
                return .failure(error)
            }
        }
        let matches: [DataSet]
        switch result {
        case .success(let m): matches = m
        case .failure(let error):
            logger.warning("Find refused: \(error)")
            return try await final(error.status ?? .unableToProcess, error.message)
        }
        let writer = DataSetWriter(encoding: context.encoding(contextID))
        let unsupported = query.unsupportedKeys
        if !unsupported.isEmpty {
            logger.info(
                "Keys below the \(query.level.rawValue) level are not supported: \(unsupported.map(\.description).joined(separator: " ")); answering FF01"
            )
        }
        let pending: DIMSEStatus = unsupported.isEmpty ? .pending : .pendingWarning
        for (i, match) in matches.enumerated() {
            if let cap = faults.capResults, i >= cap {
                logger.info("Find capped after \(cap) of \(matches.count) matches (--cap-results)")
                return try await final(faults.capStatus, "results capped at \(cap)")
            }
            try await faults.apply(.pendingResponse(sent: i), logger: logger)
            if try await request.cancelRequested(on: association) {
                logger.info("Find cancelled after \(i) of \(matches.count) matches")
                return try await final(.cancel)
            }
            try await association.sendCommand(
                .queryRSP(
                    .cFindRSP, respondingTo: request.messageID, sopClass: request.sopClass, status: pending,
                    hasDataSet: true),
                contextID: contextID)
            var source = BytesSource(try writer.encode(match))
            try await association.sendDataSet(contextID: contextID, source: &source)
        }
        logger.info("Find answered: \(matches.count) matches")
        try await final(.success)
    }
}

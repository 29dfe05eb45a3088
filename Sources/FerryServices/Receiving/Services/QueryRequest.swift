import FerryDICOM
import FerryNetwork

/// A C-FIND, C-MOVE or C-GET request whose identifier has arrived: what the find and
/// retrieve handlers share (reading the identifier, refusing it, pacing their responses).
struct QueryRequest {
    let command: CommandSet
    let contextID: UInt8
    let query: Query
    var messageID: UInt16 { command.messageID ?? 0 }
    var sopClass: String { command.affectedSOPClassUID ?? "" }

    /// The request read, or nil after its refusal was answered.
    static func read(
        _ command: CommandSet, contextID: UInt8, identifier bytes: [UInt8], in context: SessionContext
    ) async throws -> QueryRequest? {
        let sopClass = command.affectedSOPClassUID ?? context.association.context(contextID)?.abstractSyntax ?? ""
        do throws(ServiceError) {
            let query = try read(bytes, sopClass: sopClass, context: context, contextID: contextID)
            return QueryRequest(command: command, contextID: contextID, query: query)
        } catch {
            context.logger.warning("Request refused: \(error)")
            let field: CommandField =
                switch command.field {
                case .cMoveRQ?: .cMoveRSP
                case .cGetRQ?: .cGetRSP
                default: .cFindRSP
                }
            try await context.association.sendCommand(
                .queryRSP(
                    field, respondingTo: command.messageID ?? 0, sopClass: sopClass,
                    status: error.status ?? .unableToProcess, hasDataSet: false, errorComment: error.message),
                contextID: contextID)
            return nil
        }
    }

    /// The identifier read; refusals carry their status.
    private static func read(
        _ bytes: [UInt8], sopClass: String, context: SessionContext, contextID: UInt8
    ) throws(ServiceError) -> Query {
        guard let (model, _) = InformationModel.lookup(sopClass) else {
            throw ServiceError(.refused, "not a Query/Retrieve SOP class", status: .sopClassNotSupported)
        }
        let identifier: DataSet
        do { identifier = try DataSetDecoder.decode(bytes, encoding: context.encoding(contextID)) } catch {
            throw ServiceError(.refused, "undecodable identifier: \(error)", status: .unableToProcess)
        }
        var query = try Query(identifier: identifier, model: model)
        if let n = context.negotiated[sopClass] {
            query.relational = n.count > 0 && n[0] == 1
            query.combinedDateTime = n.count > 1 && n[1] == 1
        }
        return query
    }

    /// Whether the peer has sent a C-CANCEL-RQ for this request (read without waiting unless
    /// `poll` is false: with stores outstanding, the response reader keeps cancels for
    /// `takeCancel`). Any other request in the middle of an operation breaks PS3.7's
    /// one-operation rule.
    func cancelRequested(on association: Association, poll: Bool = true) async throws -> Bool {
        if association.takeCancel(respondingTo: messageID) { return true }
        guard poll else { return false }
        for part in try await association.poll() {
            switch part {
            case .command(let c, _) where c.field == .cCancelRQ:
                if c.messageIDBeingRespondedTo == messageID { return true }
            case .released, .aborted:
                throw AssociationError.closedByPeer(during: "a Query/Retrieve operation")
            default:
                throw AssociationError.protocolError("a request in the middle of a Query/Retrieve operation")
            }
        }
        return false
    }
}

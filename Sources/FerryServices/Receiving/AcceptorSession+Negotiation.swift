import FerryDICOM
import FerryNetwork

/// The answer to an A-ASSOCIATE-RQ: association limits, the archive's AE rules, the
/// acceptance policy, then what user information is granted.
extension AcceptorSession {
    func decide(_ rq: AssociateRQ) -> Association.AcceptDecision {
        if let gate {
            gate.waiting.leave(gate.ticket)
            if let overLimit = gate.associations.enter(peerHost) {
                logger.warning("Association Rejected from \(peer) (\(rq.callingAE.escapedForLog())): \(overLimit)")
                return .reject(.localLimitExceeded)
            }
            counted = true
        }
        if let provider = settings.queryRetrieve,
            let (rj, why) = provider.admits(calledAE: rq.calledAE, callingAE: rq.callingAE, host: peerHost)
        {
            logger.info("Association Rejected from \(peer) (\(rq.callingAE.escapedForLog())): \(why)")
            return .reject(rj)
        }
        switch settings.policy.evaluate(rq, host: peerHost) {
        case .reject(let rj, let why):
            logger.info("Association Rejected from \(peer) (\(rq.callingAE.escapedForLog())): \(why)")
            return .reject(rj)
        case .accept(let results):
            return .accept(restricted(results, of: rq), userInformation(answering: rq))
        }
    }

    private func userInformation(answering rq: AssociateRQ) -> UserInformation {
        var info = UserInformation(
            maxLength: settings.maxReceivePDU, implementationClassUID: UIDGenerator.implementationClassUID,
            implementationVersionName: UIDGenerator.implementationVersionName)
        // User identity is not checked (no user list is configured): no positive response is
        // given, as DCMTK's SCPs answer, rather than one that would claim a check.
        // Relational queries and combined date-time matching for the Q/R classes served.
        if settings.queryRetrieve != nil {
            info.extendedNegotiations = rq.userInformation.extendedNegotiations.filter {
                settings.policy.queryRetrieveSOPClasses.contains($0.sopClass)
            }.map { ExtendedNegotiation(sopClass: $0.sopClass, info: Query.extendedNegotiationAnswer($0.info)) }
        }
        // C-GET (PS3.4 C.5.3, PS3.7 D.3.3.4): a requestor that offers to be the Storage SCP
        // of a class gets the role, so this archive sends on its association.
        if settings.queryRetrieve != nil, settings.queryRetrieveGet {
            info.roleSelections = rq.userInformation.roleSelections.filter {
                $0.scp && settings.policy.supports($0.sopClass)
            }.map { RoleSelection(sopClass: $0.sopClass, scu: $0.scu, scp: true) }
        }
        // Storage commitment: the roles proposed are granted (the SCP that reports on a new
        // association asks for the SCP role, PS3.4 J.3.3).
        if settings.policy.storageCommitment {
            info.roleSelections += rq.userInformation.roleSelections.filter {
                $0.sopClass == StorageCommitment.sopClass
            }
        }
        // An Asynchronous Operations Window, granted up to our limit. Requests are still
        // served in order; a C-GET's sub-operations use the window the requestor performs.
        if let proposed = rq.userInformation.asyncOperationsWindow {
            info.asyncOperationsWindow = AsyncOperationsWindow.answer(to: proposed, grant: settings.asyncWindowGrant)
        }
        return info
    }

    /// dcmqrscp's --require-find and --no-parallel-store applied to the accepted contexts:
    /// refused (user rejection) as dcmqrscp refuses them.
    private func restricted(_ results: [PresentationContextResult], of rq: AssociateRQ) -> [PresentationContextResult] {
        let syntaxes = Dictionary(rq.presentationContexts.map { ($0.id, $0.abstractSyntax) }) { a, _ in a }
        let accepted = Set(results.filter { $0.result == .acceptance }.compactMap { syntaxes[$0.id] })
        func refused(_ r: PresentationContextResult) -> PresentationContextResult {
            PresentationContextResult(id: r.id, result: .userRejection, transferSyntax: "")
        }
        var storing = false
        var out = results.map { r -> PresentationContextResult in
            guard r.result == .acceptance, let syntax = syntaxes[r.id] else { return r }
            if settings.requireFind, let (model, op) = InformationModel.lookup(syntax), op != .find,
                !accepted.contains(model.sopClass(.find))
            {
                return refused(r)
            }
            if AcceptancePolicy.storageClasses.contains(syntax) { storing = true }
            return r
        }
        if storing, let claims = settings.storageClaims {
            if claims.claim(rq.calledAE) {
                claimedStorage = rq.calledAE
            } else {
                logger.info(
                    "\(rq.calledAE.escapedForLog()) is storing on another association: storage refused (--no-parallel-store)"
                )
                out = out.map { r in
                    guard r.result == .acceptance, let syntax = syntaxes[r.id],
                        AcceptancePolicy.storageClasses.contains(syntax)
                    else { return r }
                    return refused(r)
                }
            }
        }
        return out
    }
}

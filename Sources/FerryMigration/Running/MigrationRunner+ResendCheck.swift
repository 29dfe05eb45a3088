import FerryDICOM
import FerryNetwork
import FerryServices

extension MigrationRunner {
    /// `transfer.check_before_resend`: each file whose store had an unknown outcome (a timeout,
    /// abort or reset before the response, or a run that died during it) is looked for at the
    /// destination by C-FIND (Study Root, IMAGE level, with its study and series UIDs) before
    /// it is sent again. Found: recorded done, never sent twice. Absent: sent by the next pass.
    /// False when the destination could not be asked: the files wait for the next run.
    func checkBeforeResend() async throws -> Bool {
        let waiting = try await BlockingPool.shared.run { [manifest] in try manifest.awaitingResendCheck() }
        guard !waiting.isEmpty else { return true }
        let address = job.queryAddress
        let peer = "\(address.calledAE)@\(address.host):\(address.port)"
        var results: [(id: Int64, found: Bool)] = []
        var complete = true
        do {
            let association = try await job.openQueryAssociation(logger: logger)
            var session = Verifier.Session(association: association)
            do {
                for file in waiting where !stop.isSet {
                    var found = false
                    try await session.find([
                        (QueryKeys.queryRetrieveLevel, .CS, "IMAGE"), (QueryKeys.studyInstanceUID, .UI, file.study),
                        (QueryKeys.seriesInstanceUID, .UI, file.series), (QueryKeys.sopInstanceUID, .UI, file.uid),
                    ]) { answer in found = found || answer.string(QueryKeys.sopInstanceUID) == file.uid }
                    results.append((file.id, found))
                    logger.info("check before resend: \(file.uid) \(found ? "found" : "absent") at \(peer)")
                }
                complete = results.count == waiting.count
                try? await association.release()
            } catch {
                await association.abort()
                throw error
            }
        } catch {
            logger.error(
                "check before resend: cannot ask \(peer): \(error); \(waiting.count - results.count) files wait for the next run"
            )
            complete = false
        }
        try await manifest.recordResendCheck(results)
        return complete
    }
}

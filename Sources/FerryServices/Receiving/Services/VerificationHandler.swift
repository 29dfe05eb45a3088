import FerryNetwork

/// Verification SCP (PS3.4 A, PS3.7 9.1.5): a C-ECHO-RQ is answered Success.
struct VerificationHandler {
    let context: SessionContext
    init(_ context: SessionContext) { self.context = context }

    func serve(_ command: CommandSet, contextID: UInt8) async throws {
        try await context.association.sendCommand(.echoRSP(respondingTo: command.messageID ?? 0), contextID: contextID)
        context.logger.info("Received Echo Request from \(context.callingAE.escapedForLog()); answered Success")
    }
}

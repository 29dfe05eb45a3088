import FerryCodecs
import FerryDICOM
import FerryNetwork
import Logging

/// A file made ready for one association: its route and, when it must be re-encoded, the
/// bytes to send (or why they could not be made). Preparing is the CPU-heavy half of a send
/// (decoding, encoding, verifying), so a pipeline can prepare the next files on other cores
/// while this one travels.
public struct PreparedFile: Sendable {
    public let file: OutgoingFile
    public let route: Route
    /// For `.convert`: the encoded data set and the SOP Instance UID it carries.
    let encoded: Result<(bytes: [UInt8], instance: String), ServiceError>?
}

/// Sends one file on an established association: chooses the route (as is, converted, or
/// impossible), streams or re-encodes the data set, and reads the response.
public struct FileSender: Sendable {
    public var conversion: DataSetConversion
    public var priority: Priority
    /// What may be done to a file whose own syntax the destination did not accept.
    public var policy: TranscodingPolicy
    public var logger: Logger
    /// Set on the C-STORE-RQs of C-MOVE sub-operations.
    public var moveOriginator: (aeTitle: String, messageID: UInt16)?

    public init(
        conversion: DataSetConversion = DataSetConversion(), priority: Priority = .medium, policy: TranscodingPolicy,
        logger: Logger
    ) {
        self.conversion = conversion
        self.priority = priority
        self.policy = policy
        self.logger = logger
    }

    /// `begin` for a file prepared here and now (storescu: no preparation ahead).
    public func begin(
        _ file: OutgoingFile, on association: Association, invention: inout UIDInvention?
    ) async -> (outcome: StoreOutcome, messageID: UInt16?) {
        let route = await routeOffTheLoop(
            for: file, accepted: association.acceptedContexts, inventing: invention != nil)
        return await begin(prepare(file, route: route, invention: &invention), on: association)
    }

    /// `route(for:accepted:inventing:)` from a task that may run on an event loop: a route
    /// that reads the file (the companion syntax's JPEG probe) is chosen on the blocking pool.
    public func routeOffTheLoop(
        for file: OutgoingFile, accepted: [AcceptedContext], inventing: Bool = false
    ) async -> Route {
        guard Route.needsProbe(file, accepted: accepted) else {
            return route(for: file, accepted: accepted, inventing: inventing)
        }
        do {
            return try await BlockingPool.shared.run { route(for: file, accepted: accepted, inventing: inventing) }
        } catch {
            return .impossible("the blocking pool is closed")
        }
    }

    /// How `file` travels on these accepted contexts. Decided once per file and association
    /// and carried by the `PreparedFile`; the dry-run report and the probe judge files with it.
    /// An odd-length data set cannot travel as it is (PDVs are even): a deflated stream gets
    /// the NUL pad PS3.5 A.5 prescribes, anything else is re-encoded with even values.
    public func route(for file: OutgoingFile, accepted: [AcceptedContext], inventing: Bool = false) -> Route {
        let odd = file.dataSetLength % 2 == 1
        return Route.choose(
            for: file, accepted: accepted, policy: policy,
            mustRewrite: inventing || conversion.disableNewVRs || file.mustRewrite
                || (odd && !file.transferSyntax.isDeflated))
    }

    /// The file made ready for its route: for a conversion, read and re-encoded.
    public func prepare(_ file: OutgoingFile, route: Route) -> PreparedFile {
        var none: UIDInvention?
        return prepare(file, route: route, invention: &none)
    }

    public func prepare(_ file: OutgoingFile, route: Route, invention: inout UIDInvention?) -> PreparedFile {
        guard case .convert(_, let ts) = route else { return PreparedFile(file: file, route: route, encoded: nil) }
        do {
            var dicom = try Part10Reader.read(path: file.path)
            var instance = file.sopInstanceUID
            if invention != nil { instance = invention?.apply(to: &dicom.dataSet) ?? instance }
            // Pixel data changes form when either side is encapsulated (lossless results verified).
            let dataSet = try Transcoder(verifyLossless: policy.verify, pixelBudget: policy.pixelBudget).transcode(
                dicom.dataSet, from: file.transferSyntax, to: ts)
            instance = dataSet.string(.sopInstanceUID) ?? instance
            return PreparedFile(
                file: file, route: route, encoded: .success((try conversion.encode(dataSet, as: ts), instance)))
        } catch {
            return PreparedFile(
                file: file, route: route, encoded: .failure(ServiceError(.preparation, wrapping: error)))
        }
    }

    /// The first half of a store: the request and data set sent (with the message ID whose
    /// response completes it), or the outcome already final (no context, unreadable file,
    /// failed preparation, an association that failed while sending).
    public func begin(
        _ prepared: PreparedFile, on association: Association
    ) async -> (
        outcome: StoreOutcome, messageID: UInt16?
    ) {
        let file = prepared.file
        var outcome = StoreOutcome(path: file.path, sopInstanceUID: file.sopInstanceUID)
        logger.info("Sending file: \(file.path)")
        do {
            switch prepared.route {
            case .impossible(let reason):
                logger.error("No presentation context for: \(file.path): \(reason)")
                outcome.error = ServiceError(.noContext, reason)
                return (outcome, nil)
            case .asIs(let contextID, let ts):
                var source: FileRangeSource
                do {
                    source = try FileRangeSource(
                        path: file.path, offset: file.dataSetOffset, length: file.dataSetLength, padToEven: true)
                } catch {
                    outcome.error = ServiceError(.unreadableFile, wrapping: error)
                    return (outcome, nil)
                }
                outcome.sentAs = ts
                outcome.bytes = source.length
                let id = try await association.startStore(
                    sopClass: file.sopClassUID, sopInstance: file.sopInstanceUID,
                    contextID: contextID, data: &source, priority: priority, moveOriginator: moveOriginator)
                return (outcome, id)
            case .convert(let contextID, let ts):
                let encoded: (bytes: [UInt8], instance: String)
                switch prepared.encoded {
                case .success(let e)?: encoded = e
                case .failure(let e)?:
                    outcome.error = e
                    return (outcome, nil)
                case nil:
                    outcome.error = ServiceError(.preparation, "not prepared")
                    return (outcome, nil)
                }
                if file.transferSyntax != ts {
                    logger.info("Converting transfer syntax: \(file.transferSyntax.name) -> \(ts.name)")
                }
                var source = BytesSource(encoded.bytes)
                outcome.sentAs = ts
                outcome.bytes = source.length
                outcome.sopInstanceUID = encoded.instance
                let id = try await association.startStore(
                    sopClass: file.sopClassUID, sopInstance: encoded.instance,
                    contextID: contextID, data: &source, priority: priority, moveOriginator: moveOriginator)
                return (outcome, id)
            }
        } catch {
            return (failed(outcome, error), nil)
        }
    }

    /// A begun store with its response.
    public func complete(_ begun: StoreOutcome, response: CommandSet) -> StoreOutcome {
        var outcome = begun
        let status = response.status ?? DIMSEStatus(0xFFFF)
        outcome.status = status
        outcome.errorComment = response.errorComment
        switch status.category {
        case .success: logger.info("Received Store Response (Success)")
        case .warning:
            logger.warning(
                "Store Response: \(status)\(response.errorComment.map { " (\($0))" } ?? "") for \(outcome.path)")
        default:
            logger.error(
                "Store Failed, file: \(outcome.path): \(status)\(response.errorComment.map { " (\($0))" } ?? "")")
        }
        return outcome
    }

    /// A begun store whose association failed: its outcome is unknown.
    public func failed(_ begun: StoreOutcome, _ error: Error) -> StoreOutcome {
        var outcome = begun
        logger.error("Store Failed, file: \(outcome.path): \(error)")
        outcome.error = ServiceError(.association, wrapping: error)
        return outcome
    }
}

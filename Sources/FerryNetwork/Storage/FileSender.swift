import FerryCodecs
import FerryDICOM
import Logging

/// Sends one file on an established association: chooses the route (as is, converted, or
/// impossible), streams or re-encodes the data set, and reads the response.
public struct FileSender {
    public var conversion: DataSetConversion
    public var priority: Priority
    /// The -x preferred syntax for uncompressed files that need converting.
    public var preferred: TransferSyntax?
    public var logger: Logger

    public init(conversion: DataSetConversion = DataSetConversion(), priority: Priority = .medium, preferred: TransferSyntax?, logger: Logger) {
        self.conversion = conversion
        self.priority = priority
        self.preferred = preferred
        self.logger = logger
    }

    public func send(_ file: OutgoingFile, on association: Association) async -> StoreOutcome {
        var none: UIDInvention?
        return await send(file, on: association, invention: &none)
    }

    public func send(_ file: OutgoingFile, on association: Association, invention: inout UIDInvention?) async -> StoreOutcome {
        var outcome = StoreOutcome(path: file.path, sopInstanceUID: file.sopInstanceUID)
        let rewrite = invention != nil || conversion.disableNewVRs
        // An odd-length data set cannot travel as it is (PDVs are even): a deflated stream gets
        // the NUL pad PS3.5 A.5 prescribes, anything else is re-encoded with even values.
        let odd = file.dataSetLength % 2 == 1
        let route = Route.choose(for: file, accepted: association.acceptedContexts, preferred: preferred,
                                 mustRewrite: rewrite || (odd && !file.transferSyntax.isDeflated))
        logger.info("Sending file: \(file.path)")
        do {
            let response: CommandSet
            switch route {
            case .impossible(let reason):
                logger.error("No presentation context for: \(file.path): \(reason)")
                outcome.error = reason
                outcome.failure = .noContext
                return outcome
            case .asIs(let contextID, let ts):
                var source: FileRangeSource
                do {
                    source = try FileRangeSource(path: file.path, offset: file.dataSetOffset, length: file.dataSetLength, padToEven: true)
                } catch {
                    outcome.error = "\(error)"
                    outcome.failure = .file
                    return outcome
                }
                outcome.sentAs = ts
                outcome.bytes = source.length
                response = try await association.store(sopClass: file.sopClassUID, sopInstance: file.sopInstanceUID,
                                                       contextID: contextID, data: &source, priority: priority)
            case .convert(let contextID, let ts):
                let encoded: [UInt8]
                var instance = file.sopInstanceUID
                do {
                    var dicom = try Part10Reader.read(path: file.path)
                    if invention != nil { instance = invention?.apply(to: &dicom.dataSet) ?? instance }
                    // Pixel data changes form when either side is encapsulated (lossless results verified).
                    let dataSet = try Transcoder().transcode(dicom.dataSet, from: file.transferSyntax, to: ts)
                    encoded = try conversion.encode(dataSet, as: ts)
                } catch {
                    outcome.error = "\(error)"
                    outcome.failure = .file
                    return outcome
                }
                if file.transferSyntax != ts { logger.info("Converting transfer syntax: \(file.transferSyntax.name) -> \(ts.name)") }
                var source = BytesSource(encoded)
                outcome.sentAs = ts
                outcome.bytes = source.length
                outcome.sopInstanceUID = instance
                response = try await association.store(sopClass: file.sopClassUID, sopInstance: instance,
                                                       contextID: contextID, data: &source, priority: priority)
            }
            let status = response.status ?? DIMSEStatus(0xFFFF)
            outcome.status = status
            outcome.errorComment = response.errorComment
            switch status.category {
            case .success: logger.info("Received Store Response (Success)")
            case .warning: logger.warning("Store Response: \(status)\(response.errorComment.map { " (\($0))" } ?? "") for \(file.path)")
            default: logger.error("Store Failed, file: \(file.path): \(status)\(response.errorComment.map { " (\($0))" } ?? "")")
            }
        } catch {
            logger.error("Store Failed, file: \(file.path): \(error)")
            outcome.error = "\(error)"
            outcome.failure = .association
        }
        return outcome
    }
}

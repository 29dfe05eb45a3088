import FerryDICOM
import FerryNetwork
import FerryServices
import Glibc
import Logging

/// The storage areas of `ferry qrscp`, one per AE title of the configuration's AETable,
/// each with its own index (`ferry-index.sqlite` in the area): what the receiver stores is
/// indexed there, and C-FIND, C-MOVE and C-GET are answered from it.
///
/// Safer than dcmqrscp where a migration rehearsal needs it: a quota is refused with 0xA700
/// (dcmqrscp deletes the oldest studies), a duplicate SOP Instance UID keeps the file stored
/// first (dcmqrscp replaces it silently; `replaceDuplicates` does that), and there are no
/// fixed caps of 500 studies, 1 GiB per study or 10,000 images.
public final class Archive: QueryRetrieveProvider {
    public struct Options: Sendable {
        public var matcher = AttributeMatcher()
        /// -XF: C-FIND identifiers must follow the baseline hierarchical rules (else A900).
        public var checkFind = false
        /// -XM: C-MOVE and C-GET identifiers must hold unique keys only, hierarchically (else A900).
        public var checkMove = false
        /// -ZA/-ZH/-ZV: move destinations restricted to the mover's AE title, host or vendor.
        public var moveRestrictions: Set<MoveRestriction> = []
        /// Serve these models only (-QP/-QS/-QO remove one each).
        public var models: Set<InformationModel> = Set(InformationModel.allCases)
        public var replaceDuplicates = false
        /// dcmqrscp's +Cr/-Cr/+A7/+U8/+L1/+C/-Ct/-Cd; nil: answers in their records' own sets.
        public var answerCharset: AnswerCharset?
        /// --max-query-time: the time a C-FIND may spend reading the index (not waiting for
        /// its peer) before it ends with A700.
        public var maxQueryTime: Duration = .seconds(120)
        public init() {}
    }

    public enum MoveRestriction: Sendable, Hashable { case aeTitle, host, vendor }

    struct Area: Sendable {
        let entry: QRSCPConfiguration.Area
        let index: ArchiveIndex
    }

    public let configuration: QRSCPConfiguration
    public let options: Options
    let areas: [String: Area]
    let logger: Logger

    /// Opens (or creates) the index of every storage area; each area's directory must exist.
    public init(configuration: QRSCPConfiguration, options: Options = Options(), logger: Logger) throws {
        self.configuration = configuration
        self.options = options
        self.logger = logger
        var areas: [String: Area] = [:]
        for entry in configuration.areas {
            var st = stat()
            guard stat(entry.directory, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                throw ServiceError(
                    .configuration, "storage area \(entry.directory) of \(entry.aeTitle) is not a directory",
                    path: entry.directory)
            }
            areas[entry.aeTitle] = Area(
                entry: entry, index: try ArchiveIndex(path: entry.directory + "/ferry-index.sqlite"))
        }
        self.areas = areas
    }

    public func index(for aeTitle: String) -> ArchiveIndex? { areas[aeTitle]?.index }

    public func admits(calledAE: String, callingAE: String, host: String) -> (AssociateRJ, String)? {
        guard let area = areas[calledAE] else {
            return (.calledAENotRecognized, "called AE title \"\(calledAE.escapedForLog())\" is not in the AETable")
        }
        if let peers = area.entry.peers {
            // dcmqrscp's peerInAETitle: the calling AE title (exact) and the host (as written).
            guard peers.contains(where: { $0.aeTitle == callingAE && ($0.host.lowercased() == host.lowercased()) })
            else {
                return (
                    .callingAENotRecognized,
                    "calling AE title \"\(callingAE.escapedForLog())\" at \(host) may not use \(calledAE)"
                )
            }
        }
        return nil
    }

    public func storageDirectory(calledAE: String) -> String? {
        guard let area = areas[calledAE], area.entry.canWrite else { return nil }
        return area.entry.directory
    }

    public func find(_ query: Query, calledAE: String) throws(ServiceError) -> any FindAnswers {
        guard let area = areas[calledAE], area.entry.canRead else {
            throw ServiceError(.refused, "\(calledAE) has no read access", status: .outOfResources)
        }
        guard options.models.contains(query.model) else {
            throw ServiceError(.refused, "\(query.model.rawValue) is not served", status: .sopClassNotSupported)
        }
        if options.checkFind { try query.checkHierarchical() }
        return FindCursor(
            PreparedQuery(query, matcher: options.matcher), index: area.index, retrieveAETitle: calledAE,
            answerCharset: options.answerCharset, budget: options.maxQueryTime, logger: logger)
    }

    public func retrieve(_ query: Query, calledAE: String) throws(ServiceError) -> any RetrieveInstances {
        guard let area = areas[calledAE], area.entry.canRead else {
            throw ServiceError(.refused, "\(calledAE) has no read access", status: .unableToPerformSubOperations)
        }
        guard options.models.contains(query.model) else {
            throw ServiceError(.refused, "\(query.model.rawValue) is not served", status: .sopClassNotSupported)
        }
        if options.checkMove { try query.checkHierarchical(forRetrieve: true) }
        let deadline = ContinuousClock.now + options.maxQueryTime
        do {
            let ids = try area.index.instanceIDs(PreparedQuery(query, matcher: options.matcher), deadline: deadline)
            return RetrieveCursor(ids: ids, index: area.index)
        } catch is RetrieveBudgetSpent {
            throw ServiceError(
                .refused, "the matching passed its time budget of \(options.maxQueryTime) (--max-query-time)",
                status: .unableToCalculateMatches)
        } catch {
            throw ServiceError(.refused, "the index cannot answer: \(error)", status: .unableToCalculateMatches)
        }
    }

    public func moveDestination(
        _ aeTitle: String, calledAE: String, callingAE: String, host: String
    ) -> (host: String, port: Int)? {
        guard let peer = configuration.destination(aeTitle) else { return nil }
        let r = options.moveRestrictions
        // dcmqrscp's -ZA/-ZH/-ZV: the destination must be the mover itself, on its host, or of
        // its vendor (both in the HostTable group a VendorTable entry names).
        if r.contains(.aeTitle), aeTitle != callingAE { return nil }
        if r.contains(.host), !AcceptancePolicy.sameAddress(peer.host, host),
            peer.host.lowercased() != host.lowercased()
        {
            return nil
        }
        if r.contains(.vendor) {
            let sameVendor = configuration.vendors.values.contains { group in
                let members = configuration.hosts[group] ?? []
                return members.contains { $0.aeTitle == aeTitle } && members.contains { $0.aeTitle == callingAE }
            }
            if !sameVendor { return nil }
        }
        return (peer.host, peer.port)
    }

    public func stored(path: String, calledAE: String) throws(ServiceError) {
        guard let area = areas[calledAE] else {
            unlink(path)
            throw ServiceError(.refused, "no storage area for \(calledAE)", status: .outOfResources)
        }
        let instance: IndexedInstance
        do {
            let (layout, ds, size) = try HeaderScan.header(path: path)
            instance = try IndexedInstance(
                dataSet: ds, path: path, size: size, transferSyntaxUID: layout.transferSyntax.uid)
        } catch let e as ServiceError {
            unlink(path)
            throw ServiceError(.refused, e.message, path: path, status: .identifierDoesNotMatchStorage)
        } catch {
            unlink(path)
            throw ServiceError(.refused, "cannot index: \(error)", path: path, status: .unableToProcess)
        }
        do throws(ServiceError) {
            try checkQuota(area, instance)
        } catch {
            unlink(path)
            throw error
        }
        let addition: ArchiveIndex.Addition
        do { addition = try area.index.add(instance, replace: options.replaceDuplicates) } catch {
            unlink(path)
            throw ServiceError(.refused, "the index cannot record the instance: \(error)", status: .outOfResources)
        }
        switch addition {
        case .added: break
        case .contradicts(let reason):
            unlink(path)
            logger.error("instance \(instance.sopInstanceUID) refused: \(reason.escapedForLog())")
            throw ServiceError(.refused, reason, status: .identifierDoesNotMatchStorage)
        case .duplicate(let existing):
            // The first file stays; the new copy is not kept (answered as a success: the
            // archive holds the instance).
            if existing != path { unlink(path) }
            logger.info("duplicate SOP Instance UID \(instance.sopInstanceUID): keeping \(existing)")
        case .replaced(let old):
            // Only a file of the area itself goes: one indexed in place (--index-only) is the
            // legacy archive's, read-only to Ferry; the index now points to the new copy.
            if old != path, Self.isInside(old, directory: area.entry.directory) {
                unlink(old)
                logger.info("duplicate SOP Instance UID \(instance.sopInstanceUID): replaced \(old)")
            } else {
                logger.info(
                    "duplicate SOP Instance UID \(instance.sopInstanceUID): indexed \(path) instead of \(old), which is left as it is"
                )
            }
        }
    }

    /// Whether `path` lies inside `directory` (both resolved: no `..` or link leads out).
    static func isInside(_ path: String, directory: String) -> Bool {
        guard let file = realpath(path, nil), let dir = realpath(directory, nil) else { return false }
        defer {
            free(file)
            free(dir)
        }
        let (f, d) = (String(cString: file), String(cString: dir))
        return f.hasPrefix(d.hasSuffix("/") ? d : d + "/")
    }

    /// The AETable's quota, refused instead of enforced by deletion.
    private func checkQuota(_ area: Area, _ i: IndexedInstance) throws(ServiceError) {
        let usage: (studies: Int, studyBytes: Int, hasStudy: Bool)
        do { usage = try area.index.usage(study: i.studyInstanceUID) } catch {
            throw ServiceError(.refused, "the index cannot be read: \(error)", status: .outOfResources)
        }
        if !usage.hasStudy, usage.studies >= area.entry.maxStudies {
            throw ServiceError(
                .refused,
                "\(area.entry.aeTitle) holds its quota of \(area.entry.maxStudies) studies (refused, nothing deleted)",
                status: .outOfResources)
        }
        if usage.studyBytes + i.size > area.entry.maxBytesPerStudy {
            throw ServiceError(
                .refused,
                "the study would pass \(area.entry.aeTitle)'s quota of \(ByteCount.describe(area.entry.maxBytesPerStudy)) per study",
                status: .outOfResources)
        }
    }
}

extension DIMSEStatus {
    /// 0xA900 for a stored instance: Data Set does not match SOP Class (PS3.4 B.2.3).
    static let identifierDoesNotMatchStorage = DIMSEStatus(0xA900)
}

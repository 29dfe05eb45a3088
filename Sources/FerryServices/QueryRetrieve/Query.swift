import FerryDICOM
import FerryNetwork

/// A C-FIND, C-MOVE or C-GET identifier, read (PS3.4 C.4.1.1.3, C.4.2.1.4): its level, its
/// keys (what it matches on and what it asks back), the character set its values are in.
public struct Query: Sendable {
    public var model: InformationModel
    public var level: QueryLevel
    /// The identifier's keys, without its envelope (level, character set, retrieve AE title)
    /// and without the keys no model defines.
    public var keys: [DataElement]
    /// Keys no model defines (private tags, tags the data dictionary does not know): neither
    /// matched nor returned, as an SCP may do with optional keys it does not support (FF01).
    public var undefinedKeys: [Tag] = []
    public var charset: SpecificCharacterSet
    /// Negotiated by SOP class extended negotiation (PS3.4 C.5.1.1.1): relational queries
    /// (keys above the level need no unique keys), and DA/TM pairs matched as one date-time.
    public var relational = false
    public var combinedDateTime = false

    public init(model: InformationModel, level: QueryLevel, keys: [DataElement], charset: SpecificCharacterSet) {
        self.model = model
        self.level = level
        self.keys = keys
        self.charset = charset
    }

    /// Reads `identifier`; a missing or unknown level, or one the model lacks, is refused with
    /// A900 (Identifier does not match SOP Class), as DCMTK's dcmqrscp does.
    public init(identifier: DataSet, model: InformationModel) throws(ServiceError) {
        guard let text = identifier.string(QueryKeys.queryRetrieveLevel), let level = QueryLevel(rawValue: text) else {
            throw ServiceError(
                .refused,
                "Query/Retrieve Level (0008,0052) is \(identifier.string(QueryKeys.queryRetrieveLevel).map { "\"\($0.escapedForLog())\"" } ?? "missing")",
                status: .identifierDoesNotMatch)
        }
        guard model.levels.contains(level) else {
            throw ServiceError(
                .refused, "\(model.rawValue) has no \(level.rawValue) level", status: .identifierDoesNotMatch)
        }
        self.model = model
        self.level = level
        keys = []
        for element in identifier.elements where !QueryKeys.envelope.contains(element.tag) {
            guard !element.tag.isGroupLength else { continue }
            if QueryKeys.isDefined(element.tag) { keys.append(element) } else { undefinedKeys.append(element.tag) }
        }
        guard keys.count <= Self.maxKeys else {
            throw ServiceError(
                .refused, "the identifier holds \(keys.count) keys, more than the \(Self.maxKeys) answered",
                status: .outOfResources)
        }
        charset = SpecificCharacterSet(identifier.string(QueryKeys.specificCharacterSet))
    }

    /// The most keys an identifier may hold: each is answered in every response, so their
    /// number bounds a response's size (the dictionary has about 5,000 tags).
    public static let maxKeys = 1024

    /// Keys of a level below the query's and keys no model defines: neither matched nor
    /// returned. Answers then carry the pending status FF01 ("one or more Optional Keys were
    /// not supported", PS3.4 C.4.1.1.4), as dcmqrscp answers keys it does not support.
    public var unsupportedKeys: [Tag] { undefinedKeys + keys.map(\.tag).filter { level(of: $0) > level } }

    /// The key for `tag`, if the identifier has one.
    public func key(_ tag: Tag) -> DataElement? { keys.first { $0.tag == tag } }

    /// The values of a UID key (list of UID matching), or nil when it is absent or universal.
    public func uids(_ tag: Tag) -> [String]? {
        guard let text = key(tag)?.string, !text.isEmpty else { return nil }
        return text.split(separator: "\\").map { String($0).trimmed }
    }

    /// The level a key belongs to in this model: the Study Root model folds PATIENT into
    /// STUDY, Patient/Study Only folds SERIES and IMAGE attributes away.
    public func level(of tag: Tag) -> QueryLevel {
        let level = QueryKeys.level(of: tag)
        if model == .studyRoot, level == .patient { return .study }
        return level
    }

    /// Checks the baseline hierarchical rules (PS3.4 C.4.1.2.1, C.4.2.2.1) that dcmqrscp's
    /// -XF/-XM enforce: a single unique key value for every level above the query level, no
    /// keys of the levels below, only unique keys above. A900 when broken.
    public func checkHierarchical(forRetrieve: Bool = false) throws(ServiceError) {
        if relational && !forRetrieve { return }
        if forRetrieve {
            // A retrieve names what it moves by the query level's unique key (a list of values
            // at most, C.4.2.2.1): an empty or universal one would move the whole area.
            let unique = level.uniqueKey
            let value = (key(unique)?.string ?? "").trimmingCharacters(in: " \0")
            if value.isEmpty || value.contains("*") || value.contains("?") {
                throw ServiceError(
                    .refused,
                    "a retrieve at the \(level.rawValue) level needs its unique key \(unique) (not empty, no wild card)",
                    status: .identifierDoesNotMatch)
            }
        }
        for above in model.levels where above < level {
            let unique = above.uniqueKey
            guard let value = key(unique)?.string, !value.isEmpty else {
                throw ServiceError(
                    .refused, "no unique key \(unique) for the \(above.rawValue) level", status: .identifierDoesNotMatch
                )
            }
            if value.contains("\\") || value.contains("*") || value.contains("?") {
                throw ServiceError(
                    .refused, "the unique key \(unique) above the query level holds more than one value",
                    status: .identifierDoesNotMatch)
            }
        }
        for k in keys {
            let l = level(of: k.tag)
            if l > level {
                throw ServiceError(
                    .refused, "key \(k.tag) belongs to the \(l.rawValue) level, below \(level.rawValue)",
                    status: .identifierDoesNotMatch)
            }
            if l < level, k.tag != l.uniqueKey, QueryKeys.computed[k.tag] == nil {
                throw ServiceError(
                    .refused, "key \(k.tag) of the \(l.rawValue) level is not its unique key",
                    status: .identifierDoesNotMatch)
            }
            if forRetrieve, k.tag != l.uniqueKey {
                throw ServiceError(
                    .refused, "a retrieve identifier holds unique keys only, not \(k.tag)",
                    status: .identifierDoesNotMatch)
            }
        }
    }

    /// The DA/TM pairs combined date-time matching joins (PS3.4 C.2.2.2.5.1).
    public static let dateTimePairs: [(date: Tag, time: Tag)] = [
        (Tag(0x0008, 0x0020), Tag(0x0008, 0x0030)), (Tag(0x0008, 0x0021), Tag(0x0008, 0x0031)),
        (Tag(0x0008, 0x0022), Tag(0x0008, 0x0032)), (Tag(0x0008, 0x0023), Tag(0x0008, 0x0033)),
    ]

    /// The Q/R extended negotiation info Ferry answers for `requested` (PS3.4 C.5.1.1.2):
    /// relational and combined date-time matching when asked for, never fuzzy matching or
    /// timezone adjustment; as long as the request's.
    public static func extendedNegotiationAnswer(_ requested: [UInt8]) -> [UInt8] {
        requested.enumerated().map { i, byte in (i == 0 || i == 1) && byte == 1 ? 1 : 0 }
    }
}

import FerryDICOM

/// dcmqrscp's character set options for C-FIND answers: +Cr/-Cr (the request's set, or
/// always the given one), +A7/+U8/+L1/+C (the set to convert to), -Ct/-Cd (what becomes of a
/// character it cannot hold). Without them Ferry sends each answer in its record's own set
/// and bytes; with them, answers are re-encoded as dcmqrscp re-encodes them.
public struct AnswerCharset: Sendable {
    /// +Cr (default): convert to the request's Specific Character Set when it has one Ferry
    /// can encode; otherwise, and always with -Cr, to `target`.
    public var useRequestCharset = true
    public var target = SpecificCharacterSet.ascii
    public var unrepresentable = SpecificCharacterSet.Unrepresentable.fail

    public init() {}

    /// The set the answers to `query` are sent in.
    public func destination(for query: Query) -> SpecificCharacterSet {
        if useRequestCharset, !query.charset.terms.isEmpty, query.charset.canEncode { return query.charset }
        return target
    }

    /// `answer` re-encoded in `destination`, or nil when a value cannot be represented there
    /// (with `.fail`): the caller then sends it as it is, as dcmqrscp does.
    public func convert(_ answer: DataSet, to destination: SpecificCharacterSet) -> DataSet? {
        let source = SpecificCharacterSet(answer.string(QueryKeys.specificCharacterSet))
        if source == destination { return answer }
        guard var out = recode(answer, from: source, to: destination) else { return nil }
        if destination.terms.isEmpty {
            out[QueryKeys.specificCharacterSet] = nil
        } else {
            out.set(QueryKeys.specificCharacterSet, .CS, destination.description)
        }
        return out
    }

    /// The VRs whose values Specific Character Set governs (PS3.5 6.1.2.3).
    static let affected: Set<VR> = [.SH, .LO, .ST, .LT, .UT, .PN, .UC]

    private func recode(
        _ ds: DataSet, from source: SpecificCharacterSet, to destination: SpecificCharacterSet
    )
        -> DataSet?
    {
        var out = ds
        for e in ds.elements {
            if let items = e.items {
                var recoded: [DataSet] = []
                for item in items {
                    guard let r = recode(item, from: source, to: destination) else { return nil }
                    recoded.append(r)
                }
                out[e.tag] = DataElement(tag: e.tag, vr: e.vr, value: .sequence(recoded))
            } else if Self.affected.contains(e.vr), let bytes = e.bytes, !bytes.isEmpty {
                guard let encoded = destination.encode(source.decode(bytes), unrepresentable) else { return nil }
                out[e.tag] = DataElement(e.tag, e.vr, bytes: encoded)
            }
        }
        return out
    }
}

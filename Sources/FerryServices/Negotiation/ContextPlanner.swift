import FerryDICOM
import FerryNetwork

/// One association to open: the contexts to propose (at most 128, odd ids) and the files
/// (indices into the planner's input, in input order) that will be sent on it.
public struct AssociationPlan: Sendable {
    public var contexts: [PresentationContextProposal]
    public var files: [Int]
}

/// Turns files and proposal options into association plans. Contexts are grouped per SOP
/// class; a class's contexts always travel together. When everything fits in 128 contexts
/// there is one plan (as DCMTK storescu); otherwise the classes the files need are packed
/// into as many associations as it takes, instead of failing.
public enum ContextPlanner {
    public static let maxContexts = 128

    public static func plan(_ files: [OutgoingFile], options: ProposalOptions) -> [AssociationPlan] {
        // Ordered SOP class groups: abstract syntax -> transfer syntax lists (one per context).
        var order: [String] = []
        var groups: [String: [[String]]] = [:]
        func add(_ sop: String, _ contexts: [[String]]) {
            if groups[sop] == nil { order.append(sop); groups[sop] = [] }
            for c in contexts where !(groups[sop] ?? []).contains(c) { groups[sop]?.append(c) }
        }

        if let profile = options.profile {
            for c in profile.contexts { add(c.abstractSyntax, [c.transferSyntaxes]) }
        } else if !options.requiredOnly {
            for sop in DCMTKNames.storescuDefaultSOPClasses { add(sop, options.dcmtkContexts) }
        }
        // SOP classes of the files that the base proposal lacks, with the -x contexts.
        for f in files where groups[f.sopClassUID] == nil { add(f.sopClassUID, options.dcmtkContexts) }
        // Ferry's rule: an encapsulated file's own syntax (and its companion) is proposed.
        for f in files where f.transferSyntax.isEncapsulated {
            let own = f.transferSyntax.uid
            guard !(groups[f.sopClassUID] ?? []).contains(where: { $0.contains(own) }) else { continue }
            // Separate contexts even with +C: combined, the acceptor could pick the companion
            // and leave no context that carries a stream the companion does not describe.
            let companion = ProposalOptions.companion(of: f.transferSyntax)?.uid
            add(f.sopClassUID, [[own]] + (companion.map { [[$0]] } ?? []))
        }
        // The transcoding policy's syntaxes, for the classes that have files.
        if let policy = options.transcoding {
            for sop in orderedUnique(files.map(\.sopClassUID)) {
                for ts in policy.proposed where !(groups[sop] ?? []).contains([ts.uid]) { add(sop, [[ts.uid]]) }
            }
        }

        let needed = Set(files.map(\.sopClassUID))
        let total = order.reduce(0) { $0 + (groups[$1]?.count ?? 0) }
        var bins: [[String]] = []
        if total <= maxContexts {
            bins = [order]
        } else {
            // First fit: needed classes in order of first use, then optional ones where room is left.
            var sizes: [Int] = []
            let neededOrder = orderedUnique(files.map(\.sopClassUID))
            for sop in neededOrder {
                let n = min(groups[sop]?.count ?? 0, maxContexts)
                if let i = sizes.firstIndex(where: { $0 + n <= maxContexts }) {
                    bins[i].append(sop); sizes[i] += n
                } else {
                    bins.append([sop]); sizes.append(n)
                }
            }
            for sop in order where !needed.contains(sop) {
                let n = groups[sop]?.count ?? 0
                if let i = sizes.firstIndex(where: { $0 + n <= maxContexts }) {
                    bins[i].append(sop); sizes[i] += n
                }
            }
        }

        var plans: [AssociationPlan] = []
        var binOf: [String: Int] = [:]
        for (i, bin) in bins.enumerated() {
            var contexts: [PresentationContextProposal] = []
            for sop in bin {
                binOf[sop] = i
                for ts in groups[sop] ?? [] where contexts.count < maxContexts {
                    contexts.append(
                        PresentationContextProposal(
                            id: UInt8(2 * contexts.count + 1), abstractSyntax: sop, transferSyntaxes: ts))
                }
            }
            plans.append(AssociationPlan(contexts: contexts, files: []))
        }
        for (index, f) in files.enumerated() {
            if let b = binOf[f.sopClassUID] { plans[b].files.append(index) }
        }
        // Keep association order by first file; drop empty plans only if others carry files.
        let used = plans.filter { !$0.files.isEmpty }
        return (used.isEmpty ? Array(plans.prefix(1)) : used).sorted { ($0.files.first ?? 0) < ($1.files.first ?? 0) }
    }

    private static func orderedUnique(_ xs: [String]) -> [String] {
        var seen = Set<String>()
        return xs.filter { seen.insert($0).inserted }
    }
}

import FerryDICOM

/// Human-readable dumps of association PDUs for debug logs, in the spirit of DCMTK's.
/// User identity goes through `UserIdentity.description`, which redacts every secret.
public enum PDUDump {
    public static func associateRQ(_ rq: AssociateRQ) -> String {
        var lines = header(rq.callingAE, rq.calledAE, rq.userInformation)
        lines.append("Presentation Contexts:")
        for pc in rq.presentationContexts {
            lines.append("  Context ID: \(pc.id) (Proposed)")
            lines.append("    Abstract Syntax: \(name(pc.abstractSyntax))")
            lines.append("    Proposed Transfer Syntax(es):")
            for ts in pc.transferSyntaxes { lines.append("      \(name(ts))") }
        }
        lines.append(
            "Requested User Identity Negotiation: \(rq.userInformation.userIdentity.map { "\($0)" } ?? "none")")
        return lines.joined(separator: "\n")
    }

    public static func associateAC(_ ac: AssociateAC, proposed: [PresentationContextProposal]) -> String {
        var lines = header(ac.callingAE, ac.calledAE, ac.userInformation)
        let abstract = Dictionary(proposed.map { ($0.id, $0.abstractSyntax) }, uniquingKeysWith: { a, _ in a })
        lines.append("Presentation Contexts:")
        for r in ac.presentationContexts {
            lines.append(
                "  Context ID: \(r.id) (\(r.result == .acceptance ? "Accepted" : "Rejected: \(r.result.name)"))")
            lines.append("    Abstract Syntax: \(abstract[r.id].map(name) ?? "?")")
            if r.result == .acceptance { lines.append("    Accepted Transfer Syntax: \(name(r.transferSyntax))") }
        }
        lines.append(
            "User Identity Negotiation Response: \(ac.userInformation.userIdentityResponse.map { "\($0.count) bytes" } ?? "none")"
        )
        return lines.joined(separator: "\n")
    }

    private static func header(_ calling: String, _ called: String, _ u: UserInformation) -> [String] {
        [
            "Implementation Class UID: \(u.implementationClassUID.escapedForLog())",
            "Implementation Version Name: \((u.implementationVersionName ?? "").escapedForLog())",
            "Calling Application Name: \(calling.escapedForLog())",
            "Called Application Name: \(called.escapedForLog())",
            "Max PDU Receive Size: \(u.maxLength)",
        ]
    }

    static func name(_ uid: String) -> String {
        if let e = UIDRegistry.entry(for: uid) { return "\(e.name) (\(uid))" }
        return uid
    }
}

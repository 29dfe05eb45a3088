/// A presentation context as proposed in A-ASSOCIATE-RQ (PS3.8 9.3.2.2): an odd id,
/// one abstract syntax (SOP class) and the transfer syntaxes the requestor can use for it.
public struct PresentationContextProposal: Sendable, Equatable, Hashable {
    public var id: UInt8
    public var abstractSyntax: String
    public var transferSyntaxes: [String]

    public init(id: UInt8, abstractSyntax: String, transferSyntaxes: [String]) {
        self.id = id
        self.abstractSyntax = abstractSyntax
        self.transferSyntaxes = transferSyntaxes
    }
}

/// The acceptor's answer for one context (PS3.8 9.3.3.2, Table 9-18).
public struct PresentationContextResult: Sendable, Equatable {
    public enum Result: UInt8, Sendable {
        case acceptance = 0
        case userRejection = 1
        case noReason = 2
        case abstractSyntaxNotSupported = 3
        case transferSyntaxesNotSupported = 4

        public var name: String {
            switch self {
            case .acceptance: "accepted"
            case .userRejection: "user rejection"
            case .noReason: "no reason (provider rejection)"
            case .abstractSyntaxNotSupported: "abstract syntax not supported"
            case .transferSyntaxesNotSupported: "transfer syntaxes not supported"
            }
        }
    }

    public var id: UInt8
    public var result: Result
    /// The accepted transfer syntax; not significant unless accepted.
    public var transferSyntax: String

    public init(id: UInt8, result: Result, transferSyntax: String) {
        self.id = id
        self.result = result
        self.transferSyntax = transferSyntax
    }
}

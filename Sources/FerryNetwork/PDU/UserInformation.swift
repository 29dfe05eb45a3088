/// The user information item (PS3.7 D.3.3) and its sub-items.
public struct UserInformation: Sendable, Equatable {
    /// Maximum length of the variable field of P-DATA-TF PDUs this side receives; 0 = unlimited.
    public var maxLength: UInt32
    public var implementationClassUID: String
    public var implementationVersionName: String?
    public var asyncOperationsWindow: AsyncOperationsWindow?
    public var roleSelections: [RoleSelection] = []
    public var extendedNegotiations: [ExtendedNegotiation] = []
    public var userIdentity: UserIdentity?
    /// The acceptor's user identity response (server response field), when one was requested.
    public var userIdentityResponse: [UInt8]?
    /// Sub-items this implementation does not interpret (e.g. SOP class common extended
    /// negotiation, 0x57), kept so they can be logged.
    public var otherItems: [UnknownItem] = []

    public init(maxLength: UInt32, implementationClassUID: String, implementationVersionName: String?) {
        self.maxLength = maxLength
        self.implementationClassUID = implementationClassUID
        self.implementationVersionName = implementationVersionName
    }
}

/// Asynchronous Operations Window (PS3.7 D.3.3.3): how many operations the requestor may
/// invoke, and perform, before their responses; 0 means unlimited.
public struct AsyncOperationsWindow: Sendable, Equatable {
    public var maxInvoked: UInt16
    public var maxPerformed: UInt16
    public init(maxInvoked: UInt16, maxPerformed: UInt16) {
        self.maxInvoked = maxInvoked
        self.maxPerformed = maxPerformed
    }

    /// The acceptor's answer to `proposed`: each number at most `grant` (an unlimited
    /// proposal gets `grant`).
    public static func answer(to proposed: AsyncOperationsWindow, grant: UInt16) -> AsyncOperationsWindow {
        func limit(_ n: UInt16) -> UInt16 { n == 0 ? grant : min(n, grant) }
        return AsyncOperationsWindow(maxInvoked: limit(proposed.maxInvoked), maxPerformed: limit(proposed.maxPerformed))
    }
}

/// SCP/SCU role selection (PS3.7 D.3.3.4).
public struct RoleSelection: Sendable, Equatable {
    public var sopClass: String
    public var scu: Bool
    public var scp: Bool
    public init(sopClass: String, scu: Bool, scp: Bool) {
        self.sopClass = sopClass
        self.scu = scu
        self.scp = scp
    }
}

/// SOP class extended negotiation (PS3.7 D.3.3.5): opaque service-class application information.
public struct ExtendedNegotiation: Sendable, Equatable {
    public var sopClass: String
    public var info: [UInt8]
    public init(sopClass: String, info: [UInt8]) {
        self.sopClass = sopClass
        self.info = info
    }
}

public struct UnknownItem: Sendable, Equatable {
    public var type: UInt8
    public var bytes: [UInt8]
}

/// User identity negotiation (PS3.7 D.3.3.7). Secrets (passcode, Kerberos ticket, SAML
/// assertion, JWT) never appear in descriptions, logs or PDU dumps.
public struct UserIdentity: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum Kind: UInt8, Sendable {
        case username = 1, usernameAndPasscode = 2, kerberos = 3, saml = 4, jwt = 5
    }

    public var kind: Kind
    public var positiveResponseRequested: Bool
    public var primaryField: [UInt8]
    public var secondaryField: [UInt8]

    public init(kind: Kind, positiveResponseRequested: Bool, primaryField: [UInt8], secondaryField: [UInt8] = []) {
        self.kind = kind
        self.positiveResponseRequested = positiveResponseRequested
        self.primaryField = primaryField
        self.secondaryField = secondaryField
    }

    public static func username(_ name: String, passcode: String? = nil, positiveResponse: Bool = false) -> UserIdentity
    {
        UserIdentity(
            kind: passcode == nil ? .username : .usernameAndPasscode, positiveResponseRequested: positiveResponse,
            primaryField: Array(name.utf8), secondaryField: passcode.map { Array($0.utf8) } ?? [])
    }

    public var description: String {
        let response = positiveResponseRequested ? ", positive response requested" : ""
        switch kind {
        case .username:
            return "username \"\(String(decoding: primaryField, as: UTF8.self))\"\(response)"
        case .usernameAndPasscode:
            return "username \"\(String(decoding: primaryField, as: UTF8.self))\", passcode <redacted>\(response)"
        case .kerberos: return "Kerberos ticket <redacted, \(primaryField.count) bytes>\(response)"
        case .saml: return "SAML assertion <redacted, \(primaryField.count) bytes>\(response)"
        case .jwt: return "JWT <redacted, \(primaryField.count) bytes>\(response)"
        }
    }

    public var debugDescription: String { description }
}

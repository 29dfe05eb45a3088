import FerryDICOM
import NIOSSL

/// TLS settings shared by client and server (DCMTK's +tls family of options).
public struct TLSOptions: Sendable {
    public enum KeyFormat: Sendable { case pem, der }
    public enum PeerVerification: Sendable {
        /// Verify the peer's certificate; fail if it has none (DCMTK -rc, the default).
        case require
        /// Verify the certificate if the peer presents one (DCMTK -vc; meaningful on the server side).
        case verifyIfPresent
        /// Accept any certificate (DCMTK -ic).
        case ignore
    }

    /// Our certificate and private key (nil for anonymous TLS, +tla).
    public var certificateFile: String?
    public var privateKeyFile: String?
    /// Password of an encrypted private key. Never logged.
    public var privateKeyPassword: String?
    public var format: KeyFormat = .pem
    public var trustedCertificateFiles: [String] = []
    public var trustedCertificateDirectories: [String] = []
    public var verification: PeerVerification = .require
    /// Cipher suites by OpenSSL or IANA name (DCMTK +cs); empty = the library's defaults for
    /// TLS 1.2+. Names outside `CipherSuites.known` are refused.
    public var cipherSuites: [String] = []
    /// TLS 1.2 is the floor unless lowered explicitly.
    public var minimumVersion: TLSVersion = .tlsv12
    /// Trust the system's CA bundle. Never implied: verifying against no trust anchors is a
    /// configuration error, not a silent fall-back to every public CA.
    public var systemTrustStore = false
    /// The client checks that the peer's certificate names the destination: its DNS name, or
    /// its IP address when it is given as one (RFC 6125; DCMTK checks the chain alone).
    public var checkHostName = true
    /// Certificates the peer's must be one of (PEM or DER files): pinning, checked after the
    /// chain and the name.
    public var pinnedCertificateFiles: [String] = []

    public init() {}

    var nioFormat: NIOSSLSerializationFormats { format == .pem ? .pem : .der }

    func certificateChain() throws -> [NIOSSLCertificateSource] {
        guard let file = certificateFile else { return [] }
        do {
            return try NIOSSLCertificate.fromPEMFile(file).map { .certificate($0) }
        } catch  where format == .der {
            return [.certificate(try NIOSSLCertificate.fromDERFile(file))]
        } catch {
            throw AssociationError.tls("cannot read certificate file \(file): \(error)", underlying: error)
        }
    }

    func privateKey() throws -> NIOSSLPrivateKeySource? {
        guard let file = privateKeyFile else { return nil }
        do {
            if let password = privateKeyPassword {
                let bytes = Array(password.utf8)
                return .privateKey(try NIOSSLPrivateKey(file: file, format: nioFormat) { setter in setter(bytes) })
            }
            return .privateKey(try NIOSSLPrivateKey(file: file, format: nioFormat))
        } catch {
            // The error text of a wrong password never contains the password itself.
            throw AssociationError.tls("cannot read private key file \(file) (wrong password or format?)")
        }
    }

    func trustRoots() throws -> NIOSSLTrustRoots {
        var certificates: [NIOSSLCertificate] = []
        for file in trustedCertificateFiles {
            do {
                certificates +=
                    format == .pem ? try NIOSSLCertificate.fromPEMFile(file) : [try NIOSSLCertificate.fromDERFile(file)]
            } catch {
                throw AssociationError.tls("cannot read CA certificate file \(file): \(error)", underlying: error)
            }
        }
        for dir in trustedCertificateDirectories {
            for file in DirectoryWalker(recursive: false, symlinks: .follow).files(under: [dir]).sorted() {
                if let certs = try? NIOSSLCertificate.fromPEMFile(file) { certificates += certs }
            }
        }
        let none = trustedCertificateFiles.isEmpty && trustedCertificateDirectories.isEmpty
        if none && systemTrustStore { return .default }
        if none && verification != .ignore {
            throw AssociationError.tls(
                "no trust anchors to verify the peer with: give CA certificates (+cf FILE, +cd DIR; ca_files in a job) or choose the system's (--tls-system-ca; system_ca: true)"
            )
        }
        return .certificates(certificates)
    }

    /// The client's context, with the pinned certificates.
    public func client() throws -> TLSClient {
        var pinned: [[UInt8]] = []
        for file in pinnedCertificateFiles {
            do {
                let certificates =
                    try (try? NIOSSLCertificate.fromPEMFile(file)) ?? [NIOSSLCertificate.fromDERFile(file)]
                pinned += try certificates.map { try $0.toDERBytes() }
            } catch {
                throw AssociationError.tls("cannot read pinned certificate file \(file): \(error)", underlying: error)
            }
        }
        return TLSClient(context: try clientContext(), pinned: pinned)
    }

    func clientContext() throws -> NIOSSLContext {
        var c = TLSConfiguration.makeClientConfiguration()
        c.minimumTLSVersion = minimumVersion
        c.certificateChain = try certificateChain()
        c.privateKey = try privateKey()
        c.trustRoots = try trustRoots()
        c.certificateVerification =
            verification == .ignore ? .none : checkHostName ? .fullVerification : .noHostnameVerification
        if !cipherSuites.isEmpty { c.cipherSuites = try CipherSuites.cipherString(cipherSuites) }
        do { return try NIOSSLContext(configuration: c) } catch {
            throw AssociationError.tls("cannot set up the TLS context: \(error)", underlying: error)
        }
    }

    public func serverContext() throws -> NIOSSLContext {
        let chain = try certificateChain()
        guard let key = try privateKey(), !chain.isEmpty else {
            throw AssociationError.tls("a TLS server needs a certificate and a private key")
        }
        var c = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: key)
        c.minimumTLSVersion = minimumVersion
        c.trustRoots = try trustRoots()
        switch verification {
        case .require: c.certificateVerification = .noHostnameVerification
        case .verifyIfPresent: c.certificateVerification = .optionalVerification
        case .ignore: c.certificateVerification = .none
        }
        if !cipherSuites.isEmpty { c.cipherSuites = try CipherSuites.cipherString(cipherSuites) }
        do { return try NIOSSLContext(configuration: c) } catch {
            throw AssociationError.tls("cannot set up the TLS context: \(error)", underlying: error)
        }
    }
}

/// What a requestor's TLS needs per connection: the context, and the certificates the peer's
/// must be one of (empty: any that passes verification).
public struct TLSClient: Sendable {
    public let context: NIOSSLContext
    public let pinned: [[UInt8]]

    /// The channel handler for a connection to `host` (SNI and name checks for DNS names; an
    /// IP address is checked against the certificate's IP addresses).
    func handler(host: String) throws -> NIOSSLClientHandler {
        let serverName = isIPAddress(host) ? nil : host
        guard !pinned.isEmpty else { return try NIOSSLClientHandler(context: context, serverHostname: serverName) }
        let pinned = pinned
        // swift-nio-ssl's hook after its own verification (chain and name) succeeded.
        return try NIOSSLClientHandler._makeSSLClientHandler(context: context, serverHostname: serverName) {
            certificate, channel in
            let der = try? certificate.toDERBytes()
            guard let der, pinned.contains(der) else {
                return channel.eventLoop.makeFailedFuture(
                    AssociationError.tls("the peer's certificate is not one of the pinned certificates"))
            }
            return channel.eventLoop.makeSucceededVoidFuture()
        }
    }
}

/// TLS 1.2 cipher suites Ferry offers for DCMTK's +cs, by OpenSSL and IANA name. swift-nio-ssl
/// hands the cipher string straight to BoringSSL and traps on one it rejects, so names are
/// checked here first and an unknown one is a clear error instead.
enum CipherSuites {
    /// (OpenSSL name, IANA name)
    static let known: [(String, String)] = [
        ("ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        ("ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        ("ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
        ("ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        ("ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
        ("ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
        ("ECDHE-ECDSA-AES128-SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
        ("ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
        ("ECDHE-ECDSA-AES256-SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
        ("ECDHE-RSA-AES256-SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
        ("AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256"),
        ("AES256-GCM-SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384"),
        ("AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"),
        ("AES256-SHA", "TLS_RSA_WITH_AES_256_CBC_SHA"),
    ]

    /// The BoringSSL cipher string for `names`, or the error naming the first unknown one.
    static func cipherString(_ names: [String]) throws -> String {
        try names.map { name in
            guard let entry = known.first(where: { $0.0 == name || $0.1 == name }) else {
                throw AssociationError.tls(
                    "unknown or unsupported cipher suite \"\(name)\"; known: \(known.map(\.1).joined(separator: ", "))")
            }
            return entry.0
        }.joined(separator: ":")
    }
}

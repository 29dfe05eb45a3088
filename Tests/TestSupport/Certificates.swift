import Foundation

/// Test certificates made by openssl: a CA, server and client certificates signed by it (named
/// 127.0.0.1, ::1 and localhost), one signed by it for elsewhere.example.org only, an
/// unrelated CA ("other"), the client key encrypted with the password `k3y-s3cret`
/// (client-encrypted.key), and a CA directory (cadir/).
public enum Certificates {
    public static let clientKeyPassword = "k3y-s3cret"

    /// A new directory holding them.
    public static func make() throws -> String {
        let dir = try Corpus.temporaryDirectory("tls")
        let script = """
            set -e
            cd '\(dir)'
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj '/CN=Ferry Test CA' 2>/dev/null
            echo "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" > names.ext
            echo "subjectAltName=DNS:elsewhere.example.org" > elsewhere.ext
            for n in server client elsewhere; do
              ext=names.ext; [ $n = elsewhere ] && ext=elsewhere.ext
              openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj "/CN=$n" 2>/dev/null
              openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt -days 2 -extfile $ext 2>/dev/null
            done
            openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 -subj '/CN=Other CA' 2>/dev/null
            openssl pkey -in client.key -aes256 -passout pass:\(clientKeyPassword) -out client-encrypted.key
            mkdir cadir && cp ca.crt cadir/
            """
        let out = try Tools.run("/bin/sh", ["-c", script])
        guard out.status == 0 else { throw PeerError(message: "openssl failed: \(out.stderr)") }
        return dir
    }
}

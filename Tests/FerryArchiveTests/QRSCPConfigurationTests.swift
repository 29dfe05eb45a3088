import FerryServices
import Foundation
import TestSupport
import Testing

@testable import FerryArchive

/// dcmqrscp's configuration file grammar (issue 15).
@Suite(.scratch)
struct QRSCPConfigurationTests {
    /// Debian's /etc/dcmtk/dcmqrscp.cfg with its examples enabled and the paths made
    /// temporary: accepted unchanged apart from paths.
    @Test func debiansExampleFileIsAcceptedWithItsExamplesEnabled() throws {
        let dir = try Corpus.temporaryDirectory("qr-config")
        let debian = try String(contentsOfFile: "/etc/dcmtk/dcmqrscp.cfg", encoding: .utf8)
        var enabled = ""
        for line in debian.split(separator: "\n", omittingEmptySubsequences: false) {
            let l = String(line)
            // The commented examples of each table (not the prose around them).
            if l.hasPrefix("#acme") || l.hasPrefix("#united") || l.hasPrefix("#\"") || l.hasPrefix("#ACME_STORE")
                || l.hasPrefix("#UNITED_STORE") || l.hasPrefix("#READ")
            {
                enabled += String(l.dropFirst()).replacingOccurrences(of: "/var/lib/dcmtk/db", with: dir) + "\n"
            } else {
                enabled += l + "\n"
            }
        }
        let path = dir + "/dcmqrscp.cfg"
        try enabled.write(toFile: path, atomically: true, encoding: .utf8)
        let c = try QRSCPConfiguration(contentsOf: path)
        #expect(c.port == 104 && c.maxPDUSize == 16384 && c.maxAssociations == 16)
        #expect(c.userName == "dcmtk" && c.groupName == "dcmtk")
        #expect(c.hosts["acmeCTcompany"]?.map(\.aeTitle) == ["ACME1", "ACME2"])
        #expect(c.vendors["Acme CT Company"] == "acmeCTcompany")
        let names = c.areas.map(\.aeTitle)
        #expect(names == ["ACME_STORE", "UNITED_STORE", "READWRITE", "READ"])
        let acme = try #require(c.areas.first)
        #expect(acme.directory == dir + "/ACME_STORE" && acme.canRead && acme.canWrite)
        #expect(acme.maxStudies == 9 && acme.maxBytesPerStudy == 1024 << 20)
        #expect(acme.peers?.map(\.host) == ["acmehost1", "acmehost2"])
        let read = try #require(c.areas.last)
        #expect(read.canRead && !read.canWrite && read.peers == nil && read.maxStudies == 200)
        // Move destinations: AETable peer lists, then the HostTable.
        #expect(c.destination("UNITED2") == .init(aeTitle: "UNITED2", host: "unitedhost2", port: 104))
        #expect(c.destination("NOBODY") == nil)
    }

    @Test(arguments: [
        ("AETable BEGIN\nX /tmp RW (9, 1mb) nosuchname\nAETable END\n", 2, "unknown symbolic name nosuchname"),
        ("HostTable BEGIN\na = (A, h)\nHostTable END\n", 2, "a peer is (AE title, host, port)"),
        ("AETable BEGIN\nX /tmp RX (9, 1mb) ANY\nAETable END\n", 2, "access RX is not R, RW or W"),
        ("NetworkTCPPort = 99999\n", 1, "NetworkTCPPort 99999"),
        ("AETable BEGIN\nX /tmp RW (nine, 1mb) ANY\nAETable END\n", 2, "quota (nine, 1mb) is not (studies, size)"),
        ("Bogus = 1\n", 1, "unknown parameter Bogus"),
    ])
    func malformedEntriesAreRefusedWithTheirLine(text: String, line: Int, message: String) throws {
        #expect {
            try QRSCPConfiguration(text: text, path: "t.cfg")
        } throws: { error in
            guard let e = error as? ServiceError else { return false }
            return e.code == .configuration && e.line == line && e.message.contains(message)
        }
    }
}

import FerryDICOM
import FerryNetwork
import Testing

@testable import FerryServices

/// The acceptance policy's host restriction, which Ferry's storage commitment listener uses to
/// take reports from the destination's host only.
@Suite struct AcceptancePolicyTests {
    static func request() -> AssociateRQ {
        AssociateRQ(
            calledAE: "FERRY", callingAE: "PACS",
            presentationContexts: [
                PresentationContextProposal(
                    id: 1, abstractSyntax: StorageCommitment.sopClass,
                    transferSyntaxes: [TransferSyntax.implicitVRLittleEndian.uid])
            ],
            userInformation: UserInformation(
                maxLength: 16384, implementationClassUID: "1.2.3", implementationVersionName: nil))
    }

    @Test func aListenerTakesAssociationsFromItsHostsOnly() {
        var policy = AcceptancePolicy.commitmentListener(aeTitle: "FERRY")
        policy.allowedHosts = ["127.0.0.1"]
        guard case .accept = policy.evaluate(Self.request(), host: "127.0.0.1") else {
            Issue.record("the destination's own address was refused")
            return
        }
        guard case .accept = policy.evaluate(Self.request(), host: "::ffff:127.0.0.1") else {
            Issue.record("the same address, IPv4-mapped, was refused")
            return
        }
        guard case .reject(_, let why) = policy.evaluate(Self.request(), host: "10.1.2.3") else {
            Issue.record("another host was accepted")
            return
        }
        #expect(why.contains("10.1.2.3"))
        policy.allowedHosts = nil
        guard case .accept = policy.evaluate(Self.request(), host: "10.1.2.3") else {
            Issue.record("without a restriction, any host is taken")
            return
        }
    }
}

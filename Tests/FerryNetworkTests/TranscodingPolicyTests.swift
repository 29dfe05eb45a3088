import FerryDICOM
import FerryNetwork
import FerryServices
import Testing

/// Route decisions under a transcoding policy, over contexts a destination accepted.
@Suite(.scratch)
struct TranscodingPolicyTests {
    let ct = "1.2.840.10008.5.1.4.1.1.2"

    func file(_ ts: TransferSyntax) -> OutgoingFile {
        OutgoingFile(
            path: "/nonexistent", sopClassUID: ct, sopInstanceUID: "1.2.3", transferSyntax: ts, dataSetOffset: 0,
            fileSize: 100)
    }

    func accepted(_ syntaxes: [TransferSyntax]) -> [AcceptedContext] {
        syntaxes.enumerated().map {
            AcceptedContext(id: UInt8(2 * $0.offset + 1), abstractSyntax: ct, transferSyntax: $0.element.uid)
        }
    }

    func target(_ route: Route) -> TransferSyntax? {
        switch route {
        case .asIs(_, let ts), .convert(_, let ts): ts
        case .impossible: nil
        }
    }

    @Test func ownSyntaxFirstThenTheOrder() {
        let all = accepted([.explicitVRLittleEndian, .rleLossless, .jpegLSLossless, .jpeg2000Lossless])
        let policy = TranscodingPolicy()
        #expect(
            Route.choose(for: file(.rleLossless), accepted: all, policy: policy)
                == .asIs(contextID: 3, transferSyntax: .rleLossless))
        // 4.57 refused: the default order's first accepted lossless syntax, JPEG-LS.
        #expect(
            target(Route.choose(for: file(.jpegLosslessProcess14), accepted: all, policy: policy)) == .jpegLSLossless)
        // A configured order wins.
        let rleFirst = TranscodingPolicy(order: [.rleLossless, .jpegLSLossless])
        #expect(
            target(Route.choose(for: file(.jpegLosslessProcess14), accepted: all, policy: rleFirst)) == .rleLossless)
        // Uncompressed files stay uncompressed where an uncompressed syntax was accepted.
        #expect(
            target(Route.choose(for: file(.implicitVRLittleEndian), accepted: all, policy: policy))
                == .explicitVRLittleEndian)
        // ... and are compressed losslessly only when none was.
        let compressedOnly = accepted([.jpeg2000Lossless, .rleLossless])
        #expect(
            target(Route.choose(for: file(.implicitVRLittleEndian), accepted: compressedOnly, policy: policy))
                == .jpeg2000Lossless)
    }

    @Test func lossyOnlyWithAllowLossy() {
        let lossyOnly = accepted([.jpegBaseline, .jpeg2000])
        let strict = TranscodingPolicy(order: [.jpeg2000, .jpegBaseline])
        guard
            case .impossible(let reason) = Route.choose(
                for: file(.explicitVRLittleEndian), accepted: lossyOnly, policy: strict)
        else {
            Issue.record("a lossy encoding without allow_lossy"); return
        }
        #expect(reason.contains("allow_lossy"))
        let lossy = TranscodingPolicy(order: [.jpeg2000, .jpegBaseline], allowLossy: true)
        #expect(
            target(Route.choose(for: file(.explicitVRLittleEndian), accepted: lossyOnly, policy: lossy)) == .jpeg2000)
        // A lossy source may always be decoded to an uncompressed syntax.
        #expect(
            target(
                Route.choose(
                    for: file(.jpegBaseline), accepted: accepted([.explicitVRLittleEndian]), policy: TranscodingPolicy()
                )) == .explicitVRLittleEndian)
    }

    @Test func targetCompressesEverythingItCan() {
        let all = accepted([.explicitVRLittleEndian, .jpegLSLossless, .rleLossless])
        let policy = TranscodingPolicy(target: .jpegLSLossless)
        #expect(
            target(Route.choose(for: file(.explicitVRLittleEndian), accepted: all, policy: policy)) == .jpegLSLossless)
        #expect(target(Route.choose(for: file(.rleLossless), accepted: all, policy: policy)) == .jpegLSLossless)
        #expect(
            Route.choose(for: file(.jpegLSLossless), accepted: all, policy: policy)
                == .asIs(contextID: 3, transferSyntax: .jpegLSLossless))
        // Not accepted: the usual rules.
        let noTarget = accepted([.explicitVRLittleEndian, .rleLossless])
        #expect(
            Route.choose(for: file(.explicitVRLittleEndian), accepted: noTarget, policy: policy)
                == .asIs(contextID: 1, transferSyntax: .explicitVRLittleEndian))
    }

    @Test func namesAndProposals() {
        #expect(TransferSyntaxNames.lookup("jpeg-ls-lossless") == .jpegLSLossless)
        #expect(TransferSyntaxNames.lookup("JPEG2000LosslessOnly") == .jpeg2000Lossless)
        #expect(TransferSyntaxNames.lookup("1.2.840.10008.1.2.5") == .rleLossless)
        #expect(TransferSyntaxNames.lookup("no-such-syntax") == nil)
        // One table: a name means the same syntax for jobs and for ferry transcode.
        #expect(TransferSyntaxNames.lookup("jpeg-lossless") == .jpegLosslessProcess14)
        #expect(TransferSyntaxNames.lookup("jpeg-lossless-sv1") == .jpegLosslessSV1)
        #expect(
            TransferSyntaxNames.lookup("explicit") == .explicitVRLittleEndian
                && TransferSyntaxNames.lookup("big") == .explicitVRBigEndian)
        for (name, ts) in TransferSyntaxNames.canonical { #expect(TransferSyntaxNames.name(of: ts) == name) }
        // Proposed: the order's compressed syntaxes Ferry can write; lossy ones only when allowed.
        #expect(TranscodingPolicy().proposed == [.jpegLSLossless, .jpeg2000Lossless, .jpegLosslessSV1, .rleLossless])
        #expect(!TranscodingPolicy(order: [.jpegBaseline]).proposed.contains(.jpegBaseline))
        #expect(TranscodingPolicy(order: [.jpegBaseline], allowLossy: true).proposed == [.jpegBaseline])
    }
}

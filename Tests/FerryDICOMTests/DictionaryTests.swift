import Foundation
import TestSupport
import Testing

@testable import FerryDICOM

@Suite(.scratch) struct DictionaryTests {
    @Test func knownTagsHaveTheStandardsVRAndKeyword() {
        #expect(DataDictionary.entry(for: .sopInstanceUID)?.vr == .UI)
        #expect(DataDictionary.entry(for: .sopInstanceUID)?.keyword == "SOPInstanceUID")
        #expect(DataDictionary.entry(for: .pixelData)?.vr == .OB)
        #expect(DataDictionary.entry(for: .pixelData)?.alternativeVRs == [.OW])
        #expect(DataDictionary.entry(for: Tag(0x0008, 0x1140))?.vr == .SQ)
        #expect(DataDictionary.entry(for: Tag(0x0008, 0x0001))?.isRetired == true)
        #expect(DataDictionary.tag(forKeyword: "PatientName") == .patientName)
        #expect(DataDictionary.count > 5000)
    }

    @Test func repeatingGroupsMatchTheirMask() {
        // Overlay Data (60xx,3000) in any even overlay group.
        #expect(DataDictionary.entry(for: Tag(0x6002, 0x3000))?.keyword == "OverlayData")
        #expect(DataDictionary.entry(for: Tag(0x601E, 0x0010))?.keyword == "OverlayRows")
    }

    @Test func impliedVRsForPrivateAndGroupLengthTags() {
        #expect(DataDictionary.impliedVR(for: Tag(0x0009, 0x0010)) == .LO)
        #expect(DataDictionary.impliedVR(for: Tag(0x0009, 0x1001)) == .UN)
        #expect(DataDictionary.impliedVR(for: Tag(0x0028, 0x0000)) == .UL)
    }

    static let requiredTransferSyntaxes = [
        "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203", "1.2.840.10008.1.2.5",
    ]

    @Test(arguments: requiredTransferSyntaxes)
    func everyRequiredTransferSyntaxIsRegisteredAndParsable(_ uid: String) throws {
        #expect(UIDRegistry.entry(for: uid)?.kind == "Transfer Syntax")
        let ts = try #require(TransferSyntax.lookup(uid))
        #expect(ts.uid == uid)
    }

    @Test func serviceUIDsAreRegistered() {
        #expect(UIDRegistry.entry(for: UIDRegistry.verificationSOPClass)?.keyword == "Verification")
        #expect(UIDRegistry.entry(for: UIDRegistry.storageCommitmentPushModelSOPClass) != nil)
        #expect(
            UIDRegistry.entry(for: "1.2.840.10008.5.1.4.1.2.2.1")?.keyword
                == "StudyRootQueryRetrieveInformationModelFind")
        #expect(
            UIDRegistry.entry(for: "1.2.840.10008.5.1.4.1.2.2.2")?.keyword
                == "StudyRootQueryRetrieveInformationModelMove")
        #expect(UIDRegistry.entry(for: "1.2.840.10008.3.1.1.1")?.kind == "Application Context Name")
        let storage = Set(UIDRegistry.storageSOPClasses.map(\.uid))
        #expect(storage.contains("1.2.840.10008.5.1.4.1.1.2"))  // CT Image Storage
        #expect(storage.contains("1.2.840.10008.5.1.4.1.1.66.7"))  // Label Map Segmentation (supplement)
        #expect(!storage.contains(UIDRegistry.storageCommitmentPushModelSOPClass))
        #expect(!storage.contains("1.2.840.10008.5.1.4.1.2.2.1"))  // Study Root Q/R FIND
        // The classification is DCMTK's and pynetdicom's, not a name: a DICOMDIR ("Media Storage
        // Directory Storage") is no C-STORE object; a Hanging Protocol (non-patient object) is.
        #expect(!storage.contains("1.2.840.10008.1.3.10"))
        #expect(storage.contains("1.2.840.10008.5.1.4.38.1"))
        #expect(storage.contains("1.2.840.10008.5.1.4.1.1.3"))  // Ultrasound Multi-frame (retired), as DCMTK
    }

    /// Every UID of the DCMTK storescu and storescp man pages and of the pynetdicom storescu
    /// docs Ferry was specified from is registered; Storage SOP classes are recognised as such.
    /// SeedUIDs/ holds the UIDs those documents name, one a line.
    @Test(arguments: ["dcmtk-storescu-man", "dcmtk-storescp-man", "pynetdicom-storescu-docs"])
    func everyUIDOfTheSeedDocumentsIsRegistered(_ seed: String) throws {
        let path = Corpus.packageRoot.path + "/Tests/FerryDICOMTests/SeedUIDs/\(seed).txt"
        let uids = Set(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init))
        // The pynetdicom page as stored carries two mistyped UIDs (extra or swapped components).
        let typos: Set<String> = ["1.2.840.10008.5.1.1.4.1.1.3.1", "1.2.840.10008.5.1.4.1.1.1.1.1.1"]
        #expect(uids.count > 50)
        for uid in uids.subtracting(typos) {
            #expect(UIDRegistry.entry(for: uid) != nil, "\(uid) is not registered")
            if uid.hasPrefix("1.2.840.10008.5.1.4.1.1."), let e = UIDRegistry.entry(for: uid), e.kind == "SOP Class" {
                #expect(e.isStorageSOPClass, "\(uid) \(e.name) not recognised as storage")
            }
        }
    }
}

@Suite(.scratch) struct UIDGrammarTests {
    @Test(arguments: ["1.2.840.10008.1.2", "0", "2.25.221839591049362312468519722419768364311", "1.0.1"])
    func acceptsWellFormedUIDs(_ uid: String) { #expect(UIDGrammar.isValid(uid)) }

    @Test(arguments: [
        "", "..", "../../x", "a/b", "1..2", "1.2.", ".1", "1.02", "1.2.840.a", "1/2",
        String(repeating: "1.", count: 32) + "1", "1.2\0", "1 .2",
    ])
    func rejectsEverythingElse(_ uid: String) { #expect(!UIDGrammar.isValid(uid)) }

    @Test func generatedUIDsAreValidAndDistinct() {
        let a = UIDGenerator.make(), b = UIDGenerator.make()
        #expect(UIDGrammar.isValid(a) && UIDGrammar.isValid(b) && a != b)
        #expect(UIDGrammar.isValid(UIDGenerator.implementationClassUID))
        #expect(UIDGenerator.decimal(high: 0, low: 1234567890123) == "1234567890123")
        #expect(UIDGenerator.decimal(high: 1, low: 0) == "18446744073709551616")
    }
}

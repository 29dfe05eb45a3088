import FerryDICOM
import FerryNetwork

/// The Storage Commitment Push Model (PS3.4 Annex J): its SOP class, well-known instance,
/// action and event types and the attributes of its request and report.
public enum StorageCommitment {
    public static let sopClass = "1.2.840.10008.1.20.1"
    public static let sopInstance = "1.2.840.10008.1.20.1.1"
    /// N-ACTION Action Type ID 1: Request Storage Commitment.
    public static let requestAction: UInt16 = 1
    /// N-EVENT-REPORT Event Type ID 1: every instance committed; 2: failures exist.
    public static let allCommitted: UInt16 = 1
    public static let failuresExist: UInt16 = 2

    static let transactionUID = Tag(0x0008, 0x1195)
    static let referencedSOPSequence = Tag(0x0008, 0x1199)
    static let failedSOPSequence = Tag(0x0008, 0x1198)
    static let referencedSOPClassUID = Tag(0x0008, 0x1150)
    static let referencedSOPInstanceUID = Tag(0x0008, 0x1155)
    static let failureReason = Tag(0x0008, 0x1197)

    /// The Failure Reasons of PS3.4 J.3.3.1.1, by code.
    public static func failureName(_ code: UInt16) -> String {
        switch code {
        case 0x0110: "processing failure"
        case 0x0112: "no such object instance"
        case 0x0213: "resource limitation"
        case 0x0122: "referenced SOP class not supported"
        case 0x0119: "class/instance conflict"
        case 0x0131: "duplicate transaction UID"
        default: "failure reason 0x\(String(code, radix: 16, uppercase: true))"
        }
    }

    public static let noSuchObjectInstance: UInt16 = 0x0112
    public static let classInstanceConflict: UInt16 = 0x0119
}

/// An instance a commitment names: its SOP class and instance.
public struct SOPReference: Sendable, Hashable {
    public var sopClass: String
    public var sopInstance: String
    public init(sopClass: String, sopInstance: String) {
        self.sopClass = sopClass
        self.sopInstance = sopInstance
    }

    fileprivate var item: DataSet {
        var item = DataSet()
        item.set(StorageCommitment.referencedSOPClassUID, .UI, sopClass)
        item.set(StorageCommitment.referencedSOPInstanceUID, .UI, sopInstance)
        return item
    }

    fileprivate init(item: DataSet, in sequence: String) throws(ServiceError) {
        guard let c = item.string(StorageCommitment.referencedSOPClassUID), !c.isEmpty,
            let i = item.string(StorageCommitment.referencedSOPInstanceUID), !i.isEmpty
        else {
            throw ServiceError(
                .refused,
                "an item of the \(sequence) without Referenced SOP Class/Instance UID (0008,1150)/(0008,1155)",
                status: .invalidArgumentValue)
        }
        self.init(sopClass: c, sopInstance: i)
    }
}

/// The N-ACTION-RQ's information: a transaction and the instances it asks about (J.3.2.1.1).
public struct CommitmentRequest: Sendable, Equatable {
    public var transactionUID: String
    public var references: [SOPReference]

    public init(transactionUID: String, references: [SOPReference]) {
        self.transactionUID = transactionUID
        self.references = references
    }

    public var dataSet: DataSet {
        var ds = DataSet()
        ds.set(StorageCommitment.transactionUID, .UI, transactionUID)
        ds[StorageCommitment.referencedSOPSequence] = DataElement(
            tag: StorageCommitment.referencedSOPSequence, vr: .SQ, value: .sequence(references.map(\.item)))
        return ds
    }

    public init(dataSet ds: DataSet) throws(ServiceError) {
        guard let tx = ds.string(StorageCommitment.transactionUID), !tx.isEmpty else {
            throw ServiceError(.refused, "no Transaction UID (0008,1195)", status: .invalidArgumentValue)
        }
        guard let items = ds[StorageCommitment.referencedSOPSequence]?.items, !items.isEmpty else {
            throw ServiceError(
                .refused, "no Referenced SOP Sequence (0008,1199) or an empty one", status: .invalidArgumentValue)
        }
        var references: [SOPReference] = []
        for item in items { references.append(try SOPReference(item: item, in: "Referenced SOP Sequence")) }
        self.init(transactionUID: tx, references: references)
    }
}

/// The N-EVENT-REPORT-RQ's information: per instance, committed or failed and why (J.3.3.1.1).
public struct CommitmentReport: Sendable, Equatable {
    public struct Failure: Sendable, Equatable {
        public var reference: SOPReference
        public var reason: UInt16
        public init(reference: SOPReference, reason: UInt16) {
            self.reference = reference
            self.reason = reason
        }
    }
    public var transactionUID: String
    public var committed: [SOPReference]
    public var failed: [Failure]

    public init(transactionUID: String, committed: [SOPReference], failed: [Failure]) {
        self.transactionUID = transactionUID
        self.committed = committed
        self.failed = failed
    }

    public var eventType: UInt16 { failed.isEmpty ? StorageCommitment.allCommitted : StorageCommitment.failuresExist }

    public var dataSet: DataSet {
        var ds = DataSet()
        ds.set(StorageCommitment.transactionUID, .UI, transactionUID)
        if !committed.isEmpty {
            ds[StorageCommitment.referencedSOPSequence] = DataElement(
                tag: StorageCommitment.referencedSOPSequence, vr: .SQ, value: .sequence(committed.map(\.item)))
        }
        if !failed.isEmpty {
            let items = failed.map { f -> DataSet in
                var item = f.reference.item
                item.set(StorageCommitment.failureReason, uint16: f.reason)
                return item
            }
            ds[StorageCommitment.failedSOPSequence] = DataElement(
                tag: StorageCommitment.failedSOPSequence, vr: .SQ, value: .sequence(items))
        }
        return ds
    }

    public init(dataSet ds: DataSet) throws(ServiceError) {
        guard let tx = ds.string(StorageCommitment.transactionUID), !tx.isEmpty else {
            throw ServiceError(.refused, "no Transaction UID (0008,1195)", status: .invalidArgumentValue)
        }
        var committed: [SOPReference] = []
        for item in ds[StorageCommitment.referencedSOPSequence]?.items ?? [] {
            committed.append(try SOPReference(item: item, in: "Referenced SOP Sequence"))
        }
        var failed: [Failure] = []
        for item in ds[StorageCommitment.failedSOPSequence]?.items ?? [] {
            let reference = try SOPReference(item: item, in: "Failed SOP Sequence")
            // A failure without its reason is still a failure: processing failure.
            let reason = item.integer(StorageCommitment.failureReason).map { UInt16(truncatingIfNeeded: $0) } ?? 0x0110
            failed.append(Failure(reference: reference, reason: reason))
        }
        self.init(transactionUID: tx, committed: committed, failed: failed)
    }
}

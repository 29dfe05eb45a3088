import FerryDICOM
import FerryNetwork

/// A file to send, as the header scan saw it.
public struct OutgoingFile: Sendable {
    public var path: String
    public var sopClassUID: String
    public var sopInstanceUID: String
    public var transferSyntax: TransferSyntax
    public var dataSetOffset: Int
    public var fileSize: Int
    public var pixelData: PixelDataLocation?
    /// The data set's encoding has a quirk the reader tolerates (HeaderSummary.mustRewrite):
    /// it travels re-encoded, as DCMTK's storescu (which always re-encodes) sends it.
    public var mustRewrite: Bool

    public init(
        path: String, sopClassUID: String, sopInstanceUID: String, transferSyntax: TransferSyntax,
        dataSetOffset: Int, fileSize: Int, pixelData: PixelDataLocation? = nil, mustRewrite: Bool = false
    ) {
        self.path = path
        self.sopClassUID = sopClassUID
        self.sopInstanceUID = sopInstanceUID
        self.transferSyntax = transferSyntax
        self.dataSetOffset = dataSetOffset
        self.fileSize = fileSize
        self.pixelData = pixelData
        self.mustRewrite = mustRewrite
    }

    /// From a header summary; a file without SOP class or instance UID cannot be sent.
    public init(_ s: HeaderSummary) throws(ServiceError) {
        guard let sopClass = s.sopClassUID, !sopClass.isEmpty else {
            throw ServiceError(.unreadableFile, "no SOP Class UID (0008,0016) in the data set", path: s.path)
        }
        guard let sopInstance = s.sopInstanceUID, !sopInstance.isEmpty else {
            throw ServiceError(.unreadableFile, "no SOP Instance UID (0008,0018) in the data set", path: s.path)
        }
        guard let ts = TransferSyntax.lookup(s.transferSyntaxUID) else {
            throw ServiceError(.unreadableFile, "unknown transfer syntax \(s.transferSyntaxUID)", path: s.path)
        }
        self.init(
            path: s.path, sopClassUID: sopClass, sopInstanceUID: sopInstance, transferSyntax: ts,
            dataSetOffset: s.dataSetOffset, fileSize: s.fileSize, pixelData: s.pixelData, mustRewrite: s.mustRewrite)
    }

    public var dataSetLength: Int { fileSize - dataSetOffset }
}

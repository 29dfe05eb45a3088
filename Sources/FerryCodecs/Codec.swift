import FerryDICOM

/// What a codec needs to know of the image: from the data set's pixel attributes, checked
/// against the stream before anything is decoded.
public struct ImageDescription: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    public var samplesPerPixel: Int
    public var bitsAllocated: Int
    public var planarConfiguration: Int
    public var bitsStored: Int
    public var isSigned: Bool
    public var photometric: String

    public init(_ p: PixelAttributes) {
        rows = p.rows
        columns = p.columns
        samplesPerPixel = p.samplesPerPixel
        bitsAllocated = p.bitsAllocated
        planarConfiguration = p.planarConfiguration
        bitsStored = p.bitsStored
        isSigned = p.pixelRepresentation == 1
        photometric = p.photometricInterpretation
    }

    public init(
        rows: Int, columns: Int, samplesPerPixel: Int, bitsAllocated: Int, planarConfiguration: Int = 0,
        bitsStored: Int? = nil, isSigned: Bool = false, photometric: String? = nil
    ) {
        self.rows = rows
        self.columns = columns
        self.samplesPerPixel = samplesPerPixel
        self.bitsAllocated = bitsAllocated
        self.planarConfiguration = planarConfiguration
        self.bitsStored = bitsStored ?? bitsAllocated
        self.isSigned = isSigned
        self.photometric = photometric ?? (samplesPerPixel == 3 ? "RGB" : "MONOCHROME2")
    }

    /// Bytes of one native frame, computed in 64 bits; nil on overflow.
    public var frameLength: Int? {
        let (a, o1) = rows.multipliedReportingOverflow(by: columns)
        let (b, o2) = a.multipliedReportingOverflow(by: samplesPerPixel)
        let (c, o3) = b.multipliedReportingOverflow(by: max(1, bitsAllocated / 8))
        return o1 || o2 || o3 ? nil : c
    }
}

/// FerryCodecs' one error: a malformed stream or an image a codec cannot handle, never a
/// crash. `frame` (1-based) is set by the transcoder for multi-frame images; `underlying`
/// holds the data set's own error when its pixel attributes are what is wrong.
public struct CodecError: Error, Sendable, CustomStringConvertible {
    public struct Code: ErrorCode {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The stream breaks its standard (markers, lengths, entropy-coded data).
        public static let malformed = Code(rawValue: "malformed")
        /// The stream's own header, or the pixel data's size, disagrees with the data set.
        public static let mismatch = Code(rawValue: "mismatch")
        /// A valid image or stream this codec does not handle (precision, subsampling, syntax).
        public static let unsupported = Code(rawValue: "unsupported")
        /// The image needs more memory than the pixel budget allows.
        public static let overBudget = Code(rawValue: "over-budget")
        /// The C library (OpenJPEG, CharLS) failed where its input was checked.
        public static let library = Code(rawValue: "library")
        /// A lossless encoding does not decode to its source pixels.
        public static let verification = Code(rawValue: "verification")
        /// A decoder process failed (internal: reported as `library`).
        static let worker = Code(rawValue: "worker")
    }

    public var code: Code
    public var message: String
    public var frame: Int?
    public var underlying: (any Error)?

    public init(_ message: String, code: Code = .malformed, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        (frame.map { "frame \($0): " } ?? "") + message + (underlying.map { ": \($0)" } ?? "") + " [\(code)]"
    }

    func inFrame(_ index: Int) -> CodecError {
        var e = self
        if e.frame == nil { e.frame = index + 1 }
        return e
    }
}

/// One compression scheme for the frames of Pixel Data, keyed by its transfer syntax.
public protocol PixelCodec: Sendable {
    var transferSyntax: TransferSyntax { get }
    /// False for codecs that only decode so far.
    var canEncode: Bool { get }
    /// One native frame (little endian, the data set's planar configuration) from one
    /// encapsulated frame's fragments.
    func decode(_ fragments: [ArraySlice<UInt8>], image: ImageDescription) throws(CodecError) -> [UInt8]
    /// One encapsulated frame (a single fragment) from one native frame.
    func encode(_ frame: ArraySlice<UInt8>, image: ImageDescription) throws(CodecError) -> [UInt8]
    /// Photometric Interpretation of the decoded pixels (a codec that undoes a colour
    /// transform changes it), and of the encoded stream.
    func photometricAfterDecoding(_ image: ImageDescription) -> String
    func photometricAfterEncoding(_ image: ImageDescription) -> String
    /// The Lossy Image Compression Method (0028,2114) term, for lossy syntaxes.
    var lossyMethod: String? { get }
    /// Whether decoding runs a C library (CharLS, OpenJPEG): then it runs in a decoder
    /// process when `DecoderProcesses.shared` is set.
    var decodesInCLibrary: Bool { get }
}

extension PixelCodec {
    public var canEncode: Bool { true }
    public func photometricAfterDecoding(_ image: ImageDescription) -> String { image.photometric }
    public func photometricAfterEncoding(_ image: ImageDescription) -> String { image.photometric }
    public var lossyMethod: String? { nil }
    public var decodesInCLibrary: Bool { false }
}

/// The codecs Ferry has, by transfer syntax UID.
public enum Codecs {
    public static let all: [any PixelCodec] = [
        RLECodec(), JPEGLSCodec(.jpegLSLossless), JPEGLSCodec(.jpegLSNearLossless),
        JPEGLosslessCodec(.jpegLosslessProcess14), JPEGLosslessCodec(.jpegLosslessSV1),
        JPEG2000Codec(.jpeg2000Lossless), JPEG2000Codec(.jpeg2000),
        JPEGDCTCodec(.jpegBaseline), JPEGDCTCodec(.jpegExtended),
        JPEG2000Codec(.htj2kLossless), JPEG2000Codec(.htj2kLosslessRPCL), JPEG2000Codec(.htj2k),
    ]

    /// The codec for `ts`; its decoding runs in a decoder process when the codec uses a C
    /// library and `DecoderProcesses.shared` is set.
    public static func codec(for ts: TransferSyntax) -> (any PixelCodec)? {
        guard let codec = inProcess(for: ts) else { return nil }
        guard codec.decodesInCLibrary, let processes = DecoderProcesses.shared.withLock({ $0 }) else { return codec }
        return IsolatedCodec(inner: codec, processes: processes)
    }

    /// The codec for `ts`, decoding in this process.
    public static func inProcess(for ts: TransferSyntax) -> (any PixelCodec)? {
        all.first { $0.transferSyntax == ts }
    }

    /// A codec that can write `ts`.
    public static func encoder(for ts: TransferSyntax) -> (any PixelCodec)? {
        all.first { $0.transferSyntax == ts && $0.canEncode }
    }
}

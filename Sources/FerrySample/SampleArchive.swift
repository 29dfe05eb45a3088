import FerryDICOM
import Foundation

/// A small synthetic archive written by Ferry's own writer: patients, studies and series of
/// CT, MR and US images with phantom pixel content, in each uncompressed transfer syntax.
public struct SampleArchive {
    public struct SeriesSpec: Sendable {
        var modality: String
        var sopClassUID: String
        var rows: Int, columns: Int
        var bitsStored: Int
        var rgb = false
        var frames = 1
        var images: Int
        var transferSyntax: TransferSyntax
    }

    public var seed: UInt64 = 1515

    public init(seed: UInt64 = 1515) { self.seed = seed }

    /// Three patients; a CT study (explicit LE and implicit LE series), an MR study
    /// (explicit BE and deflated series) and an ultrasound multi-frame RGB study.
    public static let defaultPlan: [(patient: Int, study: Int, series: SeriesSpec)] = [
        (
            1, 1,
            SeriesSpec(
                modality: "CT", sopClassUID: "1.2.840.10008.5.1.4.1.1.2", rows: 256, columns: 256, bitsStored: 12,
                images: 12, transferSyntax: .explicitVRLittleEndian)
        ),
        (
            1, 1,
            SeriesSpec(
                modality: "CT", sopClassUID: "1.2.840.10008.5.1.4.1.1.2", rows: 256, columns: 256, bitsStored: 12,
                images: 6, transferSyntax: .implicitVRLittleEndian)
        ),
        (
            2, 2,
            SeriesSpec(
                modality: "MR", sopClassUID: "1.2.840.10008.5.1.4.1.1.4", rows: 192, columns: 192, bitsStored: 12,
                images: 8, transferSyntax: .explicitVRBigEndian)
        ),
        (
            2, 2,
            SeriesSpec(
                modality: "MR", sopClassUID: "1.2.840.10008.5.1.4.1.1.4", rows: 192, columns: 192, bitsStored: 12,
                images: 4, transferSyntax: .deflatedExplicitVRLittleEndian)
        ),
        (
            3, 3,
            SeriesSpec(
                modality: "US", sopClassUID: "1.2.840.10008.5.1.4.1.1.3.1", rows: 240, columns: 320, bitsStored: 8,
                rgb: true, frames: 4, images: 2, transferSyntax: .explicitVRLittleEndian)
        ),
    ]

    /// Writes the archive under `directory` and returns the paths written.
    public func write(to directory: String) throws -> [String] {
        var rng = SplitMix64(state: seed)
        var paths: [String] = []
        var studies: [Int: String] = [:]
        for (seriesIndex, entry) in Self.defaultPlan.enumerated() {
            let studyUID = studies[entry.study] ?? uid(&rng)
            studies[entry.study] = studyUID
            let seriesUID = uid(&rng)
            let spec = entry.series
            let phantom = Phantom(rng: &rng)
            let dir = "\(directory)/PAT\(entry.patient)/STUDY\(entry.study)/\(spec.modality)\(seriesIndex + 1)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for n in 1...spec.images {
                var ds = DataSet()
                ds.set(.specificCharacterSet, .CS, "ISO_IR 100")
                ds.set(.imageType, .CS, "ORIGINAL\\PRIMARY\\AXIAL")
                ds.set(.sopClassUID, .UI, spec.sopClassUID)
                ds.set(.sopInstanceUID, .UI, uid(&rng))
                ds.set(.studyDate, .DA, "2024010\(entry.study)")
                ds.set(.studyTime, .TM, "101500")
                ds.set(.accessionNumber, .SH, "FERRY\(entry.study)")
                ds.set(.modality, .CS, spec.modality)
                ds.set(.referringPhysicianName, .PN, "")
                ds.set(.studyDescription, .LO, "Ferry sample \(spec.modality) study")
                ds.set(.patientName, .PN, "SAMPLE^PATIENT\(entry.patient)")
                ds.set(.patientID, .LO, "FERRY-\(entry.patient)")
                ds.set(.patientBirthDate, .DA, "19700101")
                ds.set(.patientSex, .CS, entry.patient % 2 == 0 ? "F" : "M")
                ds.set(.studyInstanceUID, .UI, studyUID)
                ds.set(.seriesInstanceUID, .UI, seriesUID)
                ds.set(.studyID, .SH, String(entry.study))
                ds.set(.seriesNumber, .IS, String(seriesIndex + 1))
                ds.set(.instanceNumber, .IS, String(n))
                try addPixels(&ds, spec, phantom, slice: n, rng: &rng)
                let path = "\(dir)/IM\(String(format: "%04d", n)).dcm"
                let bytes = try Part10Writer.encode(ds, transferSyntax: spec.transferSyntax)
                guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                    throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
                }
                paths.append(path)
            }
        }
        return paths
    }

    private func addPixels(
        _ ds: inout DataSet, _ spec: SeriesSpec, _ phantom: Phantom, slice: Int, rng: inout SplitMix64
    ) throws {
        let samples = spec.rgb ? 3 : 1
        let bitsAllocated = spec.bitsStored > 8 ? 16 : 8
        ds.set(.samplesPerPixel, uint16: UInt16(samples))
        ds.set(.photometricInterpretation, .CS, spec.rgb ? "RGB" : "MONOCHROME2")
        if spec.rgb { ds.set(.planarConfiguration, uint16: 0) }
        if spec.frames > 1 { ds.set(.numberOfFrames, .IS, String(spec.frames)) }
        ds.set(.rows, uint16: UInt16(spec.rows))
        ds.set(.columns, uint16: UInt16(spec.columns))
        ds.set(.bitsAllocated, uint16: UInt16(bitsAllocated))
        ds.set(.bitsStored, uint16: UInt16(spec.bitsStored))
        ds.set(.highBit, uint16: UInt16(spec.bitsStored - 1))
        ds.set(.pixelRepresentation, uint16: 0)
        let maxValue = Double((1 << spec.bitsStored) - 1)
        var pixels: [UInt8] = []
        pixels.reserveCapacity(spec.rows * spec.columns * samples * spec.frames * bitsAllocated / 8)
        for f in 0..<spec.frames {
            let image = phantom.render(rows: spec.rows, columns: spec.columns, slice: slice + f, rng: &rng)
            for v in image {
                let scaled = v * maxValue
                if spec.rgb {
                    pixels += [UInt8(scaled), UInt8(scaled * 0.9), UInt8(scaled * 0.7)]
                } else if bitsAllocated == 16 {
                    let s = UInt16(scaled)
                    pixels += [UInt8(s & 0xFF), UInt8(s >> 8)]
                } else {
                    pixels.append(UInt8(scaled))
                }
            }
        }
        ds[.pixelData] = DataElement(.pixelData, bitsAllocated == 16 ? .OW : .OB, bytes: pixels)
    }

    private func uid(_ rng: inout SplitMix64) -> String {
        UIDGenerator.uuidDerived(high: rng.next(), low: rng.next())
    }
}

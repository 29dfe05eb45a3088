// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Ferry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ferry", targets: ["ferry"]),
        .library(name: "FerryDICOM", targets: ["FerryDICOM"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
    ],
    targets: [
        // zlib, for the Deflated Explicit VR Little Endian transfer syntax (PS3.5 A.5).
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The DICOM core: dictionary, data model, Part 10 reading, header scan, writing, streaming.
        .target(
            name: "FerryDICOM",
            dependencies: ["CZlib"]
        ),
        // Synthetic sample archives written by Ferry's own writer (the README's demo).
        .target(
            name: "FerrySample",
            dependencies: ["FerryDICOM"]
        ),
        .executableTarget(
            name: "ferry",
            dependencies: [
                "FerryDICOM",
                "FerrySample",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "TestSupport",
            dependencies: ["FerryDICOM"],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "FerryDICOMTests",
            dependencies: ["FerryDICOM", "FerrySample", "TestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Ferry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ferry", targets: ["ferry"]),
        .library(name: "FerryDICOM", targets: ["FerryDICOM"]),
        .library(name: "FerryNetwork", targets: ["FerryNetwork"]),
        .library(name: "FerryServices", targets: ["FerryServices"]),
        .library(name: "FerryMigration", targets: ["FerryMigration"]),
        .library(name: "FerryArchive", targets: ["FerryArchive"]),
        .library(name: "FerryCodecs", targets: ["FerryCodecs"]),
        .library(name: "FerryFuzzing", targets: ["FerryFuzzing"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // zlib, for the Deflated Explicit VR Little Endian transfer syntax (PS3.5 A.5).
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // glibc's mallopt, for the ferry process's allocator tuning.
        .systemLibrary(name: "CMalloc"),
        // The DICOM core: dictionary, data model, Part 10 reading, header scan, writing, streaming.
        .target(
            name: "FerryDICOM",
            dependencies: ["CZlib"]
        ),
        // The DICOM protocol on SwiftNIO: upper layer (PS3.8) PDUs and the association state
        // machine, DIMSE (PS3.7) messages, the requestor's association, TLS. No codecs, no
        // services: a C-ECHO links neither OpenJPEG nor CharLS.
        .target(
            name: "FerryNetwork",
            dependencies: [
                "FerryDICOM",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // CharLS, for JPEG-LS (PS3.5 A.4.3).
        .systemLibrary(
            name: "CCharLS",
            pkgConfig: "charls",
            providers: [.apt(["libcharls-dev"])]
        ),
        // OpenJPEG, for JPEG 2000 (PS3.5 A.4.4).
        .systemLibrary(
            name: "COpenJPEG",
            pkgConfig: "libopenjp2",
            providers: [.apt(["libopenjp2-7-dev"])]
        ),
        // Pixel data codecs behind one interface keyed by transfer syntax.
        .target(
            name: "FerryCodecs",
            dependencies: ["FerryDICOM", "CCharLS", "COpenJPEG"]
        ),
        // The DICOM services on the protocol: sending (proposals, the route of each file,
        // re-encoding on the way, storescu's run) and receiving (the storage SCP and its
        // output), with DCMTK's names and association profiles.
        .target(
            name: "FerryServices",
            dependencies: [
                "FerryDICOM",
                "FerryNetwork",
                "FerryCodecs",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The migration pipeline: job files, planner, checkpointed manifest (SQLite via GRDB),
        // a pool of associations, resume, reports.
        .target(
            name: "FerryMigration",
            dependencies: [
                "FerryDICOM",
                "FerryNetwork",
                "FerryServices",
                "FerryCodecs",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The archive behind `ferry qrscp`: storage areas with a Query/Retrieve index (SQLite via
        // GRDB), DCMTK dcmqrscp's configuration file, the provider of C-FIND/C-MOVE/C-GET answers.
        .target(
            name: "FerryArchive",
            dependencies: [
                "FerryDICOM",
                "FerryNetwork",
                "FerryServices",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
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
                "FerryNetwork",
                "FerryServices",
                "FerryMigration",
                "FerryArchive",
                "FerryCodecs",
                "FerrySample",
                "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Fuzz targets: structure-aware inputs for each codec, PDU streams against both roles
        // of an association. The tests run each briefly; scripts/fuzz runs them under libFuzzer.
        .target(
            name: "FerryFuzzing",
            dependencies: [
                "FerryDICOM",
                "FerryCodecs",
                "FerryNetwork",
                "FerryServices",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                "FerryDICOM",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "FerryDICOMTests",
            dependencies: ["FerryDICOM", "FerrySample", "TestSupport"],
            exclude: ["SeedUIDs"]
        ),
        .testTarget(
            name: "FerryCodecsTests",
            dependencies: ["FerryDICOM", "FerryCodecs", "FerryFuzzing", "TestSupport"]
        ),
        .testTarget(
            name: "FerryMigrationTests",
            dependencies: ["FerryDICOM", "FerryNetwork", "FerryServices", "FerryMigration", "FerryCodecs", "TestSupport",
                           .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Snapshots"]
        ),
        .testTarget(
            name: "FerryArchiveTests",
            dependencies: [
                "FerryDICOM", "FerryNetwork", "FerryServices", "FerryArchive", "FerryCodecs", "FerryMigration",
                "TestSupport", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "FerryServicesTests",
            dependencies: ["FerryDICOM", "FerryNetwork", "FerryServices", "FerryCodecs", "TestSupport",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "FerryNetworkTests",
            dependencies: ["FerryDICOM", "FerryNetwork", "FerryServices", "FerryFuzzing", "TestSupport",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

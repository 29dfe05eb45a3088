import FerryArchive
import FerryDICOM
import Foundation
import TestSupport
import Testing

/// DCMTK findscu against `ferry qrscp` loaded with the tiny corpus by DCMTK dcmsend (issue
/// 15): every level of both models, each kind of matching, the index's counts, character
/// sets, refusals. Expected answers come from the corpus files' own headers.
@Suite(.scratch)
struct FindInteropTests {
    /// The corpus as its headers describe it.
    struct Expected {
        var patients: [String: Set<String>] = [:]  // patient ID -> studies
        var studies: [String: Set<String>] = [:]  // study -> series
        var series: [String: Set<String>] = [:]  // series -> instances
        var modalities: [String: Set<String>] = [:]  // study -> modalities
        var dates: [String: String] = [:]  // study -> date

        init(_ files: [String]) throws {
            for f in files {
                let ds = try HeaderScan.header(path: f).dataSet
                let study = ds.string(Tag(0x0020, 0x000D)) ?? "", series = ds.string(Tag(0x0020, 0x000E)) ?? ""
                patients[ds.string(Tag(0x0010, 0x0020)) ?? "", default: []].insert(study)
                studies[study, default: []].insert(series)
                self.series[series, default: []].insert(ds.string(Tag(0x0008, 0x0018)) ?? "")
                modalities[study, default: []].insert(ds.string(Tag(0x0008, 0x0060)) ?? "")
                dates[study] = ds.string(Tag(0x0008, 0x0020)) ?? ""
            }
        }

        func instances(study: String) -> Int {
            studies[study, default: []].reduce(0) { $0 + series[$1, default: []].count }
        }
    }

    static let studyUID = Tag(0x0020, 0x000D), seriesUID = Tag(0x0020, 0x000E), sopUID = Tag(0x0008, 0x0018)

    @Test func everyLevelOfBothModelsAnswersWhatTheCorpusHolds() throws {
        let files = try Corpus.files("tiny").filter { $0.hasSuffix(".dcm") }
        let expected = try Expected(files)
        let archive = try QRSCPProcess(files: files)
        defer { archive.peer.stop() }

        // Study Root, STUDY: one answer per study (never per instance), with the index's counts.
        let (studies, log) = try archive.find(
            "-S",
            [
                "QueryRetrieveLevel=STUDY", "StudyInstanceUID", "NumberOfStudyRelatedInstances",
                "NumberOfStudyRelatedSeries", "ModalitiesInStudy", "StudyDate",
            ])
        #expect(studies.count == expected.studies.count, "\(log)")
        for s in studies {
            let uid = s.string(Self.studyUID) ?? ""
            #expect(s.integer(Tag(0x0020, 0x1208)) == expected.instances(study: uid))
            #expect(s.integer(Tag(0x0020, 0x1206)) == expected.studies[uid]?.count)
            let modalities = Set((s.string(Tag(0x0008, 0x0061)) ?? "").split(separator: "\\").map(String.init))
            #expect(modalities == expected.modalities[uid])
            #expect(s.string(Tag(0x0008, 0x0054)) == "QRSCP", "Retrieve AE Title")
        }

        // Patient Root, PATIENT, with its counts.
        let (patients, _) = try archive.find(
            "-P", ["QueryRetrieveLevel=PATIENT", "PatientID", "PatientName", "NumberOfPatientRelatedStudies"])
        #expect(Set(patients.compactMap { $0.string(Tag(0x0010, 0x0020)) }) == Set(expected.patients.keys))
        for p in patients {
            #expect(p.integer(Tag(0x0020, 0x1200)) == expected.patients[p.string(Tag(0x0010, 0x0020)) ?? ""]?.count)
        }

        // Patient Root, SERIES then IMAGE, down one branch with the unique keys above.
        let (patientID, studySet) = try #require(expected.patients.max { $0.value.count < $1.value.count })
        let study = try #require(studySet.sorted().first)
        let (series, _) = try archive.find(
            "-P",
            [
                "QueryRetrieveLevel=SERIES", "PatientID=\(patientID)", "StudyInstanceUID=\(study)", "SeriesInstanceUID",
                "Modality", "NumberOfSeriesRelatedInstances",
            ])
        #expect(Set(series.compactMap { $0.string(Self.seriesUID) }) == expected.studies[study])
        let oneSeries = try #require(expected.studies[study]?.sorted().first)
        let (images, _) = try archive.find(
            "-P",
            [
                "QueryRetrieveLevel=IMAGE", "PatientID=\(patientID)", "StudyInstanceUID=\(study)",
                "SeriesInstanceUID=\(oneSeries)", "SOPInstanceUID", "SOPClassUID", "InstanceNumber",
            ])
        #expect(Set(images.compactMap { $0.string(Self.sopUID) }) == expected.series[oneSeries])
        #expect(images.allSatisfy { $0.string(Tag(0x0008, 0x0016))?.hasPrefix("1.2.840.10008.5.1.4.1.1") == true })
    }

    @Test func eachKindOfMatching() throws {
        let files = try Corpus.files("tiny").filter { $0.hasSuffix(".dcm") }
        let expected = try Expected(files)
        let archive = try QRSCPProcess(files: files)
        defer { archive.peer.stop() }
        let uids = expected.studies.keys.sorted()
        try #require(uids.count >= 2)

        // List of UID matching.
        let (two, _) = try archive.find(
            "-S", ["QueryRetrieveLevel=STUDY", "StudyInstanceUID=\(uids[0])\\\(uids[1])"])
        #expect(Set(two.compactMap { $0.string(Self.studyUID) }) == Set(uids.prefix(2)))

        // Range matching on Study Date (both ends, open end).
        let dates = expected.dates.values.sorted()
        let low = try #require(dates.first), high = try #require(dates.last)
        let (all, _) = try archive.find(
            "-S", ["QueryRetrieveLevel=STUDY", "StudyInstanceUID", "StudyDate=\(low)-\(high)"])
        #expect(all.count == expected.studies.count)
        let (fromHigh, _) = try archive.find(
            "-S", ["QueryRetrieveLevel=STUDY", "StudyInstanceUID", "StudyDate=\(high)-"])
        #expect(fromHigh.count == expected.dates.values.filter { $0 >= high }.count)

        // Wild card on the name, case-insensitive by default (what most PACS do).
        let (doe, _) = try archive.find("-P", ["QueryRetrieveLevel=PATIENT", "PatientID", "PatientName=doe*"])
        #expect(doe.count == expected.patients.count)
        let (none, _) = try archive.find("-P", ["QueryRetrieveLevel=PATIENT", "PatientID", "PatientName=nobody*"])
        #expect(none.isEmpty)

        // Single value on Modality at SERIES level (Study Root, study given).
        let study = uids[0]
        let modality = try #require(expected.modalities[study]?.sorted().first)
        let (bySingle, _) = try archive.find(
            "-S",
            ["QueryRetrieveLevel=SERIES", "StudyInstanceUID=\(study)", "SeriesInstanceUID", "Modality=\(modality)"])
        #expect(!bySingle.isEmpty && bySingle.allSatisfy { $0.string(Tag(0x0008, 0x0060)) == modality })
    }

    @Test func aMissingLevelIsRefusedWithA900AndCancelStopsTheAnswers() throws {
        let files = try Corpus.files("small").filter { $0.hasSuffix(".dcm") }
        let expected = try Expected(files)
        // A slow SCP (0.2 s before each answer), so the cancel arrives mid-answer.
        let archive = try QRSCPProcess(files: files, extra: ["--sleep-between-responses", "0.2"])
        defer { archive.peer.stop() }
        let (refused, log) = try archive.find("-S", ["PatientName=X"])
        #expect(refused.isEmpty)
        #expect(log.contains("Final Find Response (Error: DataSetDoesNotMatchSOPClass)"), "\(log)")
        try #require(expected.studies.count >= 3)
        let (cancelled, cancelLog) = try archive.find(
            "-S", ["QueryRetrieveLevel=STUDY", "StudyInstanceUID"], extra: ["--cancel", "1"])
        #expect(cancelled.count < expected.studies.count, "\(cancelLog)")
        #expect(cancelLog.contains("Cancel"), "\(cancelLog)")
        #expect(archive.peer.waitForLog("Find cancelled after"), "\(archive.peer.log())")
    }

    /// A key below the query level (Modality in a STUDY query) is neither matched nor
    /// returned, and the answers say so with FF01, as dcmqrscp's do; without one they are FF00.
    @Test func keysBelowTheLevelAreAnsweredWithFF01() throws {
        let files = try Corpus.files("tiny").filter { $0.hasSuffix(".dcm") }
        let archive = try QRSCPProcess(files: files)
        defer { archive.peer.stop() }
        let (warned, log) = try archive.find("-S", ["QueryRetrieveLevel=STUDY", "StudyInstanceUID", "Modality=XX"])
        #expect(!warned.isEmpty && warned.allSatisfy { $0[Tag(0x0008, 0x0060)] == nil }, "\(log)")
        #expect(log.contains("(Pending: WarningUnsupportedOptionalKeys)") && !log.contains("(Pending)\n"), "\(log)")
        let (plain, plainLog) = try archive.find("-S", ["QueryRetrieveLevel=STUDY", "StudyInstanceUID"])
        #expect(plain.count == warned.count)
        #expect(plainLog.contains("(Pending)") && !plainLog.contains("WarningUnsupportedOptionalKeys"), "\(plainLog)")
    }

    /// The test switch that caps results, as Orthanc's LimitFindResults does (FE00) or a PACS
    /// that refuses broad queries (A700): the client sees the first N and the status.
    @Test func capResultsEndsWithTheChosenStatus() throws {
        let files = try Corpus.files("small").filter { $0.hasSuffix(".dcm") }
        let archive = try QRSCPProcess(files: files, extra: ["--cap-results", "3", "--cap-status", "A700"])
        defer { archive.peer.stop() }
        let (capped, log) = try archive.find("-S", ["QueryRetrieveLevel=STUDY", "StudyInstanceUID"])
        #expect(capped.count == 3, "\(log)")
        #expect(log.contains("Received Final Find Response (Refused: OutOfResources)"), "\(log)")
    }

    /// Two instances named Müller: one in Latin-1 (ISO_IR 100), one in UTF-8 (ISO_IR 192).
    static func namesInTwoCharsets() throws -> [String] {
        let source = try #require(try Corpus.files("tiny").first { $0.hasSuffix(".dcm") })
        let dir = try Corpus.temporaryDirectory("charsets")
        var made: [String] = []
        for (i, (charset, name)) in [
            ("ISO_IR 100", [0x4D, 0xFC, 0x6C, 0x6C, 0x65, 0x72, 0x5E, 0x48, 0x61, 0x6E, 0x73] as [UInt8]),
            ("ISO_IR 192", Array("Müller^Jörg".utf8)),
        ].enumerated() {
            let file = try Part10Reader.read(path: source)
            var ds = file.dataSet
            ds.set(Tag(0x0008, 0x0005), .CS, charset)
            ds[Tag(0x0010, 0x0010)] = DataElement(Tag(0x0010, 0x0010), .PN, bytes: name)
            ds.set(Tag(0x0010, 0x0020), .LO, "CHARSET\(i)")
            ds.set(Self.studyUID, .UI, "1.2.826.0.1.3680043.10.1515.99.\(i).1")
            ds.set(Self.seriesUID, .UI, "1.2.826.0.1.3680043.10.1515.99.\(i).2")
            ds.set(Self.sopUID, .UI, "1.2.826.0.1.3680043.10.1515.99.\(i).3")
            let path = dir + "/\(i).dcm"
            try FileBytes.write(try Part10Writer.encode(ds, transferSyntax: file.transferSyntax), to: path)
            made.append(path)
        }
        return made
    }

    /// Names in Latin-1 and in UTF-8 found by one UTF-8 query, each answered in its own
    /// character set with its own bytes.
    @Test func latin1AndUTF8NamesAreMatchedAndAnsweredInTheirOwnSets() throws {
        let made = try Self.namesInTwoCharsets()
        let archive = try QRSCPProcess(files: made)
        defer { archive.peer.stop() }
        let (found, log) = try archive.find(
            "-P", ["QueryRetrieveLevel=PATIENT", "SpecificCharacterSet=ISO_IR 192", "PatientName=MÜLLER*", "PatientID"])
        #expect(found.count == 2, "\(log)")
        let names = found.map {
            SpecificCharacterSet($0.string(Tag(0x0008, 0x0005))).decode($0[Tag(0x0010, 0x0010)]?.bytes ?? [])
                .trimmingCharacters(in: .whitespaces)
        }
        #expect(Set(names) == ["Müller^Hans", "Müller^Jörg"])
        let latin = try #require(found.first { $0.string(Tag(0x0010, 0x0020)) == "CHARSET0" })
        #expect(latin.string(Tag(0x0008, 0x0005)) == "ISO_IR 100")
    }

    /// dcmqrscp's charset options: answers re-encoded into the request's set (+Cr) or the
    /// one given (-Cr +L1, +A7), a name that does not fit sent as it is, or with -Cd its
    /// unrepresentable characters dropped.
    @Test func charsetOptionsReencodeAnswers() throws {
        let made = try Self.namesInTwoCharsets()
        func answers(_ options: [String], request: [String] = []) throws -> [String: (String?, [UInt8])] {
            let archive = try QRSCPProcess(files: made, extra: options)
            defer { archive.peer.stop() }
            let (found, log) = try archive.find(
                "-S", ["QueryRetrieveLevel=STUDY", "PatientID", "PatientName"] + request)
            #expect(found.count == 2, "\(log)")
            var out: [String: (String?, [UInt8])] = [:]
            for a in found {
                out[a.string(Tag(0x0010, 0x0020)) ?? ""] = (
                    a.string(Tag(0x0008, 0x0005)), Array(a[Tag(0x0010, 0x0010)]?.bytes ?? [])
                )
            }
            return out
        }
        let latin1 = [0x4D, 0xFC, 0x6C, 0x6C, 0x65, 0x72, 0x5E] as [UInt8]  // "Müller^"
        // +U8: no set in the request, so UTF-8 for both.
        let utf8 = try answers(["+U8"])
        #expect(
            utf8["CHARSET0"]?.0 == "ISO_IR 192" && utf8["CHARSET0"]?.1.starts(with: Array("Müller^Hans".utf8)) == true)
        #expect(
            utf8["CHARSET1"]?.0 == "ISO_IR 192" && utf8["CHARSET1"]?.1.starts(with: Array("Müller^Jörg".utf8)) == true)
        // +Cr: the request's Latin-1 wins over +U8.
        let requested = try answers(["+Cr", "+U8"], request: ["SpecificCharacterSet=ISO_IR 100"])
        #expect(requested["CHARSET1"]?.0 == "ISO_IR 100" && requested["CHARSET1"]?.1.starts(with: latin1) == true)
        // -Cr +L1: Latin-1 whatever the request says.
        let overridden = try answers(["-Cr", "+L1"], request: ["SpecificCharacterSet=ISO_IR 192"])
        #expect(overridden["CHARSET1"]?.0 == "ISO_IR 100" && overridden["CHARSET1"]?.1.starts(with: latin1) == true)
        // +A7: ü does not fit, so each answer goes as it is; -Cd drops the ü.
        let ascii = try answers(["+A7"])
        #expect(ascii["CHARSET0"]?.0 == "ISO_IR 100" && ascii["CHARSET0"]?.1.starts(with: latin1) == true)
        let dropped = try answers(["+A7", "-Cd"])
        #expect(dropped["CHARSET0"]?.0 == nil && dropped["CHARSET0"]?.1.starts(with: Array("Mller^Hans".utf8)) == true)
    }
}

/// Combined date-time matching and relational queries, negotiated by ferry findscu
/// (`--datetime`, `--relational`) with `ferry qrscp` (issue 15).
@Suite(.scratch)
struct ExtendedNegotiationTests {
    @Test func combinedDateTimeMatchingIsUsedWhenNegotiated() throws {
        let source = try #require(try Corpus.files("tiny").first { $0.hasSuffix(".dcm") })
        let dir = try Corpus.temporaryDirectory("datetime")
        var made: [String] = []
        for (i, (date, time)) in [("20240101", "230000"), ("20240102", "230000")].enumerated() {
            let file = try Part10Reader.read(path: source)
            var ds = file.dataSet
            ds.set(Tag(0x0008, 0x0020), .DA, date)
            ds.set(Tag(0x0008, 0x0030), .TM, time)
            ds.set(Tag(0x0020, 0x000D), .UI, "1.2.826.0.1.3680043.10.1515.98.\(i).1")
            ds.set(Tag(0x0020, 0x000E), .UI, "1.2.826.0.1.3680043.10.1515.98.\(i).2")
            ds.set(Tag(0x0008, 0x0018), .UI, "1.2.826.0.1.3680043.10.1515.98.\(i).3")
            let path = dir + "/\(i).dcm"
            try FileBytes.write(try Part10Writer.encode(ds, transferSyntax: file.transferSyntax), to: path)
            made.append(path)
        }
        let qr = try QRSCPProcess(files: made)
        defer { qr.peer.stop() }
        func find(_ extra: [String]) throws -> [String] {
            let r = try FerryCLI.run(
                ["findscu", "-S", "-aec", "QRSCP", "--json"] + extra + [
                    "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID", "-k", "StudyDate=20240101-20240102",
                    "-k", "StudyTime=2200-0600", "127.0.0.1", String(qr.peer.port),
                ])
            guard r.status == 0 else { throw PeerError(message: r.stderr) }
            let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
            return json.compactMap { (($0["0020000D"] as? [String: Any])?["Value"] as? [String])?.first }
        }
        // Separately, no time lies in 22:00-06:00 read as one day's range.
        #expect(try find([]).isEmpty)
        // As one range, from 22:00 on the first to 06:00 on the second: the first study only.
        #expect(try find(["--datetime"]) == ["1.2.826.0.1.3680043.10.1515.98.0.1"])
        #expect(try find(["--datetime", "--relational"]) == ["1.2.826.0.1.3680043.10.1515.98.0.1"])
    }
}

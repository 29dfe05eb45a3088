import FerryDICOM
import FerryServices
import Testing

/// C-FIND matching (PS3.4 C.2.2.2), each kind on its own.
@Suite
struct AttributeMatcherTests {
    let matcher = AttributeMatcher()

    func matches(
        _ vr: VR, _ query: String, _ value: String?, matcher: AttributeMatcher? = nil,
        queryCharset: SpecificCharacterSet = .utf8, candidateBytes: [UInt8]? = nil,
        candidateCharset: SpecificCharacterSet = .utf8
    ) -> Bool {
        let tag = Tag(0x0010, 0x0010)
        let candidate =
            candidateBytes.map { DataElement(tag, vr, bytes: $0) } ?? value.map { DataElement(tag, vr, string: $0) }
        return (matcher ?? self.matcher).matches(
            DataElement(tag, vr, string: query), queryCharset: queryCharset, candidate: candidate,
            candidateCharset: candidateCharset)
    }

    @Test func universalSingleValueAndWildcards() {
        #expect(matches(.LO, "", "anything"))
        #expect(matches(.LO, "", nil))
        #expect(matches(.LO, "ABC", "ABC") && !matches(.LO, "ABC", "ABCD") && !matches(.LO, "ABC", nil))
        #expect(matches(.LO, "A*C", "ABBBC") && matches(.LO, "A?C", "ABC") && !matches(.LO, "A?C", "ABBC"))
        #expect(matches(.LO, "*", "x") && matches(.LO, "*", ""))
        #expect(matches(.CS, "CT", "MR\\CT"), "a multi-valued candidate matches by any value")
        #expect(!matches(.LO, "abc", "ABC"), "not PN: case matters")
    }

    @Test func personNamesIgnoreCaseUnlessAskedTo() {
        #expect(matches(.PN, "doe*", "DOE^JOHN"))
        #expect(!matches(.PN, "doe*", "DOE^JOHN", matcher: AttributeMatcher(caseInsensitiveNames: false)))
        #expect(matches(.PN, "DOE*", "DOE^JOHN", matcher: AttributeMatcher(caseInsensitiveNames: false)))
    }

    @Test func uidListsDatesAndTimes() {
        #expect(matches(.UI, "1.2.3\\1.2.4", "1.2.4") && !matches(.UI, "1.2.3\\1.2.4", "1.2.5"))
        #expect(matches(.DA, "20240101-20240131", "20240115") && !matches(.DA, "20240101-20240131", "20240201"))
        #expect(matches(.DA, "-20240131", "19991231") && matches(.DA, "20240101-", "20991231"))
        #expect(matches(.DA, "20240131", "2024.01.31"), "an ACR-NEMA date")
        #expect(matches(.TM, "1000-1200", "113059.123") && matches(.TM, "1000-1200", "120030"))
        #expect(!matches(.TM, "1000-1200", "130000"))
        #expect(matches(.DT, "20240101-20240102", "20240101235959"))
    }

    @Test func valuesAreComparedInTheirOwnCharacterSets() {
        // "Müller" in Latin-1 (ISO_IR 100) matched by a UTF-8 query, with and without case.
        let latin1: [UInt8] = [0x4D, 0xFC, 0x6C, 0x6C, 0x65, 0x72, 0x5E, 0x48, 0x61, 0x6E, 0x73]
        let iso = SpecificCharacterSet("ISO_IR 100")
        #expect(matches(.PN, "Mü*", nil, candidateBytes: latin1, candidateCharset: iso))
        #expect(matches(.PN, "MÜLLER*", nil, candidateBytes: latin1, candidateCharset: iso))
        // Read as the default repertoire, the byte 0xFC is no "ü".
        #expect(!matches(.PN, "Mü*", nil, candidateBytes: latin1, candidateCharset: .ascii))
        // ISO 2022 with Japanese (PS3.5 H.3.1): Yamada^Tarou in ideographic form.
        let jis: [UInt8] =
            [
                0x1B, 0x24, 0x42, 0x3B, 0x33, 0x45, 0x44, 0x1B, 0x28, 0x42, 0x5E, 0x1B, 0x24, 0x42, 0x42, 0x40, 0x4F,
                0x3A,
            ]
            + [0x1B, 0x28, 0x42]
        let japanese = SpecificCharacterSet("\\ISO 2022 IR 87")
        #expect(japanese.decode(jis) == "山田^太郎")
        #expect(matches(.PN, "山田*", nil, candidateBytes: jis, candidateCharset: japanese))
        // Korean (PS3.5 I.2): Hong^Gildong in Hangul, KS X 1001 in G1.
        let korean: [UInt8] = [
            0x1B, 0x24, 0x29, 0x43, 0xC8, 0xAB, 0x5E, 0x1B, 0x24, 0x29, 0x43, 0xB1, 0xE6, 0xB5, 0xBF,
        ]
        #expect(SpecificCharacterSet("\\ISO 2022 IR 149").decode(korean) == "홍^길동")
    }

    @Test func sequencesMatchByItem() {
        let code = Tag(0x0008, 0x0100)
        let seqTag = Tag(0x0008, 0x1032)
        var item = DataSet()
        item.set(code, .SH, "CT123")
        let candidate = DataElement(tag: seqTag, vr: .SQ, value: .sequence([item]))
        var want = DataSet()
        want.set(code, .SH, "CT*")
        let query = DataElement(tag: seqTag, vr: .SQ, value: .sequence([want]))
        #expect(matcher.matches(query, queryCharset: .ascii, candidate: candidate, candidateCharset: .ascii))
        var other = DataSet()
        other.set(code, .SH, "MR*")
        let miss = DataElement(tag: seqTag, vr: .SQ, value: .sequence([other]))
        #expect(!matcher.matches(miss, queryCharset: .ascii, candidate: candidate, candidateCharset: .ascii))
        let empty = DataElement(tag: seqTag, vr: .SQ, value: .sequence([DataSet()]))
        #expect(matcher.matches(empty, queryCharset: .ascii, candidate: nil, candidateCharset: .ascii))
    }
}

/// Combined date and time matching (PS3.4 C.2.2.2.5.1), when negotiated.
@Suite
struct CombinedDateTimeTests {
    @Test func aDateRangeAndATimeRangeAreOneDateTimeRange() {
        // From 22:00 on the first to 06:00 on the second.
        #expect(AttributeMatcher.matchesCombined(date: "20240101-20240102", time: "2200-0600", value: "20240101230000"))
        #expect(AttributeMatcher.matchesCombined(date: "20240101-20240102", time: "2200-0600", value: "20240102053000"))
        #expect(
            !AttributeMatcher.matchesCombined(date: "20240101-20240102", time: "2200-0600", value: "20240101120000"))
        #expect(
            !AttributeMatcher.matchesCombined(date: "20240101-20240102", time: "2200-0600", value: "20240102070000"))
        // Each on its own, 12:00 on the first would match both ranges' days and fail the time;
        // 23:00 on the second would match: combined, it does not.
        #expect(
            !AttributeMatcher.matchesCombined(date: "20240101-20240102", time: "2200-0600", value: "20240102230000"))
        #expect(AttributeMatcher.matchesCombined(date: "20240101-", time: "2200-", value: "20250101000000"))
    }
}

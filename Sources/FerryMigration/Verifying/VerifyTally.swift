extension Verifier {
    /// Per-instance results and findings, study by study.
    struct Tally {
        var results: [Int64: Verification] = [:]
        var findings: [VerifyFinding] = []
        var missing: [String] = []

        mutating func compare(study: String, sent: [SentInstance], held: Holdings) {
            for series in held.capped {
                findings.append(
                    VerifyFinding(
                        kind: .capped, study: study, series: series,
                        detail:
                            "the destination capped the series' instance list; its sent instances were asked for by UID"
                    ))
            }
            for i in sent {
                let ok = held.series[i.series]?.uids.contains(i.uid) ?? false
                results[i.id] = ok ? .verified : .missing
                if !ok { missing.append(i.path) }
            }
            guard held.exists else { return }
            let jobUIDs = Set(sent.map(\.uid))
            let series = held.series.sorted { $0.key < $1.key }
            for (uid, listed) in series {
                for instance in listed.uids.sorted() where !jobUIDs.contains(instance) {
                    findings.append(
                        VerifyFinding(
                            kind: .unexpected, study: study, series: uid, instance: instance,
                            detail: "held by the destination, not sent by this job"))
                }
            }
            // Counts: the peer's (NumberOf...Related... when it gives them, else its lists)
            // against what this job sent.
            let heldCount = held.count ?? series.reduce(0) { $0 + $1.value.uids.count }
            if heldCount != sent.count {
                findings.append(
                    VerifyFinding(
                        kind: .count, study: study,
                        detail: "the destination holds \(heldCount) instances of the study, this job sent \(sent.count)"
                    ))
            }
            for (uid, listed) in series {
                let sentInSeries = sent.filter { $0.series == uid }.count
                let heldInSeries = listed.count ?? listed.uids.count
                if heldInSeries != sentInSeries {
                    findings.append(
                        VerifyFinding(
                            kind: .count, study: study, series: uid,
                            detail:
                                "the destination holds \(heldInSeries) instances of the series, this job sent \(sentInSeries)"
                        ))
                }
            }
        }
    }
}

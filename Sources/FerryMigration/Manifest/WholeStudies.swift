/// Pages of a manifest's rows in study order, cut so that a study is never split: what of
/// `rows` is ready, and the last study, kept for the next page unless this page is the last.
/// A study larger than a page waits for all its pages (memory is bounded by a page and the
/// largest study). The send pass and `ferry verify` read their pages through it.
func wholeStudies<Row>(
    _ rows: [Row], last: Bool, study: (Row) -> String?
) -> (ready: [Row], carried: [Row]) {
    guard !last, let lastRow = rows.last else { return (rows, []) }
    let lastStudy = study(lastRow)
    let cut = rows.lastIndex { study($0) != lastStudy }.map { $0 + 1 } ?? 0
    return (Array(rows[..<cut]), Array(rows[cut...]))
}

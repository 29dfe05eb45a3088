extension Job {
    /// Storage commitment after the sends (PS3.4 Annex J, Push Model): which instances one
    /// request names, where the destination's reports may arrive, how long to wait for them.
    public struct Commitment: Codable, Sendable, Equatable {
        public enum Batch: Sendable, Equatable {
            /// One request per study.
            case study
            /// One request per this many instances.
            case instances(Int)
            /// One request for everything sent (up to `maxPerRequest` instances each).
            case end
        }
        public var batch = Batch.end
        /// Ferry listens here for reports the destination sends on a new association (Orthanc
        /// always does), as the destination's calling AE; nil: only on the requesting one.
        public var listenPort: Int?
        public var listenHost = "0.0.0.0"
        /// Seconds to wait for the reports once every request is made; what has not come stays
        /// outstanding and is asked again by the next run.
        public var wait = 120.0

        /// The most instances one request names (its data set stays a few MiB).
        public static let maxPerRequest = 10_000

        enum CodingKeys: String, CodingKey, CaseIterable {
            case batch, listenPort = "listen_port", listenHost = "listen_host", wait
        }
        public init() {}
        public init(from d: Decoder) throws {
            let c = try d.container(onlyKeyedBy: CodingKeys.self)
            if let n = try? c.decodeIfPresent(Int.self, forKey: .batch) {
                batch = .instances(n)
            } else if let word = try c.decodeIfPresent(String.self, forKey: .batch) {
                switch word {
                case "study": batch = .study
                case "end": batch = .end
                default:
                    throw DecodingError.dataCorruptedError(
                        forKey: .batch, in: c,
                        debugDescription: "expected study, end or a number of instances, found \"\(word)\"")
                }
            }
            listenPort = try c.decodeIfPresent(Int.self, forKey: .listenPort)
            listenHost = try c.decodeIfPresent(String.self, forKey: .listenHost) ?? "0.0.0.0"
            wait = try c.decodeIfPresent(Double.self, forKey: .wait) ?? 120
        }
        public func encode(to e: Encoder) throws {
            var c = e.container(keyedBy: CodingKeys.self)
            switch batch {
            case .study: try c.encode("study", forKey: .batch)
            case .end: try c.encode("end", forKey: .batch)
            case .instances(let n): try c.encode(n, forKey: .batch)
            }
            try c.encodeIfPresent(listenPort, forKey: .listenPort)
            try c.encode(listenHost, forKey: .listenHost)
            try c.encode(wait, forKey: .wait)
        }

        func validate(job: String) throws {
            if case .instances(let n) = batch, !(1...Self.maxPerRequest).contains(n) {
                throw MigrationError.invalidJob("job \(job): commitment.batch must be study, end or 1...10000")
            }
            if let p = listenPort, !(1...65535).contains(p) {
                throw MigrationError.invalidJob("job \(job): commitment.listen_port must be 1...65535")
            }
            guard wait > 0, wait <= 86_400 * 7 else {
                throw MigrationError.invalidJob("job \(job): commitment.wait must be 0...604800 seconds")
            }
        }
    }
}

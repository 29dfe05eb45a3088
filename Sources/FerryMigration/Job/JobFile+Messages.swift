import Yams

/// What a person reads about a job file that cannot be used: the file, the line, the key and
/// what was wrong in words, e.g. `jobs/x.yaml, line 12: transfer.associations: expected a whole
/// number, found "four"`. Swift's `DecodingError` names the coding path and Yams's the type it
/// wanted; the line is that of the YAML node at the path, the rest is said plainly here.
extension JobFile {
    static func error(_ error: any Error, file: String, root: Node) -> MigrationError {
        switch error {
        case let e as MigrationError:
            return e
        case let e as DecodingError:
            return decoding(e, file: file, root: root)
        case let e as YamlError:
            return yaml(e, file: file)
        default:
            return MigrationError(.invalidJob, "\(file): \(error)", path: file, underlying: error)
        }
    }

    static func decoding(_ error: DecodingError, file: String, root: Node) -> MigrationError {
        let keys: [any CodingKey]
        let problem: String
        var lineKeys: [any CodingKey]?
        switch error {
        case .typeMismatch(let type, let context):
            keys = context.codingPath
            let found = locate(keys, in: root).node.map { ", found \(describe($0))" } ?? ""
            problem = "expected \(words(for: type))\(found)"
        case .valueNotFound(let type, let context):
            keys = context.codingPath
            problem = "expected \(words(for: type)), found nothing"
        case .keyNotFound(let key, let context):
            keys = context.codingPath + [key]
            lineKeys = context.codingPath  // the key is not there: the line of its section
            problem = "missing (this key is required)"
        case .dataCorrupted(let context):
            // Thrown by the job's own decoding (unknown keys, closed sets of words): already words.
            keys = context.codingPath
            problem = context.debugDescription
        @unknown default:
            return MigrationError(.invalidJob, "\(file): \(error)", path: file, underlying: error)
        }
        let line = locate(lineKeys ?? keys, in: root).line
        let at = line.map { "\(file), line \($0)" } ?? file
        let key = keyPath(keys)
        return MigrationError(
            .invalidJob, "\(at): \(key.isEmpty ? "" : key + ": ")\(problem)", path: file, line: line, underlying: error)
    }

    static func yaml(_ error: YamlError, file: String) -> MigrationError {
        let line: Int?
        let problem: String
        switch error {
        case .scanner(let context, let text, let mark, _), .parser(let context, let text, let mark, _),
            .composer(let context, let text, let mark, _):
            line = mark.line
            // libyaml's context says where the construct it could not finish began.
            let begun = context.map {
                $0.mark.line == mark.line ? $0.text : "\($0.text) started on line \($0.mark.line)"
            }
            problem = "not valid YAML: \(text)" + (begun.map { " (\($0))" } ?? "")
        case .duplicatedKeysInMapping(let duplicates, let context):
            line = context.mark.line
            problem = duplicates.map { "\"\($0)\"" }.joined(separator: ", ") + " given twice in one section"
        default:
            line = nil
            problem = "not valid YAML: \(error)"
        }
        let at = line.map { "\(file), line \($0)" } ?? file
        return MigrationError(.invalidJob, "\(at): \(problem)", path: file, line: line, underlying: error)
    }

    /// "transfer.transcoding.order[2]".
    static func keyPath(_ keys: [any CodingKey]) -> String {
        keys.reduce(into: "") { text, key in
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
    }

    /// The node at `keys`, and the line to name: a key's own line (where the person wrote it),
    /// an item's in a list; the deepest one found when the path leaves the file.
    static func locate(_ keys: [any CodingKey], in root: Node) -> (node: Node?, line: Int?) {
        var node: Node? = root
        var line = root.mark?.line
        for key in keys {
            if let index = key.intValue, let items = node?.sequence, items.indices.contains(index) {
                node = items[index]
                line = items[index].mark?.line ?? line
            } else if let mapping = node?.mapping, let pair = pair(key.stringValue, in: mapping) {
                node = pair.value
                line = pair.key.mark?.line ?? line
            } else {
                return (nil, line)
            }
        }
        return (node, line)
    }

    /// The last pair with that key, or one merged in with `<<: *anchor` as the decoder sees it.
    static func pair(_ key: String, in mapping: Node.Mapping) -> (key: Node, value: Node)? {
        if let own = mapping.reversed().first(where: { $0.key.string == key }) { return own }
        for merged in mapping where merged.key.string == "<<" {
            let sources = merged.value.mapping.map { [$0] } ?? (merged.value.sequence ?? []).compactMap(\.mapping)
            for source in sources { if let found = pair(key, in: source) { return found } }
        }
        return nil
    }

    /// What the decoder wanted, in words.
    static func words(for type: Any.Type) -> String {
        switch type {
        case is Bool.Type: "true or false"
        case is any BinaryInteger.Type: "a whole number"
        case is any BinaryFloatingPoint.Type: "a number"
        case is String.Type: "text"
        case is Node.Scalar.Type: "a single value"
        case is Node.Sequence.Type: "a list"
        case is Node.Mapping.Type: "a mapping of keys to values"
        default: "\(type)"
        }
    }

    /// What the file holds there, in words: the value itself when it is one.
    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            let null = scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
            return null ? "nothing" : "\"\(scalar.string)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }
}

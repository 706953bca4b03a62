import Foundation
import Yams

/// A topology file that could not be read, with the place of the problem.
public struct TopologyFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where: a key path like `links[2].b`, or `line 3, column 7` when the text is not YAML/JSON at all.
    public var place: String
    public var message: String

    public init(place: String, message: String) {
        self.place = place
        self.message = message
    }

    public var description: String { "\(place): \(message)" }
}

extension Topology {
    /// Reads a topology from YAML and validates it.
    ///
    /// - Throws: ``TopologyFileError`` when the text does not fit the schema, ``ValidationError`` when the
    ///   topology it describes has problems (unknown nodes, bad gateways, …).
    public static func load(yaml: String) throws -> Topology {
        guard yaml.contains(where: { !$0.isWhitespace }) else {
            throw TopologyFileError(place: "top level", message: "the file is empty")
        }
        let topology: Topology
        do {
            topology = try YAMLDecoder().decode(Topology.self, from: yaml)
        } catch let error as YamlError {
            throw TopologyFileError(yaml: error)
        } catch let error as DecodingError {
            // Yams wraps syntax errors in DecodingError.dataCorrupted: report them as YAML, with their place.
            if case .dataCorrupted(let context) = error, let yaml = context.underlyingError as? YamlError {
                throw TopologyFileError(yaml: yaml)
            }
            throw TopologyFileError(decoding: error)
        }
        return try topology.validated()
    }

    /// Reads a topology from JSON and validates it.
    public static func load(json: Data) throws -> Topology {
        let topology: Topology
        do {
            topology = try JSONDecoder().decode(Topology.self, from: json)
        } catch let error as DecodingError {
            throw TopologyFileError(decoding: error)
        }
        return try topology.validated()
    }

    /// Reads a topology from JSON text and validates it.
    public static func load(json: String) throws -> Topology { try load(json: Data(json.utf8)) }

    /// The largest topology file ``load(path:maxBytes:)`` reads by default: 16 MiB, about a
    /// hundred times a file describing a 1,000-host star.
    public static let maxFileBytes = 16 << 20

    /// Reads a `.json`, `.yaml` or `.yml` file and validates the topology in it.
    /// - Parameter maxBytes: a larger file is refused before it is read.
    /// - Throws: ``TopologyFileError`` for a file that is missing, not a regular file (a
    ///   directory, a FIFO, a device), too large, or not a valid topology; `ValidationError`.
    public static func load(path: String, maxBytes: Int = maxFileBytes) throws -> Topology {
        // Look before reading: a FIFO would block and a device would never end.
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            let exists = FileManager.default.fileExists(atPath: path)
            throw TopologyFileError(place: path, message: exists ? "cannot read the file (permission denied?)" : "no such file")
        }
        let type = attributes[.type] as? FileAttributeType
        switch type {
        case .typeRegular?: break
        case .typeDirectory?: throw TopologyFileError(place: path, message: "is a directory, not a topology file")
        case .typeCharacterSpecial?, .typeBlockSpecial?: throw TopologyFileError(place: path, message: "is a device, not a topology file")
        default: throw TopologyFileError(place: path, message: "is not a regular file (a FIFO or socket?), so it is not read")
        }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        if size > maxBytes {
            throw TopologyFileError(place: path, message: "is \(mebibytes(size)), more than the \(mebibytes(maxBytes)) a topology file may have")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TopologyFileError(place: path, message: "cannot read the file: \(error.localizedDescription)")
        }
        if data.count > maxBytes {
            throw TopologyFileError(place: path, message: "is more than the \(mebibytes(maxBytes)) a topology file may have")
        }
        if path.lowercased().hasSuffix(".json") { return try load(json: data) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TopologyFileError(place: path, message: "the file is not UTF-8 text")
        }
        return try load(yaml: text)
    }

    /// The topology as YAML, in the schema of `FileFormat.md`.
    public func yaml() -> String {
        // Encoding plain values with string keys cannot fail.
        (try? YAMLEncoder().encode(self)) ?? ""
    }

    /// The topology as pretty-printed JSON with sorted keys.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

extension TopologyFileError {
    init(yaml error: YamlError) {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
             .composer(_, let problem, let mark, _):
            self.init(place: "line \(mark.line), column \(mark.column)", message: "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            self.init(place: "line \(context.mark.line), column \(context.mark.column)",
                      message: "duplicate key \(duplicates.sorted().joined(separator: ", ")) in the mapping that starts here")
        default:
            self.init(place: "file", message: "not valid YAML: \(error)")
        }
    }

    init(decoding error: DecodingError) {
        func path(_ keys: [CodingKey]) -> String {
            let text = keys.reduce("") { text, key in
                key.intValue.map { "\(text)[\($0)]" } ?? (text.isEmpty ? key.stringValue : "\(text).\(key.stringValue)")
            }
            return text.isEmpty ? "top level" : text
        }
        func describe(_ type: Any.Type) -> String {
            switch type {
            case is String.Type: "a string"
            case is Int.Type, is UInt32.Type, is UInt16.Type, is UInt8.Type, is UInt64.Type: "a whole number"
            case is Double.Type: "a number"
            case is Bool.Type: "true or false"
            default: "\(type)"
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            self.init(place: path(context.codingPath), message: "missing key \"\(key.stringValue)\"")
        case .typeMismatch(let type, let context):
            self.init(place: path(context.codingPath), message: "expected \(describe(type))")
        case .valueNotFound(let type, let context):
            self.init(place: path(context.codingPath), message: "expected \(describe(type)), found nothing")
        case .dataCorrupted(let context):
            if let yaml = context.underlyingError as? YamlError {
                self.init(yaml: yaml)
                return
            }
            let message = context.underlyingError.map { "not valid JSON: \($0.localizedDescription)" }
                ?? context.debugDescription
            self.init(place: path(context.codingPath), message: message)
        @unknown default:
            self.init(place: "file", message: "\(error)")
        }
    }
}

/// `1.5 MiB`, `16 MiB`.
func mebibytes(_ bytes: Int) -> String {
    let m = Double(bytes) / 1_048_576
    return m == m.rounded() ? "\(Int(m)) MiB" : String(format: "%.1f MiB", m)
}

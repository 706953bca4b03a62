import Foundation
import Yams

/// A topology or scenario file that could not be read, with the place of the problem.
public struct TopologyFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where: a key path like `links[2].b`, or `line 3, column 7` when the text is not YAML/JSON at all.
    public var place: String
    /// What is wrong, in one sentence.
    public var message: String
    /// The file's name, when the text came from a file.
    public var file: String?
    /// The line (from 1) of the value the problem is about, when known.
    public var line: Int?
    /// The column (from 1) of the value, when known.
    public var column: Int?

    /// A problem at `place`, with the file, line and column when known; long messages are shortened.
    public init(place: String, message: String, file: String? = nil, line: Int? = nil, column: Int? = nil) {
        self.place = place
        self.message = cappedText(message)
        self.file = file
        self.line = line
        self.column = column
    }

    /// `router.yaml:31: expect[2].from: unknown node "h9"`; without a file, `line 31: …`.
    public var description: String {
        let at: String
        switch (file, line) {
        case let (file?, line?): at = "\(file):\(line): "
        case let (nil, line?): at = place.hasPrefix("line ") ? "" : "line \(line): "
        case let (file?, nil): at = "\(file): "
        default: at = ""
        }
        return at + "\(place): \(message)"
    }
}

/// Every problem of a topology or scenario file, each with its key path and line.
public struct FileProblems: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file's name, when the text came from a file.
    public var file: String?
    /// The problems, in the order they were found.
    public var problems: [TopologyFileError]

    /// The problems of one file (`file` nil for text that came from elsewhere).
    public init(file: String?, problems: [TopologyFileError]) {
        self.file = file
        self.problems = problems
    }

    /// The one problem, or the count followed by one problem per line.
    public var description: String {
        if problems.count == 1 { return "\(problems[0])" }
        return "\(problems.count) problems:\n" + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}

extension Topology {
    /// Reads a topology from YAML and validates it.
    ///
    /// - Throws: ``TopologyFileError`` when the text does not fit the schema, ``ValidationError`` when the
    ///   topology it describes has problems (unknown nodes, bad gateways, …).
    public static func load(yaml: String) throws -> Topology {
        try load(yaml: yaml, file: nil)
    }

    /// Reads a topology from YAML, naming `file` in errors, and validates it.
    ///
    /// Each problem has its key path and line; validation issues get the line of the value their
    /// key path names. `repeat` blocks are expanded first (see FileFormat.md).
    /// - Throws: the first ``TopologyFileError``, or a ``ValidationError``.
    public static func load(yaml: String, file: String?) throws -> Topology {
        let source = try YAMLSource(text: yaml, file: file)
        let (topology, problems) = source.topology()
        if let first = problems.first { throw first }
        do {
            return try topology!.validated()
        } catch {
            throw source.located(error)
        }
    }

    /// Reads a topology from JSON and validates it.
    ///
    /// JSON keeps its own types (a number is not a string); a problem also gets its line, found
    /// by reading the text as YAML (JSON is YAML's flow style).
    public static func load(json: Data) throws -> Topology {
        try load(json: json, file: nil)
    }

    static func load(json: Data, file: String?) throws -> Topology {
        let topology: Topology
        do {
            topology = try JSONDecoder().decode(Topology.self, from: json)
        } catch let error as DecodingError {
            if case .dataCorrupted(let c) = error, c.codingPath.isEmpty, var syntax = jsonSyntaxError(json) {
                syntax.file = file
                throw syntax
            }
            var e = TopologyFileError(decoding: error)
            e.file = file
            if let text = String(data: json, encoding: .utf8), let source = try? YAMLSource(text: text, file: file) {
                let path: [CodingKey]
                switch error {
                case .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
                    path = c.codingPath
                @unknown default:
                    path = []
                }
                if let m = source.mark(at: PathStep.steps(path)) {
                    e.line = m.line
                    e.column = m.column
                }
            }
            throw e
        }
        // JSONDecoder keeps one of two equal keys without a word; YAML refuses them, and so do we.
        if let dup = firstDuplicateKey(json: json) {
            throw TopologyFileError(place: "line \(dup.line), column \(dup.column)",
                                    message: "duplicate key \"\(dup.key)\" in the object that holds it")
        }
        return try topology.validated()
    }

    /// Where JSON text stops being JSON, with line and column (JSONDecoder says only "not valid JSON").
    static func jsonSyntaxError(_ json: Data) -> TopologyFileError? {
        do {
            _ = try JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed])
            return nil
        } catch {
            let text = (error as NSError).userInfo["NSDebugDescription"] as? String ?? ""
            var what = text.components(separatedBy: " around character ").first ?? text
            if what.hasSuffix(".") { what.removeLast() }
            guard let r = text.range(of: "around character "),
                  let offset = Int(text[r.upperBound...].prefix { $0.isNumber }) else {
                return TopologyFileError(place: "file", message: "not valid JSON" + (what.isEmpty ? "" : ": \(what)"))
            }
            let bytes = [UInt8](json.prefix(max(0, offset - 1)))
            let line = bytes.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            let lineStart = (bytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
            let column = String(decoding: bytes[lineStart...], as: UTF8.self).count + 1
            return TopologyFileError(place: "line \(line), column \(column)", message: "not valid JSON: \(what.isEmpty ? "syntax error" : what)")
        }
    }

    /// The first key that appears twice in one JSON object, with its line and column (1-based).
    /// Expects JSON that has already parsed.
    static func firstDuplicateKey(json: Data) -> (key: String, line: Int, column: Int)? {
        let b = [UInt8](json)
        var stack: [(object: Bool, keys: Set<String>, expectKey: Bool)] = []
        var line = 1, lineStart = 0, i = 0
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "{"): stack.append((true, [], true))
            case UInt8(ascii: "["): stack.append((false, [], false))
            case UInt8(ascii: "}"), UInt8(ascii: "]"): if !stack.isEmpty { stack.removeLast() }
            case UInt8(ascii: ","): if let top = stack.last, top.object { stack[stack.count - 1].expectKey = true }
            case UInt8(ascii: "\n"): line += 1; lineStart = i + 1
            case UInt8(ascii: "\""):
                let start = i
                i += 1
                while i < b.count && b[i] != UInt8(ascii: "\"") { i += b[i] == UInt8(ascii: "\\") ? 2 : 1 }
                guard let top = stack.last, top.object, top.expectKey, i < b.count else { break }
                let raw = Data(b[start...i])
                // Escapes (\u0061 is "a") are compared by what they mean.
                let key = (try? JSONSerialization.jsonObject(with: raw, options: .fragmentsAllowed) as? String)
                    ?? String(decoding: raw, as: UTF8.self)
                if top.keys.contains(key) {
                    let column = String(decoding: b[lineStart..<start], as: UTF8.self).count + 1
                    return (key, line, column)
                }
                stack[stack.count - 1].keys.insert(key)
                stack[stack.count - 1].expectKey = false
            default: break
            }
            i += 1
        }
        return nil
    }

    /// Reads a topology from JSON text and validates it.
    public static func load(json: String) throws -> Topology { try load(json: Data(json.utf8)) }

    /// The largest topology file ``load(path:maxBytes:)`` reads by default: 16 MiB, about a
    /// hundred times a file describing a 1,000-host star.
    public static let maxFileBytes = 16 << 20

    /// Reads a `.json`, `.yaml` or `.yml` file and validates the topology in it.
    /// - Parameters:
    ///   - path: The file; its extension says the format (`.json`, else YAML).
    ///   - maxBytes: A larger file is refused before it is read.
    /// - Throws: ``TopologyFileError`` for a file that is missing, not a regular file (a
    ///   directory, a FIFO, a device), too large, or not a valid topology; `ValidationError`.
    public static func load(path: String, maxBytes: Int = maxFileBytes) throws -> Topology {
        let data = try readFile(path: path, maxBytes: maxBytes)
        if path.lowercased().hasSuffix(".json") { return try load(json: data, file: (path as NSString).lastPathComponent) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TopologyFileError(place: path, message: "the file is not UTF-8 text")
        }
        return try load(yaml: text, file: (path as NSString).lastPathComponent)
    }

    /// The bytes of a topology or scenario file, refused before reading when it is not a
    /// regular file (a directory, a FIFO, a device) or larger than `maxBytes`.
    public static func readFile(path: String, maxBytes: Int = maxFileBytes) throws(TopologyFileError) -> Data {
        // Look before reading: a FIFO would block and a device would never end. A plain `stat`:
        // FileManager's attributes also look the owner up in /etc/passwd and /etc/group (and try
        // nscd), which cost more than reading a small file.
        var st = stat()
        guard lstat(path, &st) == 0 else { // as FileManager did: a symbolic link is not read
            let exists = errno != ENOENT && errno != ENOTDIR
            throw TopologyFileError(place: path, message: exists ? "cannot read the file (permission denied?)" : "no such file")
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw TopologyFileError(place: path, message: "is a directory, not a topology file")
        case S_IFCHR, S_IFBLK: throw TopologyFileError(place: path, message: "is a device, not a topology file")
        default: throw TopologyFileError(place: path, message: "is not a regular file (a FIFO or socket?), so it is not read")
        }
        let size = Int(st.st_size)
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
        return data
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
    /// The same problem, worded for a JSON file (which the YAML parser read).
    package var inJSON: TopologyFileError {
        var e = self
        if e.message.hasPrefix("not valid YAML") { e.message = "not valid JSON" + e.message.dropFirst("not valid YAML".count) }
        return e
    }

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
            case is Int.Type: "a whole number"
            case let t as any FixedWidthInteger.Type: "a whole number from \(t.min) to \(t.max)"
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

/// `text`, cut to `limit` characters with a note of how much was left out: an error never echoes
/// a megabyte-long value or ten thousand names.
func cappedText(_ text: String, limit: Int = 400) -> String {
    guard text.count > limit + 40 else { return text }
    return String(text.prefix(limit)) + "… (\(text.count - limit) more characters)"
}

import Yams

// A file kept as Yams nodes, with their marks, so that every value decoded from it (and every
// problem found in it) can be traced back to its line: Codable alone forgets where a value was.

/// One step of a key path into a file: a mapping key or a list index.
package enum PathStep: Hashable, Sendable, CustomStringConvertible {
    case key(String)
    case index(Int)

    package var description: String {
        switch self {
        case .key(let k): k
        case .index(let i): "[\(i)]"
        }
    }

    /// `nodes[0].routes[1].via`, or `top level` for the empty path.
    package static func text(_ path: [PathStep]) -> String {
        let text = path.reduce("") { text, step in
            switch step {
            case .index(let i): "\(text)[\(i)]"
            case .key(let k): text.isEmpty ? k : "\(text).\(k)"
            }
        }
        return text.isEmpty ? "top level" : text
    }

    /// The steps of a coding path (as Codable reports it).
    package static func steps(_ codingPath: [CodingKey]) -> [PathStep] {
        codingPath.map { key in key.intValue.map(PathStep.index) ?? .key(key.stringValue) }
    }

    /// The steps of a key path written as text, like `links[1].b` (the form validation issues use).
    package static func steps(parsing text: String) -> [PathStep] {
        var out: [PathStep] = []
        for part in text.split(separator: ".") {
            var rest = Substring(part)
            if let open = rest.firstIndex(of: "[") {
                let key = rest[..<open]
                if !key.isEmpty { out.append(.key(String(key))) }
                rest = rest[open...]
                while rest.first == "[", let close = rest.firstIndex(of: "]") {
                    if let i = Int(rest[rest.index(after: rest.startIndex)..<close]) { out.append(.index(i)) }
                    rest = rest[rest.index(after: close)...]
                }
            } else {
                out.append(.key(String(rest)))
            }
        }
        return out
    }
}

/// A YAML (or JSON) document as a tree of nodes that remember their lines, with `repeat` blocks expanded.
package struct YAMLSource {
    /// The file name shown in messages (`router.yaml`), if the text came from a file.
    package var file: String?
    package var root: Yams.Node

    /// Parses the text and expands its `repeat` blocks.
    /// - Throws: ``TopologyFileError`` for an empty file or text that is not YAML.
    package init(text: String, file: String? = nil) throws(TopologyFileError) {
        self.file = file
        guard text.contains(where: { !$0.isWhitespace }) else {
            throw TopologyFileError(place: "top level", message: "the file is empty", file: file)
        }
        let parsed: Yams.Node?
        do {
            // The basic resolver reads every plain scalar as text: values are made from their text
            // by the decoder (as Yams' own YAMLDecoder does, with only merges resolved), and merge
            // keys are found by their text too. The default resolver would run its regular
            // expressions for every key the parser compares in its duplicate-key check.
            parsed = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            var e = TopologyFileError(yaml: error)
            e.file = file
            throw e
        } catch {
            throw TopologyFileError(place: "file", message: "not valid YAML: \(error)", file: file)
        }
        guard let parsed else {
            throw TopologyFileError(place: "top level", message: "the file is empty", file: file)
        }
        var problems: [TopologyFileError] = []
        root = Self.expand(parsed, variables: [:], path: [], file: file, problems: &problems)
        repeatProblems = problems
    }

    /// Malformed `repeat` blocks (each left out of the expanded tree), reported with the file's other problems.
    package var repeatProblems: [TopologyFileError] = []

    /// The node at a path, if it exists.
    package func node(at path: [PathStep]) -> Yams.Node? {
        var node = root
        for step in path {
            switch (step, node) {
            case (.key(let k), .mapping(let m)):
                guard let next = m[k] else { return nil }
                node = next
            case (.index(let i), .sequence(let s)):
                guard s.indices.contains(i) else { return nil }
                node = s[i]
            default:
                return nil
            }
        }
        return node
    }

    /// The mark of the deepest node along `path` that exists (a missing key points at its mapping).
    package func mark(at path: [PathStep]) -> Mark? {
        var node = root
        var mark = root.mark
        for step in path {
            switch (step, node) {
            case (.key(let k), .mapping(let m)):
                guard let next = m[k] else { return mark }
                node = next
            case (.index(let i), .sequence(let s)):
                guard s.indices.contains(i) else { return mark }
                node = s[i]
            default:
                return mark
            }
            mark = node.mark ?? mark
        }
        return mark
    }

    /// Where the value at `path` was written, as a declaration location (`router.yaml:31:5`).
    package func location(at path: [PathStep]) -> DeclarationLocation? {
        mark(at: path).map { DeclarationLocation(fileID: file ?? "line", line: $0.line, column: $0.column) }
    }

    /// A problem at `path`, with the line of the value there.
    package func problem(_ message: String, at path: [PathStep]) -> TopologyFileError {
        let m = mark(at: path)
        return TopologyFileError(place: PathStep.text(path), message: message, file: file, line: m?.line, column: m?.column)
    }

    /// Decodes the value at `path` as `T`; a decoding error becomes a problem with its full key path and line.
    package func decode<T: Decodable>(_ type: T.Type, at path: [PathStep]) -> Result<T, TopologyFileError> {
        guard let node = node(at: path) else { return .failure(problem("missing", at: path)) }
        do {
            return .success(try decodeNode(T.self, from: node))
        } catch let error as DecodingError {
            var e = TopologyFileError(decoding: error)
            let relative: [CodingKey]
            switch error {
            case .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
                relative = c.codingPath
            @unknown default:
                relative = []
            }
            let full = path + PathStep.steps(relative)
            e.place = PathStep.text(full)
            let m = mark(at: full)
            e.file = file
            e.line = m?.line
            e.column = m?.column
            return .failure(e)
        } catch {
            return .failure(problem("\(error)", at: path))
        }
    }

    /// The keys of the mapping at `path`, in file order (empty when it is not a mapping).
    package func keys(at path: [PathStep]) -> [String] {
        guard case .mapping(let m)? = node(at: path) else { return [] }
        return m.keys.compactMap(\.string)
    }

    /// The number of entries of the list at `path` (nil when there is none).
    package func count(at path: [PathStep]) -> Int? {
        guard case .sequence(let s)? = node(at: path) else { return nil }
        return s.count
    }

    /// Reports keys of the mapping at `path` that are not in `allowed`, each at its line.
    package func unknownKeys(at path: [PathStep], allowed: [String]) -> [TopologyFileError] {
        keys(at: path).filter { !allowed.contains($0) }.map { key in
            problem("unknown key \"\(key)\" (expected one of: \(allowed.joined(separator: ", ")))"
                    + (closestKey(key, in: allowed).map { "; did you mean \"\($0)\"?" } ?? ""), at: path + [.key(key)])
        }
    }

    /// Decodes a topology from the mapping at the top: `name`, then each entry of `nodes`, `links`
    /// and `tunnels` on its own, so every broken entry is reported, not only the first.
    /// - Parameter otherKeys: top-level keys that belong to someone else (a scenario's), not reported as unknown.
    package func topology(otherKeys: [String] = []) -> (Topology?, [TopologyFileError]) {
        guard case .mapping = root else {
            return (nil, [problem("expected a mapping with name, nodes, links, … at the top", at: [])])
        }
        let topologyKeys = ["name", "nodes", "links", "tunnels"]
        var problems = repeatProblems + unknownKeys(at: [], allowed: topologyKeys + otherKeys)
        var name = ""
        if node(at: [.key("name")]) == nil {
            problems.append(problem("missing key \"name\"", at: []))
        } else {
            switch decode(String.self, at: [.key("name")]) {
            case .success(let n): name = n
            case .failure(let e): problems.append(e)
            }
        }
        func entries<T: Decodable>(_ key: String, _: T.Type) -> [T] {
            guard let n = node(at: [.key(key)]) else { return [] }
            if case .scalar(let s) = n, s.string.isEmpty || n.null != nil { return [] }
            guard let count = count(at: [.key(key)]) else {
                problems.append(problem("expected a list", at: [.key(key)]))
                return []
            }
            var out: [T] = []
            for i in 0..<count {
                switch decode(T.self, at: [.key(key), .index(i)]) {
                case .success(let v): out.append(v)
                case .failure(let e): problems.append(e)
                }
            }
            return out
        }
        let nodes = entries("nodes", Node.self)
        let links = entries("links", Link.self)
        let tunnels = entries("tunnels", Tunnel.self)
        guard problems.isEmpty else { return (nil, problems) }
        return (Topology(name: name, nodes: nodes, links: links, tunnels: tunnels), [])
    }

    /// A validation error with each issue's file location filled in from its key path.
    /// Without a file name there is nothing to name, and the issues are left as they are.
    package func located(_ error: ValidationError) -> ValidationError {
        guard file != nil else { return error }
        var e = error
        for i in e.issues.indices where e.issues[i].location == nil {
            e.issues[i].location = location(at: PathStep.steps(parsing: e.issues[i].path))
        }
        return e
    }

    // MARK: repeat

    /// The keys of a `repeat` block.
    static let repeatKeys = ["repeat", "each", "as"]
    /// The most entries one `repeat` block may produce.
    static let repeatLimit = 10_000

    /// Expands `- {repeat: N | {from, to} | {count, from}, as: i, each: [entries…]}` list entries into
    /// copies of `each` with `{i}`, `{i+k}`, `{i-k}`, `{i*k}` replaced in every string, keeping the marks.
    static func expand(_ node: Yams.Node, variables: [String: Int], path: [PathStep], file: String?,
                       problems: inout [TopologyFileError]) -> Yams.Node {
        func fail(_ message: String, _ at: [PathStep], _ mark: Mark?) {
            problems.append(TopologyFileError(place: PathStep.text(at), message: message, file: file,
                                              line: mark?.line, column: mark?.column))
        }
        switch node {
        case .scalar(var s):
            if !variables.isEmpty {
                let text = substitute(s.string, variables)
                if text != s.string {
                    // "{i*500}" was quoted to keep YAML from reading a mapping; its value is what it says now.
                    s.string = text
                    s.tag = s.tag.copy(with: .implicit)
                    s.style = .any
                }
            }
            return .scalar(s)
        case .alias:
            return node
        case .mapping(var m):
            for i in m.indices {
                let key = m[i].key
                let keyText = key.string ?? ""
                var newKey = expand(key, variables: variables, path: path, file: file, problems: &problems)
                // Keys are looked up by their text: a quoted key ("on" in JSON) must match the plain
                // one the decoder asks for, whose tag is resolved from the text alone.
                if case .scalar(var k) = newKey {
                    k.tag = m.tag.copy(with: .implicit)
                    k.style = .any
                    newKey = .scalar(k)
                }
                let value = expand(m[i].value, variables: variables, path: path + [.key(keyText)], file: file,
                                   problems: &problems)
                m[i] = (key: newKey, value: value)
            }
            return .mapping(m)
        case .sequence(var s):
            var out: [Yams.Node] = []
            for (i, item) in s.enumerated() {
                let here = path + [.index(i)]
                guard case .mapping(let block) = item, block["repeat"] != nil else {
                    out.append(expand(item, variables: variables, path: here, file: file, problems: &problems))
                    continue
                }
                let keys = block.keys.compactMap(\.string)
                for k in keys where !repeatKeys.contains(k) {
                    fail("unknown key \"\(k)\" in a repeat block (expected repeat, each, as)", here + [.key(k)],
                         block[k]?.mark ?? block.mark)
                }
                let variable = block["as"]?.string ?? "i"
                if variable.isEmpty || !variable.allSatisfy({ $0.isLetter }) {
                    fail("the repeat variable must be a word of letters, not \"\(variable)\"", here + [.key("as")], block.mark)
                    continue
                }
                guard let range = repeatRange(block["repeat"]!, variables: variables) else {
                    fail("repeat takes a count (repeat: 4, for i = 1…4), {from: A, to: B} or {count: N, from: A}",
                         here + [.key("repeat")], block["repeat"]?.mark ?? block.mark)
                    continue
                }
                guard range.count <= repeatLimit else {
                    fail("repeat makes \(range.count) entries (at most \(repeatLimit))", here + [.key("repeat")], block.mark)
                    continue
                }
                let templates: [Yams.Node]
                switch block["each"] {
                case .sequence(let t)?: templates = Array(t)
                case .mapping(let t)?: templates = [.mapping(t)]
                default:
                    fail("a repeat block needs `each:` (an entry or a list of entries to repeat)", here, block.mark)
                    continue
                }
                for value in range {
                    var vars = variables
                    vars[variable] = value
                    for t in templates {
                        out.append(expand(t, variables: vars, path: path + [.index(out.count)], file: file,
                                          problems: &problems))
                    }
                }
            }
            s.replaceSubrange(s.startIndex..<s.endIndex, with: out)
            return .sequence(s)
        }
    }

    private static func repeatRange(_ node: Yams.Node, variables: [String: Int]) -> ClosedRange<Int>? {
        func int(_ n: Yams.Node?) -> Int? { n?.string.map { substitute($0, variables) }.flatMap { Int($0) } }
        switch node {
        case .scalar:
            guard let n = int(node), n >= 0 else { return nil }
            return n == 0 ? nil : 1...n
        case .mapping(let m):
            let keys = Set(m.keys.compactMap(\.string))
            guard keys.isSubset(of: ["from", "to", "count"]) else { return nil }
            let from = int(m["from"]) ?? 1
            if let count = int(m["count"]), m["to"] == nil, count > 0 { return from...(from + count - 1) }
            if let to = int(m["to"]), m["count"] == nil, to >= from { return from...to }
            return nil
        default:
            return nil
        }
    }

    /// Replaces `{i}`, `{i+3}`, `{i-1}`, `{i*2}` for each variable; other braces are left alone.
    static func substitute(_ text: String, _ variables: [String: Int]) -> String {
        guard text.contains("{") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { out += rest[open...]; rest = ""; break }
            let inner = after[..<close]
            let name = inner.prefix { $0.isLetter }
            var value: Int?
            if let v = variables[String(name)] {
                let expr = inner.dropFirst(name.count)
                if expr.isEmpty { value = v } else if let op = expr.first, let k = Int(expr.dropFirst()), "+-*".contains(op) {
                    value = op == "+" ? v + k : op == "-" ? v - k : v * k
                }
            }
            if let value {
                out += "\(value)"
            } else {
                out += rest[open...close]
            }
            rest = after[after.index(after: close)...]
        }
        return out + rest
    }
}

/// The allowed key closest to a misspelled one (at most two edits away), for "did you mean".
package func closestKey(_ key: String, in allowed: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var row = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var prev = row[0]
            row[0] = i + 1
            for (j, cb) in b.enumerated() {
                let old = row[j + 1]
                row[j + 1] = min(row[j + 1] + 1, row[j] + 1, prev + (ca == cb ? 0 : 1))
                prev = old
            }
        }
        return row[b.count]
    }
    let k = Array(key.lowercased())
    let best = allowed.map { ($0, distance(k, Array($0.lowercased()))) }.min { $0.1 < $1.1 }
    guard let best, best.1 <= 2, best.1 < key.count else { return nil }
    return best.0
}

@_exported import Netlink

/// A place in Swift source where a declaration was written.
public struct DeclarationLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The file, as `#fileID` gives it (`Module/File.swift`).
    public var fileID: String
    /// The line, from 1.
    public var line: Int
    /// The column, from 1.
    public var column: Int

    /// A location in `fileID` at `line` and `column`.
    public init(fileID: String, line: Int, column: Int) {
        self.fileID = fileID
        self.line = line
        self.column = column
    }

    /// The file name without its module, e.g. `Topo.swift`.
    public var fileName: String { String(fileID.split(separator: "/").last ?? Substring(fileID)) }

    /// `File.swift:12:5`.
    public var description: String { "\(fileName):\(line):\(column)" }
}

/// Where a declaration came from and which of its text failed to parse; ignored by `==` and hashing.
///
/// Two declarations that differ only in where they were written compare equal, so a topology
/// declared in Swift equals the same topology read back from YAML.
public struct Provenance: Sendable, Hashable {
    /// The Swift source location, for declarations made with the DSL.
    public var location: DeclarationLocation?
    /// Values given as text that did not parse; validation reports each one.
    public var malformed: [MalformedValue]
    /// Where parts of a node were declared, by key: `sysctls.KEY` for each `Sysctl`, `firewall`
    /// for its first `Firewall`.
    public var parts: [String: DeclarationLocation] = [:]
    /// Sysctl keys a node declares more than once, with the place of each repeat.
    public var repeatedSysctls: [(key: String, location: DeclarationLocation?)] = []

    /// A provenance with a source location and the values that did not parse.
    public init(location: DeclarationLocation? = nil, malformed: [MalformedValue] = []) {
        self.location = location
        self.malformed = malformed
    }

    init(_ fileID: String, _ line: Int, _ column: Int, _ parser: TextParser = TextParser()) {
        self.init(location: DeclarationLocation(fileID: fileID, line: line, column: column), malformed: parser.malformed)
    }

    /// Always true: where a declaration was written does not change what it declares.
    public static func == (_: Provenance, _: Provenance) -> Bool { true }
    /// Hashes nothing, as `==` compares nothing.
    public func hash(into hasher: inout Hasher) {}
}

/// A value written as text in the DSL that could not be parsed.
public struct MalformedValue: Sendable, Hashable {
    /// The field, relative to its declaration, e.g. `via` or `addresses[1]`.
    public var field: String
    /// The text as written.
    public var text: String
    /// What was expected instead, e.g. `an IPv4 or IPv6 address like 10.0.1.1`.
    public var expected: String
}

/// Parses DSL text into typed values, recording what fails instead of trapping.
struct TextParser {
    var malformed: [MalformedValue] = []

    mutating func prefix(_ text: String, field: String) -> IPPrefix? {
        if let p = IPPrefix(text) { return p }
        malformed.append(MalformedValue(
            field: field, text: text, expected: "an address with prefix length like 10.0.1.2/24 or 2001:db8::1/64"))
        return nil
    }

    /// An interface address: unlike a route or rule prefix, it must say its prefix length, since
    /// a bare address silently became a /32 and no subnet.
    mutating func interfacePrefix(_ text: String, field: String) -> IPPrefix? {
        if text.contains("/") || IPAddress(text) == nil { return prefix(text, field: field) }
        malformed.append(MalformedValue(field: field, text: text, expected: InterfacePrefix.expected(text)))
        return nil
    }

    mutating func interfacePrefixes(_ texts: [String], field: String) -> [IPPrefix] {
        texts.enumerated().compactMap { interfacePrefix($0.element, field: "\(field)[\($0.offset)]") }
    }

    mutating func prefix(_ text: String?, field: String) -> IPPrefix? {
        guard let text else { return nil }
        return prefix(text, field: field)
    }

    mutating func prefixes(_ texts: [String], field: String) -> [IPPrefix] {
        texts.enumerated().compactMap { prefix($0.element, field: "\(field)[\($0.offset)]") }
    }

    mutating func address(_ text: String?, field: String) -> IPAddress? {
        guard let text else { return nil }
        if let a = IPAddress(text) { return a }
        malformed.append(MalformedValue(field: field, text: text, expected: "an IPv4 or IPv6 address like 10.0.1.1"))
        return nil
    }

    mutating func mac(_ text: String?, field: String) -> MACAddress? {
        guard let text else { return nil }
        if let m = MACAddress(text) { return m }
        malformed.append(MalformedValue(field: field, text: text, expected: "a MAC address like 02:00:00:00:00:01"))
        return nil
    }
}

/// An interface address in a file: `10.0.1.2/24`, never a bare address (see ``TextParser/interfacePrefix(_:field:)``).
struct InterfacePrefix: Codable {
    var prefix: IPPrefix

    /// What to write instead of a bare `address`.
    static func expected(_ address: String) -> String {
        let host = IPAddress(address).map { "\($0)/\($0.bitWidth)" } ?? "\(address)/32"
        return "the address with its prefix length, like \(address)/24 (or \(host) if you mean a host address)"
    }

    init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        if !text.contains("/"), IPAddress(text) != nil {
            throw corrupted(decoder, "address \"\(text)\" has no prefix length; write \(Self.expected(text))")
        }
        guard let p = IPPrefix(text) else { throw corrupted(decoder, "not an address/prefix: \"\(text)\"") }
        prefix = p
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(prefix)
    }
}

@_exported import Netlink

/// A place in Swift source where a declaration was written.
public struct DeclarationLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The file, as `#fileID` gives it (`Module/File.swift`).
    public var fileID: String
    public var line: Int
    public var column: Int

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

    public init(location: DeclarationLocation? = nil, malformed: [MalformedValue] = []) {
        self.location = location
        self.malformed = malformed
    }

    init(_ fileID: String, _ line: Int, _ column: Int, _ parser: TextParser = TextParser()) {
        self.init(location: DeclarationLocation(fileID: fileID, line: line, column: column), malformed: parser.malformed)
    }

    public static func == (_: Provenance, _: Provenance) -> Bool { true }
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

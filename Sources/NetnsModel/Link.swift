/// One end of a link: a node and, optionally, the interface name there.
///
/// Written `"h1:eth0"`, or `"h1"` to let the model pick the next free `ethN` of that node.
public struct Endpoint: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByStringInterpolation,
    CustomStringConvertible, Codable
{
    public var node: String
    public var interface: String?

    public init(node: String, interface: String? = nil) {
        self.node = node
        self.interface = interface
    }

    /// Parses `node` or `node:interface` (everything after the first colon is the interface).
    public init(_ text: String) {
        if let colon = text.firstIndex(of: ":") {
            self.init(node: String(text[..<colon]), interface: String(text[text.index(after: colon)...]))
        } else {
            self.init(node: text)
        }
    }

    public init(stringLiteral value: String) { self.init(value) }

    /// `h1:eth0`, or `h1` when the interface is not named.
    public var description: String { interface.map { "\(node):\($0)" } ?? node }

    public init(from decoder: Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A veth pair between two nodes.
public struct Link: Sendable, Hashable {
    public var a: LinkEnd
    public var b: LinkEnd
    /// The MTU of both ends unless an end sets its own.
    public var mtu: Int?
    public var provenance = Provenance()

    /// The two ends, `a` first.
    public var ends: [LinkEnd] { [a, b] }
}

/// One end of a veth pair, with what is configured on that interface.
public struct LinkEnd: Sendable, Hashable {
    public var endpoint: Endpoint
    public var mac: MACAddress?
    public var mtu: Int?
    /// Addresses on this end (IPv6 ones without DAD).
    public var addresses: [IPPrefix] = []
    /// A bridge of the same node to enslave this end to.
    public var master: String?
    /// The interface alias (`IFLA_IFALIAS`); the resolved topology sets it to the peer endpoint.
    public var alias: String?

    public var node: String { endpoint.node }
}

/// One end of a link: a node and, optionally, the interface name there.
///
/// Written `"h1:eth0"`, or `"h1"` to let the model pick the next free `ethN` of that node.
public struct Endpoint: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByStringInterpolation,
    CustomStringConvertible, Codable
{
    /// The node's name.
    public var node: String
    /// The interface's name in that node; nil lets the model pick the next free `ethN`.
    public var interface: String?

    /// The end at `node`, on `interface` when given.
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

    /// Parses a string literal as ``init(_:)`` does.
    public init(stringLiteral value: String) { self.init(value) }

    /// `h1:eth0`, or `h1` when the interface is not named.
    public var description: String { interface.map { "\(node):\($0)" } ?? node }

    /// Reads the endpoint from its text form (`h1:eth0`).
    public init(from decoder: Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    /// Writes the endpoint as its text form (`h1:eth0`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A veth pair between two nodes.
public struct Link: Sendable, Hashable {
    /// The first end.
    public var a: LinkEnd
    /// The second end.
    public var b: LinkEnd
    /// The MTU of both ends unless an end sets its own.
    public var mtu: Int?
    /// Where the link was declared, and values that did not parse.
    public var provenance = Provenance()

    /// The two ends, `a` first.
    public var ends: [LinkEnd] { [a, b] }
}

/// One end of a veth pair, with what is configured on that interface.
public struct LinkEnd: Sendable, Hashable {
    /// The node and interface of this end.
    public var endpoint: Endpoint
    /// The interface's MAC address; the kernel picks one when nil.
    public var mac: MACAddress?
    /// This end's MTU, in bytes, over the link's.
    public var mtu: Int?
    /// Addresses on this end (IPv6 ones without DAD).
    public var addresses: [IPPrefix] = []
    /// A bridge of the same node to enslave this end to.
    public var master: String?
    /// The interface alias (`IFLA_IFALIAS`); the resolved topology sets it to the peer endpoint.
    public var alias: String?

    /// The node this end is in.
    public var node: String { endpoint.node }
}

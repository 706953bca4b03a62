/// A netlink attribute type with the kernel's name for it, used in error messages.
public struct AttrType: Sendable, Hashable, CustomStringConvertible {
    /// The type number sent in `nla_type`.
    public let raw: UInt16
    /// The kernel's name for it (`IFLA_IFNAME`), for messages.
    public let name: String
    /// The attribute type `raw`, called `name` in messages.
    public init(_ raw: UInt16, _ name: String) { self.raw = raw; self.name = name }
    /// The name.
    public var description: String { name }
}

/// The netlink attribute flag bits (`NLA_F_NESTED`, `NLA_F_NET_BYTEORDER`).
public enum NLA {
    /// `NLA_F_NESTED`: the payload is itself attributes.
    public static let nested: UInt16 = 0x8000
    /// `NLA_F_NET_BYTEORDER`: the payload is in network byte order.
    public static let netByteOrder: UInt16 = 0x4000
    /// `NLA_TYPE_MASK`: the type bits without the flags.
    public static let typeMask: UInt16 = 0x3FFF
    /// The size of `struct nlattr` (`NLA_HDRLEN`), in bytes.
    public static let headerLength = 4
    /// Rounds up to the 4-byte netlink alignment (`NLA_ALIGN`, `NLMSG_ALIGN`).
    @inlinable public static func align(_ n: Int) -> Int { (n + 3) & ~3 }
}

/// Writes a netlink message body: a fixed header followed by attributes.
///
/// It records where each attribute starts so that an `NLMSGERR_ATTR_OFFS`
/// from the kernel can be mapped back to the attribute we sent.
public struct AttributeWriter: Sendable {
    /// The body written so far.
    public private(set) var bytes: [UInt8] = []
    /// (offset of the attribute header within `bytes`, length, path of attribute names).
    public private(set) var spans: [AttributeSpan] = []
    private var path: [String] = []

    /// An empty body.
    public init() {}

    /// Appends raw bytes (a fixed header struct) without alignment padding.
    public mutating func appendHeader(_ raw: [UInt8]) { bytes += raw }

    /// Appends one attribute with a raw payload.
    public mutating func put(_ type: AttrType, bytes payload: [UInt8], flags: UInt16 = 0) {
        let start = bytes.count
        let len = NLA.headerLength + payload.count
        precondition(len <= Int(UInt16.max), "netlink attribute too large")
        bytes.appendLE(UInt16(len))
        bytes.appendLE(type.raw | flags)
        bytes += payload
        pad()
        spans.append(AttributeSpan(offset: start, length: len, path: path + [type.name]))
    }

    /// Appends a 1-byte attribute.
    public mutating func put(_ type: AttrType, _ v: UInt8) { put(type, bytes: [v]) }
    /// Appends a 2-byte attribute, in host (little-endian) order.
    public mutating func put(_ type: AttrType, _ v: UInt16) { var b: [UInt8] = []; b.appendLE(v); put(type, bytes: b) }
    /// Appends a 4-byte attribute, in host (little-endian) order.
    public mutating func put(_ type: AttrType, _ v: UInt32) { var b: [UInt8] = []; b.appendLE(v); put(type, bytes: b) }
    /// Appends a signed 4-byte attribute, in host (little-endian) order.
    public mutating func put(_ type: AttrType, _ v: Int32) { put(type, UInt32(bitPattern: v)) }
    /// Appends an 8-byte attribute, in host (little-endian) order.
    public mutating func put(_ type: AttrType, _ v: UInt64) { var b: [UInt8] = []; b.appendLE(v); put(type, bytes: b) }
    /// A big-endian 16-bit value (ports in vxlan, for example).
    public mutating func putBE(_ type: AttrType, _ v: UInt16) { put(type, bytes: [UInt8(v >> 8), UInt8(v & 0xff)]) }
    /// A NUL-terminated string.
    public mutating func put(_ type: AttrType, _ s: String) { put(type, bytes: Array(s.utf8) + [0]) }
    /// Appends an address attribute: its 4 or 16 bytes in network order.
    public mutating func put(_ type: AttrType, _ a: IPAddress) { put(type, bytes: a.bytes) }
    /// Appends a MAC address attribute: its 6 bytes.
    public mutating func put(_ type: AttrType, _ m: MACAddress) { put(type, bytes: m.bytes) }
    /// A flag attribute (no payload).
    public mutating func putFlag(_ type: AttrType) { put(type, bytes: []) }

    /// Appends a nested attribute whose payload is written by `body`.
    /// - Parameter nestedFlag: set `NLA_F_NESTED` (the kernel requires it for some
    ///   families; `RTA_MULTIPATH` and `IFLA_LINKINFO` are sent without it, as iproute2 does).
    public mutating func nest(_ type: AttrType, nestedFlag: Bool = false, _ body: (inout AttributeWriter) -> Void) {
        let start = bytes.count
        bytes += [0, 0, 0, 0]
        path.append(type.name)
        body(&self)
        path.removeLast()
        let len = bytes.count - start
        precondition(len <= Int(UInt16.max), "netlink attribute too large")
        bytes.setLE(UInt16(len), at: start)
        bytes.setLE(type.raw | (nestedFlag ? NLA.nested : 0), at: start + 2)
        spans.append(AttributeSpan(offset: start, length: len, path: path + [type.name]))
    }

    /// Appends raw bytes inside the current nest (e.g. a `struct ifinfomsg` inside `VETH_INFO_PEER`).
    public mutating func appendRaw(_ raw: [UInt8]) { bytes += raw; pad() }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }
}

/// Where an attribute sits in a request body.
public struct AttributeSpan: Sendable, Hashable {
    /// The offset of the attribute's header in the body, in bytes.
    public var offset: Int
    /// The attribute's length, header included, in bytes.
    public var length: Int
    /// The names of the attribute and the ones it is nested in, outermost first.
    public var path: [String]
    /// The path joined with dots (`IFLA_LINKINFO.IFLA_INFO_KIND`).
    public var name: String { path.joined(separator: ".") }
}

/// One attribute read from a message: its type (flags stripped) and its payload.
public struct Attribute: Sendable, Hashable {
    /// The type number, without the `NLA_F_*` flags.
    public var type: UInt16
    /// Whether `NLA_F_NESTED` was set.
    public var isNested: Bool
    /// The payload: the bytes after the attribute's header, as many as its length says.
    public var payload: ArraySlice<UInt8>

    /// The payload as one byte; throws ``NetlinkDecodingError`` when it is shorter.
    public func uint8() throws -> UInt8 { try need(1); return payload[payload.startIndex] }
    /// The payload as a little-endian `UInt16`; throws ``NetlinkDecodingError`` when it is shorter.
    public func uint16() throws -> UInt16 { try need(2); return payload.readLE(at: payload.startIndex) }
    /// The payload as a little-endian `UInt32`; throws ``NetlinkDecodingError`` when it is shorter.
    public func uint32() throws -> UInt32 { try need(4); return payload.readLE(at: payload.startIndex) }
    /// The payload as a little-endian `Int32`; throws ``NetlinkDecodingError`` when it is shorter.
    public func int32() throws -> Int32 { Int32(bitPattern: try uint32()) }
    /// The payload as a little-endian `UInt64`; throws ``NetlinkDecodingError`` when it is shorter.
    public func uint64() throws -> UInt64 { try need(8); return payload.readLE(at: payload.startIndex) }
    /// The payload as a big-endian `UInt16` (ports); throws ``NetlinkDecodingError`` when it is shorter.
    public func uint16BE() throws -> UInt16 {
        try need(2)
        return UInt16(payload[payload.startIndex]) << 8 | UInt16(payload[payload.startIndex + 1])
    }
    /// A string, up to the first NUL.
    public func string() -> String {
        let end = payload.firstIndex(of: 0) ?? payload.endIndex
        return String(decoding: payload[payload.startIndex..<end], as: UTF8.self)
    }
    /// The payload as an IPv4 or IPv6 address; throws ``NetlinkDecodingError`` unless it has 4 or 16 bytes.
    public func ipAddress() throws -> IPAddress {
        guard let a = IPAddress(bytes: Array(payload)) else {
            throw NetlinkDecodingError.badAttribute(type: type, reason: "expected 4 or 16 address bytes, got \(payload.count)")
        }
        return a
    }
    /// The payload as a MAC address; throws ``NetlinkDecodingError`` unless it has 6 bytes.
    public func macAddress() throws -> MACAddress {
        guard payload.count == 6 else {
            throw NetlinkDecodingError.badAttribute(type: type, reason: "expected 6 MAC bytes, got \(payload.count)")
        }
        return MACAddress(bytes: Array(payload))!
    }
    /// The attributes nested in this one.
    public func nested() throws -> [Attribute] { try Attribute.parse(payload) }

    private func need(_ n: Int) throws {
        if payload.count < n {
            throw NetlinkDecodingError.badAttribute(type: type, reason: "payload of \(payload.count) bytes, need \(n)")
        }
    }

    /// Parses a run of attributes. Throws on a truncated or malformed run; never traps.
    public static func parse(_ bytes: ArraySlice<UInt8>) throws -> [Attribute] {
        var out: [Attribute] = []
        var i = bytes.startIndex
        while bytes.endIndex - i >= NLA.headerLength {
            let len = Int(bytes.readLE(at: i) as UInt16)
            let rawType: UInt16 = bytes.readLE(at: i + 2)
            guard len >= NLA.headerLength else {
                throw NetlinkDecodingError.malformed("attribute length \(len) at offset \(i - bytes.startIndex) is shorter than its header")
            }
            guard len <= bytes.endIndex - i else {
                throw NetlinkDecodingError.malformed("attribute length \(len) at offset \(i - bytes.startIndex) runs past the end (\(bytes.endIndex - i) bytes left)")
            }
            out.append(Attribute(type: rawType & NLA.typeMask, isNested: rawType & NLA.nested != 0,
                                 payload: bytes[(i + NLA.headerLength)..<(i + len)]))
            i += min(NLA.align(len), bytes.endIndex - i)
        }
        if i != bytes.endIndex && bytes.endIndex - i > 0 {
            // Trailing bytes shorter than an attribute header: tolerated only if they are padding.
            if bytes[i..<bytes.endIndex].contains(where: { $0 != 0 }) {
                throw NetlinkDecodingError.malformed("\(bytes.endIndex - i) stray bytes after the last attribute")
            }
        }
        return out
    }
}

extension Array where Element == Attribute {
    /// The first attribute of this type.
    public func first(_ t: AttrType) -> Attribute? { first { $0.type == t.raw } }
    /// Every attribute of this type, in order.
    public func all(_ t: AttrType) -> [Attribute] { filter { $0.type == t.raw } }
}

/// A problem decoding bytes that came from the kernel (or from a fuzzer).
public enum NetlinkDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes do not form what was expected; the text says how.
    case malformed(String)
    /// `what` needed `need` bytes and only `have` were left.
    case truncated(what: String, need: Int, have: Int)
    /// An attribute of `type` has a payload of the wrong size or form.
    case badAttribute(type: UInt16, reason: String)

    /// What could not be decoded, and why.
    public var description: String {
        switch self {
        case .malformed(let s): return "malformed netlink data: \(s)"
        case let .truncated(what, need, have): return "truncated netlink data: \(what) needs \(need) bytes, have \(have)"
        case let .badAttribute(type, reason): return "bad netlink attribute type \(type): \(reason)"
        }
    }
}

// MARK: - Little-endian helpers (netlink uses host byte order; Linux targets here are little-endian).

extension Array where Element == UInt8 {
    @inlinable mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        var x = v.littleEndian
        Swift.withUnsafeBytes(of: &x) { self.append(contentsOf: $0) }
    }
    @inlinable mutating func setLE<T: FixedWidthInteger>(_ v: T, at offset: Int) {
        var x = v.littleEndian
        Swift.withUnsafeBytes(of: &x) { raw in
            for (k, b) in raw.enumerated() { self[offset + k] = b }
        }
    }
}

extension ArraySlice where Element == UInt8 {
    /// Reads a little-endian integer at an absolute index; the caller checks bounds.
    @inlinable func readLE<T: FixedWidthInteger>(at index: Int) -> T {
        var v: T = 0
        for k in 0..<MemoryLayout<T>.size { v |= T(self[index + k]) << (8 * k) }
        return v
    }
}

extension Array where Element == UInt8 {
    @inlinable func readLE<T: FixedWidthInteger>(at index: Int) -> T { self[...].readLE(at: index) }
}

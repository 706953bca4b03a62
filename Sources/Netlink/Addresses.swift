#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address.
public enum IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    case v4(UInt32)               // host-order value of the 4 bytes (a.b.c.d -> a<<24|...)
    case v6(UInt64, UInt64)       // high and low halves, big-endian order

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text.
    public init?(_ text: String) {
        if text.contains(":") {
            var a = in6_addr()
            guard inet_pton(AF_INET6, text, &a) == 1 else { return nil }
            self.init(bytes: withUnsafeBytes(of: &a) { Array($0) })
        } else {
            // Strict dotted quad (inet_pton rejects leading zeros and short forms, as we want).
            var a = in_addr()
            guard inet_pton(AF_INET, text, &a) == 1 else { return nil }
            self.init(bytes: withUnsafeBytes(of: &a) { Array($0) })
        }
    }

    /// Builds an address from 4 or 16 network-order bytes.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self = .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) })
        case 16:
            let hi = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let lo = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            self = .v6(hi, lo)
        default:
            return nil
        }
    }

    /// Network-order bytes.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let v): return (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) }
        case .v6(let hi, let lo):
            return (0..<8).map { UInt8(truncatingIfNeeded: hi >> (56 - 8 * $0)) }
                + (0..<8).map { UInt8(truncatingIfNeeded: lo >> (56 - 8 * $0)) }
        }
    }

    public var isIPv4: Bool { if case .v4 = self { return true } else { return false } }
    public var isIPv6: Bool { !isIPv4 }
    /// The address family (`AF_INET` or `AF_INET6`).
    public var family: UInt8 { isIPv4 ? AF.inet : AF.inet6 }
    /// Bits in an address of this family.
    public var bitWidth: Int { isIPv4 ? 32 : 128 }

    public var description: String {
        var b = bytes
        var buf = [CChar](repeating: 0, count: 64)
        let fam = isIPv4 ? AF_INET : AF_INET6
        _ = inet_ntop(fam, &b, &buf, socklen_t(buf.count))
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        switch (a, b) {
        case let (.v4(x), .v4(y)): return x < y
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        case let (.v6(h1, l1), .v6(h2, l2)): return (h1, l1) < (h2, l2)
        }
    }

    /// Keeps the first `bits` bits and zeroes the rest.
    public func masked(_ bits: Int) -> IPAddress {
        switch self {
        case .v4(let v):
            let m: UInt32 = bits <= 0 ? 0 : (bits >= 32 ? ~0 : ~0 << (32 - bits))
            return .v4(v & m)
        case .v6(let hi, let lo):
            let mh: UInt64 = bits <= 0 ? 0 : (bits >= 64 ? ~0 : ~0 << (64 - bits))
            let ml: UInt64 = bits <= 64 ? 0 : (bits >= 128 ? ~0 : ~0 << (128 - bits))
            return .v6(hi & mh, lo & ml)
        }
    }

    /// The address plus `n` (wrapping within the family).
    public func adding(_ n: UInt64) -> IPAddress {
        switch self {
        case .v4(let v): return .v4(v &+ UInt32(truncatingIfNeeded: n))
        case .v6(let hi, let lo):
            let (l, o) = lo.addingReportingOverflow(n)
            return .v6(hi &+ (o ? 1 : 0), l)
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let a = IPAddress(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an IP address: \(s)")
        }
        self = a
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// An address with a prefix length, as in `10.0.1.2/24` (the host bits are kept).
public struct IPPrefix: Sendable, Hashable, CustomStringConvertible, Codable, Comparable {
    public var address: IPAddress
    public var length: Int

    public init(_ address: IPAddress, _ length: Int) { self.address = address; self.length = length }

    /// Parses `addr/len`; without `/len` the prefix is a host prefix (/32 or /128).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let a = IPAddress(String(parts[0])) else { return nil }
        var len = a.bitWidth
        if parts.count == 2 {
            guard let l = Int(parts[1]), l >= 0, l <= a.bitWidth, !parts[1].hasPrefix("+") else { return nil }
            len = l
        }
        self.init(a, len)
    }

    /// The network (host bits zeroed).
    public var network: IPPrefix { IPPrefix(address.masked(length), length) }
    /// True when the host bits are zero.
    public var isNetwork: Bool { address.masked(length) == address }
    public var family: UInt8 { address.family }

    /// True when `a` is inside this prefix.
    public func contains(_ a: IPAddress) -> Bool {
        a.isIPv4 == address.isIPv4 && a.masked(length) == address.masked(length)
    }
    /// True when the two prefixes share any address.
    public func overlaps(_ other: IPPrefix) -> Bool {
        guard other.address.isIPv4 == address.isIPv4 else { return false }
        let l = min(length, other.length)
        return address.masked(l) == other.address.masked(l)
    }

    public var description: String { "\(address)/\(length)" }

    public static func < (a: IPPrefix, b: IPPrefix) -> Bool { (a.address, a.length) < (b.address, b.length) }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let p = IPPrefix(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an address/prefix: \(s)")
        }
        self = p
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A 48-bit Ethernet address.
public struct MACAddress: Sendable, Hashable, CustomStringConvertible, Codable {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (or `aa-bb-cc-dd-ee-ff`): six pairs of hex digits, one separator kind.
    public init?(_ text: String) {
        let separator: Character = text.contains(":") ? ":" : "-"
        let parts = text.split(separator: separator, omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var b: [UInt8] = []
        for p in parts {
            // UInt8(_:radix:) would accept a sign ("+f"), so check the digits first.
            guard p.count == 2, p.allSatisfy(\.isHexDigit), let v = UInt8(p, radix: 16) else { return nil }
            b.append(v)
        }
        self.bytes = b
    }

    public var description: String {
        bytes.map { let s = String($0, radix: 16); return s.count == 1 ? "0" + s : s }.joined(separator: ":")
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let m = MACAddress(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a MAC address: \(s)")
        }
        self = m
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

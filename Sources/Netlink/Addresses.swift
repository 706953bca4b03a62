/// An IPv4 or IPv6 address.
public enum IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// An IPv4 address; the value is the four bytes read big-endian (`a.b.c.d` is `a<<24 | …`).
    case v4(UInt32)               // host-order value of the 4 bytes (a.b.c.d -> a<<24|...)
    /// An IPv6 address as its high and low 64 bits, each read big-endian.
    case v6(UInt64, UInt64)       // high and low halves, big-endian order

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text, accepting exactly what `inet_pton` accepts
    /// (no leading zeros or short forms in IPv4, no zone index in IPv6).
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        if utf8.contains(UInt8(ascii: ":")) {
            guard let b = AddressText.parseIPv6(utf8) else { return nil }
            self.init(bytes: b)
        } else {
            guard let b = AddressText.parseIPv4(utf8[...]) else { return nil }
            self.init(bytes: b)
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

    /// True for an IPv4 address.
    public var isIPv4: Bool { if case .v4 = self { return true } else { return false } }
    /// True for an IPv6 address.
    public var isIPv6: Bool { !isIPv4 }
    /// The address family (`AF_INET` or `AF_INET6`).
    public var family: UInt8 { isIPv4 ? AF.inet : AF.inet6 }
    /// Bits in an address of this family.
    public var bitWidth: Int { isIPv4 ? 32 : 128 }

    /// The address as `inet_ntop` writes it (`10.0.1.2`, `fd00::1`, `::ffff:10.0.0.1`).
    public var description: String {
        switch self {
        case .v4: return AddressText.formatIPv4(bytes[...])
        case .v6: return AddressText.formatIPv6(bytes)
        }
    }

    /// IPv4 before IPv6; within a family, numeric order.
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

    /// Reads an address from its text form; other text is a `DecodingError`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let a = IPAddress(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an IP address: \(s)")
        }
        self = a
    }
    /// Writes the address as text.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// An address with a prefix length, as in `10.0.1.2/24` (the host bits are kept).
public struct IPPrefix: Sendable, Hashable, CustomStringConvertible, Codable, Comparable {
    /// The address, host bits included.
    public var address: IPAddress
    /// The prefix length in bits (0…32 for IPv4, 0…128 for IPv6).
    public var length: Int

    /// The prefix `address/length`, keeping the host bits.
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
    /// The address family (`AF_INET` or `AF_INET6`).
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

    /// `address/length`.
    public var description: String { "\(address)/\(length)" }

    /// By address, then by length.
    public static func < (a: IPPrefix, b: IPPrefix) -> Bool { (a.address, a.length) < (b.address, b.length) }

    /// Reads a prefix from `addr/len` text; other text is a `DecodingError`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let p = IPPrefix(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an address/prefix: \(s)")
        }
        self = p
    }
    /// Writes the prefix as `addr/len`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A 48-bit Ethernet address.
public struct MACAddress: Sendable, Hashable, CustomStringConvertible, Codable {
    /// The six bytes, in wire order.
    public let bytes: [UInt8]

    /// The address of these six bytes; nil for any other count.
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

    /// Lowercase hex pairs separated by colons (`02:00:00:00:00:01`).
    public var description: String {
        bytes.map { let s = String($0, radix: 16); return s.count == 1 ? "0" + s : s }.joined(separator: ":")
    }

    /// Reads an address from its text form; other text is a `DecodingError`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let m = MACAddress(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a MAC address: \(s)")
        }
        self = m
    }
    /// Writes the address as colon-separated hex.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// The text forms of addresses, as glibc's `inet_pton` and `inet_ntop` read and write them,
/// in Swift: the codec makes no system or libc calls.
enum AddressText {
    /// Four decimal octets `a.b.c.d`, each 0…255 without a leading zero (`inet_pton4`).
    static func parseIPv4(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var value = 0
        var digits = 0
        for c in text {
            if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                if digits > 0 && value == 0 { return nil }  // a leading zero
                value = value * 10 + Int(c - UInt8(ascii: "0"))
                if value > 255 { return nil }
                digits += 1
            } else if c == UInt8(ascii: ".") {
                guard digits > 0, out.count < 3 else { return nil }
                out.append(UInt8(value))
                value = 0
                digits = 0
            } else {
                return nil
            }
        }
        guard digits > 0, out.count == 3 else { return nil }
        out.append(UInt8(value))
        return out
    }

    /// Up to eight groups of one to four hex digits, one `::` standing for at least one zero
    /// group, and optionally a dotted quad in the last 32 bits (`inet_pton6`).
    static func parseIPv6(_ text: [UInt8]) -> [UInt8]? {
        var words: [UInt16] = []
        var gap: Int? = nil          // index in `words` where `::` stands
        var i = 0
        let n = text.count
        if n >= 1 && text[0] == UInt8(ascii: ":") {
            guard n >= 2 && text[1] == UInt8(ascii: ":") else { return nil }
            gap = 0
            i = 2
            if i == n { return expand(words, gap: gap) }
        }
        while i < n {
            // One group: hex digits up to the next colon, or a dotted quad to the end.
            var j = i
            var value = 0
            while j < n, let h = hexValue(text[j]) {
                guard j - i < 4 else { return nil }
                value = value << 4 | h
                j += 1
            }
            if j < n && text[j] == UInt8(ascii: ".") {
                guard words.count <= 6, let q = parseIPv4(text[i...]) else { return nil }
                words.append(UInt16(q[0]) << 8 | UInt16(q[1]))
                words.append(UInt16(q[2]) << 8 | UInt16(q[3]))
                return expand(words, gap: gap)
            }
            guard j > i, words.count < 8 else { return nil }
            words.append(UInt16(value))
            if j == n { break }
            guard text[j] == UInt8(ascii: ":") else { return nil }
            j += 1
            if j < n && text[j] == UInt8(ascii: ":") {
                guard gap == nil else { return nil }
                gap = words.count
                j += 1
                if j == n { break }
            } else if j == n {
                return nil  // a trailing single colon
            }
            i = j
        }
        return expand(words, gap: gap)
    }

    /// The 16 bytes of `words`, with zero groups inserted at `gap`; nil when the count is wrong.
    private static func expand(_ words: [UInt16], gap: Int?) -> [UInt8]? {
        var all = words
        if let g = gap {
            guard words.count < 8 else { return nil }
            all.insert(contentsOf: [UInt16](repeating: 0, count: 8 - words.count), at: g)
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8(truncatingIfNeeded: $0 >> 8), UInt8(truncatingIfNeeded: $0)] }
    }

    private static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(c - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(c - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }

    static func formatIPv4(_ b: ArraySlice<UInt8>) -> String {
        b.map { String($0) }.joined(separator: ".")
    }

    /// RFC 5952 form as glibc writes it: lowercase, the first longest run of two or more zero
    /// groups as `::`, and the last 32 bits as a dotted quad for IPv4-compatible (`::a.b.c.d`,
    /// six zero groups) and IPv4-mapped (`::ffff:a.b.c.d`) addresses.
    static func formatIPv6(_ b: [UInt8]) -> String {
        let w = (0..<8).map { UInt16(b[2 * $0]) << 8 | UInt16(b[2 * $0 + 1]) }
        var best = (base: -1, len: 0)
        var cur = (base: -1, len: 0)
        for k in 0..<8 {
            if w[k] == 0 {
                if cur.base == -1 { cur = (k, 1) } else { cur.len += 1 }
            } else if cur.base != -1 {
                if best.base == -1 || cur.len > best.len { best = cur }
                cur = (-1, 0)
            }
        }
        if cur.base != -1 && (best.base == -1 || cur.len > best.len) { best = cur }
        if best.base != -1 && best.len < 2 { best = (-1, 0) }
        var s = ""
        var k = 0
        while k < 8 {
            if best.base != -1 && k >= best.base && k < best.base + best.len {
                if k == best.base { s += ":" }
                k += 1
                continue
            }
            if k != 0 { s += ":" }
            if k == 6 && best.base == 0
                && (best.len == 6 || (best.len == 5 && w[5] == 0xffff)) {
                s += formatIPv4(b[12..<16])
                break
            }
            s += String(w[k], radix: 16)
            k += 1
        }
        if best.base != -1 && best.base + best.len == 8 { s += ":" }
        return s
    }
}

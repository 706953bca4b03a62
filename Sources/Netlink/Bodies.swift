/// `struct ifinfomsg` (16 bytes): the fixed header of link messages.
public struct IfInfoMsg: Sendable, Hashable {
    /// The `ifi_family` field.
    public var family: UInt8 = 0
    /// The `ifi_type` field.
    public var type: UInt16 = 0
    /// The `ifi_index` field.
    public var index: Int32 = 0
    /// The `ifi_flags` field.
    public var flags: InterfaceFlags = []
    /// The `ifi_change` field.
    public var change: UInt32 = 0
    /// The struct's size, in bytes.
    public static let size = 16

    /// A header with these fields.
    public init(family: UInt8 = 0, type: UInt16 = 0, index: Int32 = 0, flags: InterfaceFlags = [], change: UInt32 = 0) {
        self.family = family; self.type = type; self.index = index; self.flags = flags; self.change = change
    }

    /// The struct's bytes, little-endian, padding zeroed.
    public var bytes: [UInt8] {
        var b: [UInt8] = [family, 0]
        b.appendLE(type); b.appendLE(index); b.appendLE(flags.rawValue); b.appendLE(change)
        return b
    }

    /// Reads the struct from the start of `s`; throws ``NetlinkDecodingError`` when `s` is shorter.
    public init(_ s: ArraySlice<UInt8>) throws {
        guard s.count >= Self.size else { throw NetlinkDecodingError.truncated(what: "ifinfomsg", need: Self.size, have: s.count) }
        let i = s.startIndex
        family = s[i]; type = s.readLE(at: i + 2); index = s.readLE(at: i + 4)
        flags = InterfaceFlags(rawValue: s.readLE(at: i + 8)); change = s.readLE(at: i + 12)
    }
}

/// `struct ifaddrmsg` (8 bytes).
public struct IfAddrMsg: Sendable, Hashable {
    /// The `ifa_family` field.
    public var family: UInt8 = 0
    /// The `ifa_prefixlen` field.
    public var prefixLength: UInt8 = 0
    /// The `ifa_flags` field.
    public var flags: UInt8 = 0
    /// The `ifa_scope` field.
    public var scope: UInt8 = 0
    /// The `ifa_index` field.
    public var index: UInt32 = 0
    /// The struct's size, in bytes.
    public static let size = 8

    /// A header with these fields.
    public init(family: UInt8 = 0, prefixLength: UInt8 = 0, flags: UInt8 = 0, scope: UInt8 = 0, index: UInt32 = 0) {
        self.family = family; self.prefixLength = prefixLength; self.flags = flags; self.scope = scope; self.index = index
    }

    /// The struct's bytes, little-endian, padding zeroed.
    public var bytes: [UInt8] { var b = [family, prefixLength, flags, scope]; b.appendLE(index); return b }

    /// Reads the struct from the start of `s`; throws ``NetlinkDecodingError`` when `s` is shorter.
    public init(_ s: ArraySlice<UInt8>) throws {
        guard s.count >= Self.size else { throw NetlinkDecodingError.truncated(what: "ifaddrmsg", need: Self.size, have: s.count) }
        let i = s.startIndex
        family = s[i]; prefixLength = s[i + 1]; flags = s[i + 2]; scope = s[i + 3]; index = s.readLE(at: i + 4)
    }
}

/// `struct rtmsg` (12 bytes).
public struct RtMsg: Sendable, Hashable {
    /// The `rtm_family` field.
    public var family: UInt8 = 0
    /// The `rtm_dst_len` field.
    public var dstLength: UInt8 = 0
    /// The `rtm_src_len` field.
    public var srcLength: UInt8 = 0
    /// The `rtm_tos` field.
    public var tos: UInt8 = 0
    /// The `rtm_table` field.
    public var table: UInt8 = 0
    /// The `rtm_protocol` field.
    public var proto: UInt8 = 0
    /// The `rtm_scope` field.
    public var scope: UInt8 = 0
    /// The `rtm_type` field.
    public var type: UInt8 = 0
    /// The `rtm_flags` field.
    public var flags: UInt32 = 0
    /// The struct's size, in bytes.
    public static let size = 12

    /// A header with these fields.
    public init(family: UInt8 = 0, dstLength: UInt8 = 0, srcLength: UInt8 = 0, tos: UInt8 = 0, table: UInt8 = 0,
                proto: UInt8 = 0, scope: UInt8 = 0, type: UInt8 = 0, flags: UInt32 = 0) {
        self.family = family; self.dstLength = dstLength; self.srcLength = srcLength; self.tos = tos
        self.table = table; self.proto = proto; self.scope = scope; self.type = type; self.flags = flags
    }

    /// The struct's bytes, little-endian, padding zeroed.
    public var bytes: [UInt8] {
        var b = [family, dstLength, srcLength, tos, table, proto, scope, type]
        b.appendLE(flags)
        return b
    }

    /// Reads the struct from the start of `s`; throws ``NetlinkDecodingError`` when `s` is shorter.
    public init(_ s: ArraySlice<UInt8>) throws {
        guard s.count >= Self.size else { throw NetlinkDecodingError.truncated(what: "rtmsg", need: Self.size, have: s.count) }
        let i = s.startIndex
        family = s[i]; dstLength = s[i + 1]; srcLength = s[i + 2]; tos = s[i + 3]
        table = s[i + 4]; proto = s[i + 5]; scope = s[i + 6]; type = s[i + 7]; flags = s.readLE(at: i + 8)
    }
}

/// `struct fib_rule_hdr` (12 bytes); same layout as rtmsg with `action` in place of `type`.
public struct FibRuleHdr: Sendable, Hashable {
    /// The `family` field.
    public var family: UInt8 = 0
    /// The `dst_len` field.
    public var dstLength: UInt8 = 0
    /// The `src_len` field.
    public var srcLength: UInt8 = 0
    /// The `tos` field.
    public var tos: UInt8 = 0
    /// The `table` field.
    public var table: UInt8 = 0
    /// The `action` field.
    public var action: UInt8 = 0
    /// The `flags` field.
    public var flags: UInt32 = 0
    /// The struct's size, in bytes.
    public static let size = 12

    /// A header with these fields.
    public init(family: UInt8 = 0, dstLength: UInt8 = 0, srcLength: UInt8 = 0, tos: UInt8 = 0, table: UInt8 = 0,
                action: UInt8 = 0, flags: UInt32 = 0) {
        self.family = family; self.dstLength = dstLength; self.srcLength = srcLength; self.tos = tos
        self.table = table; self.action = action; self.flags = flags
    }

    /// The struct's bytes, little-endian, padding zeroed.
    public var bytes: [UInt8] {
        var b = [family, dstLength, srcLength, tos, table, 0, 0, action]
        b.appendLE(flags)
        return b
    }

    /// Reads the struct from the start of `s`; throws ``NetlinkDecodingError`` when `s` is shorter.
    public init(_ s: ArraySlice<UInt8>) throws {
        guard s.count >= Self.size else { throw NetlinkDecodingError.truncated(what: "fib_rule_hdr", need: Self.size, have: s.count) }
        let i = s.startIndex
        family = s[i]; dstLength = s[i + 1]; srcLength = s[i + 2]; tos = s[i + 3]
        table = s[i + 4]; action = s[i + 7]; flags = s.readLE(at: i + 8)
    }
}

/// `struct ndmsg` (12 bytes).
public struct NdMsg: Sendable, Hashable {
    /// The `ndm_family` field.
    public var family: UInt8 = 0
    /// The `ndm_ifindex` field.
    public var index: Int32 = 0
    /// The `ndm_state` field.
    public var state: UInt16 = 0
    /// The `ndm_flags` field.
    public var flags: UInt8 = 0
    /// The `ndm_type` field.
    public var type: UInt8 = 0
    /// The struct's size, in bytes.
    public static let size = 12

    /// A header with these fields.
    public init(family: UInt8 = 0, index: Int32 = 0, state: UInt16 = 0, flags: UInt8 = 0, type: UInt8 = 0) {
        self.family = family; self.index = index; self.state = state; self.flags = flags; self.type = type
    }

    /// The struct's bytes, little-endian, padding zeroed.
    public var bytes: [UInt8] {
        var b: [UInt8] = [family, 0, 0, 0]
        b.appendLE(index); b.appendLE(state); b.append(flags); b.append(type)
        return b
    }

    /// Reads the struct from the start of `s`; throws ``NetlinkDecodingError`` when `s` is shorter.
    public init(_ s: ArraySlice<UInt8>) throws {
        guard s.count >= Self.size else { throw NetlinkDecodingError.truncated(what: "ndmsg", need: Self.size, have: s.count) }
        let i = s.startIndex
        family = s[i]; index = s.readLE(at: i + 4); state = s.readLE(at: i + 8); flags = s[i + 10]; type = s[i + 11]
    }
}

/// `struct tcmsg` (20 bytes).
public struct TcMsg: Sendable, Hashable {
    /// The `tcm_family` field.
    public var family: UInt8 = 0
    /// The `tcm_ifindex` field.
    public var index: Int32 = 0
    /// The `tcm_handle` field.
    public var handle: UInt32 = 0
    /// The `tcm_parent` field.
    public var parent: UInt32 = 0
    /// The `tcm_info` field.
    public var info: UInt32 = 0
    /// The struct's size, in bytes.
    public static let size = 20
    /// The parent of a root qdisc (`TC_H_ROOT`).
    public static let rootParent: UInt32 = 0xFFFF_FFFF

    /// A header with these fields.
    public init(family: UInt8 = 0, index: Int32 = 0, handle: UInt32 = 0, parent: UInt32 = 0, info: UInt32 = 0) {
        self.family = family; self.index = index; self.handle = handle; self.parent = parent; self.info = info
    }

    /// The struct's bytes, little-endian, padding zeroed.
    public var bytes: [UInt8] {
        var b: [UInt8] = [family, 0, 0, 0]
        b.appendLE(index); b.appendLE(handle); b.appendLE(parent); b.appendLE(info)
        return b
    }

    /// Reads the struct from the start of `s`; throws ``NetlinkDecodingError`` when `s` is shorter.
    public init(_ s: ArraySlice<UInt8>) throws {
        guard s.count >= Self.size else { throw NetlinkDecodingError.truncated(what: "tcmsg", need: Self.size, have: s.count) }
        let i = s.startIndex
        family = s[i]; index = s.readLE(at: i + 4); handle = s.readLE(at: i + 8); parent = s.readLE(at: i + 12); info = s.readLE(at: i + 16)
    }
}

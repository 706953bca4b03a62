/// `struct ifinfomsg` (16 bytes): the fixed header of link messages.
public struct IfInfoMsg: Sendable, Hashable {
    public var family: UInt8 = 0
    public var type: UInt16 = 0
    public var index: Int32 = 0
    public var flags: InterfaceFlags = []
    public var change: UInt32 = 0
    public static let size = 16

    public init(family: UInt8 = 0, type: UInt16 = 0, index: Int32 = 0, flags: InterfaceFlags = [], change: UInt32 = 0) {
        self.family = family; self.type = type; self.index = index; self.flags = flags; self.change = change
    }

    public var bytes: [UInt8] {
        var b: [UInt8] = [family, 0]
        b.appendLE(type); b.appendLE(index); b.appendLE(flags.rawValue); b.appendLE(change)
        return b
    }

    public init(_ s: ArraySlice<UInt8>) throws {
        guard s.count >= Self.size else { throw NetlinkDecodingError.truncated(what: "ifinfomsg", need: Self.size, have: s.count) }
        let i = s.startIndex
        family = s[i]; type = s.readLE(at: i + 2); index = s.readLE(at: i + 4)
        flags = InterfaceFlags(rawValue: s.readLE(at: i + 8)); change = s.readLE(at: i + 12)
    }
}

/// `struct ifaddrmsg` (8 bytes).
public struct IfAddrMsg: Sendable, Hashable {
    public var family: UInt8 = 0
    public var prefixLength: UInt8 = 0
    public var flags: UInt8 = 0
    public var scope: UInt8 = 0
    public var index: UInt32 = 0
    public static let size = 8

    public init(family: UInt8 = 0, prefixLength: UInt8 = 0, flags: UInt8 = 0, scope: UInt8 = 0, index: UInt32 = 0) {
        self.family = family; self.prefixLength = prefixLength; self.flags = flags; self.scope = scope; self.index = index
    }

    public var bytes: [UInt8] { var b = [family, prefixLength, flags, scope]; b.appendLE(index); return b }

    public init(_ s: ArraySlice<UInt8>) throws {
        guard s.count >= Self.size else { throw NetlinkDecodingError.truncated(what: "ifaddrmsg", need: Self.size, have: s.count) }
        let i = s.startIndex
        family = s[i]; prefixLength = s[i + 1]; flags = s[i + 2]; scope = s[i + 3]; index = s.readLE(at: i + 4)
    }
}

/// `struct rtmsg` (12 bytes).
public struct RtMsg: Sendable, Hashable {
    public var family: UInt8 = 0
    public var dstLength: UInt8 = 0
    public var srcLength: UInt8 = 0
    public var tos: UInt8 = 0
    public var table: UInt8 = 0
    public var proto: UInt8 = 0
    public var scope: UInt8 = 0
    public var type: UInt8 = 0
    public var flags: UInt32 = 0
    public static let size = 12

    public init(family: UInt8 = 0, dstLength: UInt8 = 0, srcLength: UInt8 = 0, tos: UInt8 = 0, table: UInt8 = 0,
                proto: UInt8 = 0, scope: UInt8 = 0, type: UInt8 = 0, flags: UInt32 = 0) {
        self.family = family; self.dstLength = dstLength; self.srcLength = srcLength; self.tos = tos
        self.table = table; self.proto = proto; self.scope = scope; self.type = type; self.flags = flags
    }

    public var bytes: [UInt8] {
        var b = [family, dstLength, srcLength, tos, table, proto, scope, type]
        b.appendLE(flags)
        return b
    }

    public init(_ s: ArraySlice<UInt8>) throws {
        guard s.count >= Self.size else { throw NetlinkDecodingError.truncated(what: "rtmsg", need: Self.size, have: s.count) }
        let i = s.startIndex
        family = s[i]; dstLength = s[i + 1]; srcLength = s[i + 2]; tos = s[i + 3]
        table = s[i + 4]; proto = s[i + 5]; scope = s[i + 6]; type = s[i + 7]; flags = s.readLE(at: i + 8)
    }
}

/// `struct fib_rule_hdr` (12 bytes); same layout as rtmsg with `action` in place of `type`.
public struct FibRuleHdr: Sendable, Hashable {
    public var family: UInt8 = 0
    public var dstLength: UInt8 = 0
    public var srcLength: UInt8 = 0
    public var tos: UInt8 = 0
    public var table: UInt8 = 0
    public var action: UInt8 = 0
    public var flags: UInt32 = 0
    public static let size = 12

    public init(family: UInt8 = 0, dstLength: UInt8 = 0, srcLength: UInt8 = 0, tos: UInt8 = 0, table: UInt8 = 0,
                action: UInt8 = 0, flags: UInt32 = 0) {
        self.family = family; self.dstLength = dstLength; self.srcLength = srcLength; self.tos = tos
        self.table = table; self.action = action; self.flags = flags
    }

    public var bytes: [UInt8] {
        var b = [family, dstLength, srcLength, tos, table, 0, 0, action]
        b.appendLE(flags)
        return b
    }

    public init(_ s: ArraySlice<UInt8>) throws {
        guard s.count >= Self.size else { throw NetlinkDecodingError.truncated(what: "fib_rule_hdr", need: Self.size, have: s.count) }
        let i = s.startIndex
        family = s[i]; dstLength = s[i + 1]; srcLength = s[i + 2]; tos = s[i + 3]
        table = s[i + 4]; action = s[i + 7]; flags = s.readLE(at: i + 8)
    }
}

/// `struct ndmsg` (12 bytes).
public struct NdMsg: Sendable, Hashable {
    public var family: UInt8 = 0
    public var index: Int32 = 0
    public var state: UInt16 = 0
    public var flags: UInt8 = 0
    public var type: UInt8 = 0
    public static let size = 12

    public init(family: UInt8 = 0, index: Int32 = 0, state: UInt16 = 0, flags: UInt8 = 0, type: UInt8 = 0) {
        self.family = family; self.index = index; self.state = state; self.flags = flags; self.type = type
    }

    public var bytes: [UInt8] {
        var b: [UInt8] = [family, 0, 0, 0]
        b.appendLE(index); b.appendLE(state); b.append(flags); b.append(type)
        return b
    }

    public init(_ s: ArraySlice<UInt8>) throws {
        guard s.count >= Self.size else { throw NetlinkDecodingError.truncated(what: "ndmsg", need: Self.size, have: s.count) }
        let i = s.startIndex
        family = s[i]; index = s.readLE(at: i + 4); state = s.readLE(at: i + 8); flags = s[i + 10]; type = s[i + 11]
    }
}

/// `struct tcmsg` (20 bytes).
public struct TcMsg: Sendable, Hashable {
    public var family: UInt8 = 0
    public var index: Int32 = 0
    public var handle: UInt32 = 0
    public var parent: UInt32 = 0
    public var info: UInt32 = 0
    public static let size = 20
    public static let rootParent: UInt32 = 0xFFFF_FFFF

    public init(family: UInt8 = 0, index: Int32 = 0, handle: UInt32 = 0, parent: UInt32 = 0, info: UInt32 = 0) {
        self.family = family; self.index = index; self.handle = handle; self.parent = parent; self.info = info
    }

    public var bytes: [UInt8] {
        var b: [UInt8] = [family, 0, 0, 0]
        b.appendLE(index); b.appendLE(handle); b.appendLE(parent); b.appendLE(info)
        return b
    }

    public init(_ s: ArraySlice<UInt8>) throws {
        guard s.count >= Self.size else { throw NetlinkDecodingError.truncated(what: "tcmsg", need: Self.size, have: s.count) }
        let i = s.startIndex
        family = s[i]; index = s.readLE(at: i + 4); handle = s.readLE(at: i + 8); parent = s.readLE(at: i + 12); info = s.readLE(at: i + 16)
    }
}

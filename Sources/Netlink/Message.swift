import SystemPackage
/// The 16-byte netlink message header (`struct nlmsghdr`).
public struct NetlinkHeader: Sendable, Hashable {
    /// The message length in bytes, header included (`nlmsg_len`).
    public var length: UInt32
    /// The message type (`nlmsg_type`): an `NLMSG_*` or `RTM_*` value.
    public var type: UInt16
    /// The flags (`nlmsg_flags`).
    public var flags: NLFlags
    /// The sequence number that pairs a request with its answers (`nlmsg_seq`).
    public var sequence: UInt32
    /// The sender's port id (`nlmsg_pid`); 0 for the kernel.
    public var portID: UInt32

    /// A header with these fields.
    public init(length: UInt32, type: UInt16, flags: NLFlags, sequence: UInt32, portID: UInt32 = 0) {
        self.length = length; self.type = type; self.flags = flags; self.sequence = sequence; self.portID = portID
    }

    /// The header's 16 bytes, little-endian.
    public var bytes: [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(16)
        b.appendLE(length); b.appendLE(type); b.appendLE(flags.rawValue); b.appendLE(sequence); b.appendLE(portID)
        return b
    }
}

/// One request to the kernel: a message type, flags, and a body (fixed header plus attributes).
///
/// The request keeps what it is for (`what`, e.g. `adding 10.0.1.2/24 to eth0`) and
/// where each attribute sits, so a kernel error can name both.
public struct NetlinkRequest: Sendable {
    /// The message type (`RTM_*`).
    public var type: UInt16
    /// The flags; ``NLFlags/request`` is added when encoding.
    public var flags: NLFlags
    /// The body after the header: the fixed struct and the attributes.
    public var body: [UInt8]
    /// Where each attribute sits in the body, to name the one an extended ack points at.
    public var spans: [AttributeSpan]
    /// What this request does, in words, for error messages.
    public var what: String

    /// A request of `type` whose body, with its attribute places, is what `body` wrote.
    public init(type: UInt16, flags: NLFlags, body: AttributeWriter, what: String) {
        self.type = type; self.flags = flags; self.body = body.bytes; self.spans = body.spans; self.what = what
    }

    /// The complete message bytes with the given sequence number.
    public func encoded(sequence: UInt32) -> [UInt8] {
        var out = NetlinkHeader(length: UInt32(NLMsg.headerLength + body.count), type: type,
                                flags: flags.union(.request), sequence: sequence).bytes
        out += body
        return out
    }

    /// Appends the complete message to `buffer` (avoids an intermediate array on hot paths).
    public func encode(into buffer: inout [UInt8], sequence: UInt32) {
        buffer += NetlinkHeader(length: UInt32(NLMsg.headerLength + body.count), type: type,
                                flags: flags.union(.request), sequence: sequence).bytes
        buffer += body
    }

    /// The name of the attribute at `offset` in the message (offset counts from the
    /// start of the netlink header, as `NLMSGERR_ATTR_OFFS` does).
    public func attributeName(atMessageOffset offset: Int) -> String? {
        let o = offset - NLMsg.headerLength
        // The innermost (shortest) span containing the offset.
        return spans.filter { o >= $0.offset && o < $0.offset + max($0.length, 1) }
            .min { $0.length < $1.length }?.name
    }
}

/// A message received from the kernel: header and body.
public struct NetlinkMessage: Sendable {
    /// The message's header.
    public var header: NetlinkHeader
    /// The bytes after the header.
    public var body: ArraySlice<UInt8>

    /// The header's message type.
    public var type: UInt16 { header.type }
    /// The header's sequence number.
    public var sequence: UInt32 { header.sequence }
    /// The header's flags.
    public var flags: NLFlags { header.flags }

    /// Splits a datagram into messages. Throws on malformed lengths; never traps or loops.
    public static func parse(_ bytes: [UInt8]) throws -> [NetlinkMessage] {
        var out: [NetlinkMessage] = []
        var i = 0
        while bytes.count - i >= NLMsg.headerLength {
            let len = Int(bytes.readLE(at: i) as UInt32)
            guard len >= NLMsg.headerLength else {
                throw NetlinkDecodingError.malformed("message length \(len) at offset \(i) is shorter than the header")
            }
            guard len <= bytes.count - i else {
                throw NetlinkDecodingError.truncated(what: "message at offset \(i)", need: len, have: bytes.count - i)
            }
            let h = NetlinkHeader(length: UInt32(len), type: bytes.readLE(at: i + 4),
                                  flags: NLFlags(rawValue: bytes.readLE(at: i + 6)),
                                  sequence: bytes.readLE(at: i + 8), portID: bytes.readLE(at: i + 12))
            out.append(NetlinkMessage(header: h, body: bytes[(i + NLMsg.headerLength)..<(i + len)]))
            i += min(NLA.align(len), bytes.count - i)
        }
        if i < bytes.count {
            throw NetlinkDecodingError.truncated(what: "message header at offset \(i)", need: NLMsg.headerLength, have: bytes.count - i)
        }
        return out
    }

    /// Decodes an `NLMSG_ERROR` body (`struct nlmsgerr` plus extended-ack TLVs).
    /// Returns the errno (nil for an ack) and the kernel's extack.
    public func decodeError() throws -> (errno: Errno?, ack: ExtendedAck) {
        guard body.count >= 4 + NLMsg.headerLength else {
            throw NetlinkDecodingError.truncated(what: "nlmsgerr", need: 20, have: body.count)
        }
        let err = try Self.errnoValue(body.readLE(at: body.startIndex))
        var ack = ExtendedAck()
        if header.flags.contains(.ackTLVs) {
            // The echoed request: only its header when capped, else the whole request.
            var echoed = NLMsg.headerLength
            if !header.flags.contains(.capped) {
                let l = Int(body.readLE(at: body.startIndex + 4) as UInt32)
                echoed = max(NLMsg.headerLength, NLA.align(l))
            }
            let start = body.startIndex + 4 + echoed
            if start <= body.endIndex {
                ack = try ExtendedAck(tlvs: body[start..<body.endIndex])
            }
        }
        return (err, ack)
    }

    /// The kernel sends `-errno` (0 for success); errno values are at most 4095 (`MAX_ERRNO`).
    /// Anything else is malformed, and `-Int32.min` would overflow.
    static func errnoValue(_ raw: UInt32) throws -> Errno? {
        let v = Int32(bitPattern: raw)
        guard v <= 0, v >= -4095 else {
            throw NetlinkDecodingError.malformed("error value \(v) is not a negative errno")
        }
        return v == 0 ? nil : Errno(rawValue: -v)
    }

    /// Decodes an `NLMSG_DONE` body: a dump's final status and, on failure, its extack.
    /// The errno is nil for a successful dump.
    public func decodeDone() throws -> (errno: Errno?, ack: ExtendedAck) {
        guard body.count >= 4 else { return (nil, ExtendedAck()) } // some families send an empty DONE
        let err = try Self.errnoValue(body.readLE(at: body.startIndex))
        var ack = ExtendedAck()
        if header.flags.contains(.ackTLVs), body.count > 4 {
            ack = try ExtendedAck(tlvs: body[(body.startIndex + 4)..<body.endIndex])
        }
        return (err, ack)
    }
}

/// The kernel's extended acknowledgement: a message and the offset of the offending attribute.
public struct ExtendedAck: Sendable, Hashable {
    /// The kernel's explanation (`NLMSGERR_ATTR_MSG`).
    public var message: String?
    /// The offset in the request of the attribute the kernel refused (`NLMSGERR_ATTR_OFFS`).
    public var offset: UInt32?
    /// The type of an attribute the kernel missed (`NLMSGERR_ATTR_MISS_TYPE`).
    public var missingType: UInt32?

    /// An ack with this message and offset.
    public init(message: String? = nil, offset: UInt32? = nil) { self.message = message; self.offset = offset }

    /// Parses the `NLMSGERR_ATTR_*` attributes that follow an error or done message; others are ignored.
    public init(tlvs: ArraySlice<UInt8>) throws {
        for a in try Attribute.parse(tlvs) {
            switch a.type {
            case NLMsgErrAttr.msg: message = a.string()
            case NLMsgErrAttr.offset: offset = try a.uint32()
            case NLMsgErrAttr.missingType: missingType = try a.uint32()
            default: break
            }
        }
    }
}

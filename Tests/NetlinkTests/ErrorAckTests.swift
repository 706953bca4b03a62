import Netlink
import SystemPackage
import Testing

@Suite struct ErrorAckTests {
    /// The request the kernel rejects below: IPv4 address with prefix length 33.
    let request = NetlinkRequest.newAddress(index: 3, IPPrefix(.v4(0x0A00_0102), 33))

    /// NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK + NETLINK_EXT_ACK:
    /// flags CAPPED|ACK_TLVS, body = int error, the echoed nlmsghdr only, then TLVs.
    func cappedError(errno: Errno, message: String?, offset: UInt32?, seq: UInt32 = 42) -> [UInt8] {
        var body = le32(UInt32(bitPattern: -errno.rawValue))
        body += Array(request.encoded(sequence: seq).prefix(16)) // the echoed header
        if let message { body += rawAttr(NLMsgErrAttr.msg, Array(message.utf8) + [0]) }
        if let offset { body += rawAttr(NLMsgErrAttr.offset, le32(offset)) }
        return rawMessage(type: NLMsg.error, flags: 0x300, sequence: seq, body: body)
    }

    @Test func cappedAckWithExtack() throws {
        // Offset 24 = nlmsghdr (16) + ifaddrmsg (8): the first attribute, IFA_LOCAL.
        let m = try single(cappedError(errno: .invalidArgument, message: "ipv4: Invalid prefix length", offset: 24))
        #expect(m.type == NLMsg.error)
        #expect(m.flags.contains(.capped) && m.flags.contains(.ackTLVs))
        let (err, ack) = try m.decodeError()
        #expect(err == .invalidArgument)
        #expect(ack.message == "ipv4: Invalid prefix length")
        #expect(ack.offset == 24)
        #expect(request.attributeName(atMessageOffset: Int(ack.offset!)) == "IFA_LOCAL")
        #expect(request.attributeName(atMessageOffset: 32) == "IFA_ADDRESS")

        let e = NetlinkError(errno: try #require(err), kernelMessage: ack.message,
                             attribute: request.attributeName(atMessageOffset: Int(ack.offset!)),
                             request: RTM.name(request.type), what: "adding 10.0.1.2/33 to eth0 in ns h1")
        #expect(e.description == "adding 10.0.1.2/33 to eth0 in ns h1 (RTM_NEWADDR): Invalid argument (EINVAL): \"ipv4: Invalid prefix length\" [attribute IFA_LOCAL]")
    }

    @Test func plainAckIsErrnoZero() throws {
        var body = le32(0) + Array(request.encoded(sequence: 7).prefix(16))
        body += [] // no TLVs
        let (err, ack) = try single(rawMessage(type: NLMsg.error, flags: 0x100, sequence: 7, body: body)).decodeError()
        #expect(err == nil)
        #expect(ack == ExtendedAck())
    }

    @Test func uncappedAckSkipsTheWholeEchoedRequest() throws {
        // Without NETLINK_CAP_ACK the kernel echoes the whole request before the TLVs.
        let echoed = request.encoded(sequence: 9)
        var body = le32(UInt32(bitPattern: -Errno.fileExists.rawValue)) + echoed
        body += rawAttr(NLMsgErrAttr.msg, Array("ipv4: Address already assigned".utf8) + [0])
        let (err, ack) = try single(rawMessage(type: NLMsg.error, flags: 0x200, sequence: 9, body: body)).decodeError()
        #expect(err == .fileExists)
        #expect(ack.message == "ipv4: Address already assigned")
        #expect(ack.offset == nil)
    }

    @Test func errorWithoutTLVs() throws {
        // A bare EEXIST (duplicate link name): no message, no offset.
        let (err, ack) = try single(cappedError(errno: .fileExists, message: nil, offset: nil)).decodeError()
        #expect(err == .fileExists)
        #expect(ack.message == nil && ack.offset == nil)
        let e = NetlinkError(errno: .fileExists, kernelMessage: nil, attribute: nil, request: "RTM_NEWLINK", what: "adding link x (type veth)")
        #expect(e.description == "adding link x (type veth) (RTM_NEWLINK): File exists (EEXIST)")
    }

    @Test func truncatedErrorBodyThrows() throws {
        let m = try single(rawMessage(type: NLMsg.error, body: le32(UInt32(bitPattern: -Errno.invalidArgument.rawValue)) + [0, 0, 0, 0]))
        #expect(throws: NetlinkDecodingError.self) { try m.decodeError() }
    }

    @Test func errorInsideDone() throws {
        // A strict dump with a bad header: the error comes in NLMSG_DONE, int error then TLVs directly.
        var body = le32(UInt32(bitPattern: -Errno.invalidArgument.rawValue))
        body += rawAttr(NLMsgErrAttr.msg, Array("Invalid values in header for FIB dump request".utf8) + [0])
        let m = try single(rawMessage(type: NLMsg.done, flags: 0x202, sequence: 3, body: body))
        let (err, ack) = try m.decodeDone()
        #expect(err == .invalidArgument)
        #expect(ack.message == "Invalid values in header for FIB dump request")

        // A successful DONE: int 0, and an empty DONE from families that send none.
        #expect(try single(rawMessage(type: NLMsg.done, flags: 0x2, body: le32(0))).decodeDone().errno == nil)
        #expect(try single(rawMessage(type: NLMsg.done, flags: 0x2, body: [])).decodeDone().errno == nil)
        // TLVs without ACK_TLVS are ignored.
        let noFlag = try single(rawMessage(type: NLMsg.done, flags: 0x2, body: body)).decodeDone()
        #expect(noFlag.errno == .invalidArgument && noFlag.ack.message == nil)
    }

    @Test func errnoNames() {
        #expect(ErrnoNames.name(.fileExists) == "EEXIST")
        #expect(ErrnoNames.text(.notSupported) == "Operation not supported")
        #expect(ErrnoNames.name(Errno(rawValue: 4242)) == "errno 4242")
        let unknownKind = NetlinkError(errno: .notSupported, kernelMessage: "Unknown device type", attribute: nil, request: "RTM_NEWLINK", what: "x")
        #expect(unknownKind.isUnknownLinkKind)
        #expect(!NetlinkError(errno: .notSupported, kernelMessage: nil, attribute: nil, request: "RTM_NEWLINK", what: "x").isUnknownLinkKind)
        #expect(RTM.name(RTM.newRoute) == "RTM_NEWROUTE")
        #expect(RTM.name(999) == "type 999")
    }
}

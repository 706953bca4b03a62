import Netlink
import Testing

/// Bridge port flags, FDB entries and qdisc placement, byte for byte.
@Suite struct BridgeGoldenBytesTests {
    @Test func portFlagsAreANestedProtinfo() {
        let r = NetlinkRequest.setBridgePort(index: 5, BridgePortOptions(learning: false, isolated: true), what: "t")
        let bytes = r.encoded(sequence: 1)
        let expected: [UInt8] = [
            // nlmsghdr
            52, 0, 0, 0,            // nlmsg_len = 52
            19, 0,                  // nlmsg_type = RTM_SETLINK
            0x05, 0,                // nlmsg_flags = REQUEST|ACK
            1, 0, 0, 0,             // nlmsg_seq = 1
            0, 0, 0, 0,             // nlmsg_pid
            // ifinfomsg
            7, 0,                   // ifi_family = AF_BRIDGE, pad
            0, 0,                   // ifi_type
            5, 0, 0, 0,             // ifi_index = 5
            0, 0, 0, 0,             // ifi_flags
            0, 0, 0, 0,             // ifi_change
            // IFLA_PROTINFO | NLA_F_NESTED (0x800c), len 20: without the flag the kernel reads an STP state
            20, 0, 0x0c, 0x80,
            //   IFLA_BRPORT_LEARNING 0 (u8 + 3 bytes padding)
            5, 0, 8, 0, 0, 0, 0, 0,
            //   IFLA_BRPORT_ISOLATED 1
            5, 0, 33, 0, 1, 0, 0, 0,
        ]
        #expect(bytes == expected, "got \(hex(bytes))")
        #expect(r.attributeName(atMessageOffset: 44) == "IFLA_PROTINFO.IFLA_BRPORT_ISOLATED")
    }

    @Test func vxlanFDBEntriesAreAppendedToTheDeviceItself() {
        let r = NetlinkRequest.newFDB(index: 3, mac: MACAddress("00:00:00:00:00:00")!, dst: IPAddress("10.0.0.2"), master: false,
                                      what: "t")
        let bytes = r.encoded(sequence: 1)
        let expected: [UInt8] = [
            48, 0, 0, 0,            // nlmsg_len = 48
            28, 0,                  // nlmsg_type = RTM_NEWNEIGH
            0x05, 0x0c,             // nlmsg_flags = REQUEST|ACK|CREATE|APPEND (0xc05)
            1, 0, 0, 0, 0, 0, 0, 0,
            // ndmsg
            7, 0, 0, 0,             // ndm_family = AF_BRIDGE, pads
            3, 0, 0, 0,             // ndm_ifindex = 3
            0x80, 0,                // ndm_state = NUD_PERMANENT
            0x02,                   // ndm_flags = NTF_SELF
            0,                      // ndm_type
            // NDA_LLADDR 00:00:00:00:00:00 (+2 padding)
            10, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            // NDA_DST 10.0.0.2
            8, 0, 1, 0, 10, 0, 0, 2,
        ]
        #expect(bytes == expected, "got \(hex(bytes))")
    }

    @Test func bridgeFDBEntriesAreStaticInTheMaster() {
        let bytes = NetlinkRequest.newFDB(index: 4, mac: MACAddress("02:00:00:00:00:01")!, vlan: 10, master: true, what: "t")
            .encoded(sequence: 1)
        #expect(Array(bytes[6..<8]) == [0x05, 0x06], "REQUEST|ACK|EXCL|CREATE")
        #expect(Array(bytes[24..<28]) == [0x40, 0, 0x04, 0], "NUD_NOARP (static), NTF_MASTER")
        #expect(Array(bytes.suffix(8)) == [6, 0, 5, 0, 10, 0, 0, 0], "NDA_VLAN 10")
    }

    @Test func qdiscUnderAClassAndAClassUnderAClass() {
        let q = NetlinkRequest.newQdisc(index: 2, .tbf(rateBitsPerSecond: 8000, burstBytes: 1600, limitBytes: 3000),
                                        handle: 0x10_0000, parent: 0x1_0010).encoded(sequence: 1)
        // tcmsg after the 16-byte header: family, pads, ifindex, handle 10:, parent 1:10.
        #expect(Array(q[16..<32]) == [0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0x10, 0, 0x10, 0, 1, 0], "got \(hex(q))")
        let c = NetlinkRequest.newHTBClass(index: 2, HTBClass(id: 0x10, rateBitsPerSecond: 8000, parent: 1), major: 0x1_0000)
            .encoded(sequence: 1)
        // classid 1:10, parent 1:1.
        #expect(Array(c[24..<32]) == [0x10, 0, 1, 0, 1, 0, 1, 0], "got \(hex(c))")
    }

    @Test func bridgeTimesGoBeforeTheSTPState() {
        let r = NetlinkRequest.newLink(LinkSpec(name: "br0", kind: .bridge(stp: true, options: BridgeOptions(forwardDelay: 400))))
        let bytes = r.encoded(sequence: 1)
        // ... IFLA_INFO_DATA { IFLA_BR_FORWARD_DELAY 400, IFLA_BR_STP_STATE 1 } at the end.
        #expect(Array(bytes.suffix(16)) == [8, 0, 1, 0, 0x90, 0x01, 0, 0, 8, 0, 5, 0, 1, 0, 0, 0], "got \(hex(bytes))")
    }
}

import Netlink
import Testing

/// Requests encoded byte for byte as the kernel's uapi structs lay them out
/// (little-endian host order, 4-byte attribute alignment).
@Suite struct GoldenBytesTests {
    @Test func vethWithPeerInAnotherNamespace() {
        let spec = LinkSpec(name: "va0", kind: .veth(peer: VethPeer(name: "vb0", namespaceFD: 7)), mtu: 1400, up: true)
        let bytes = NetlinkRequest.newLink(spec).encoded(sequence: 1)
        let expected: [UInt8] = [
            // nlmsghdr
            0x68, 0, 0, 0,          // nlmsg_len = 104
            16, 0,                  // nlmsg_type = RTM_NEWLINK
            0x05, 0x06,             // nlmsg_flags = REQUEST|ACK|EXCL|CREATE (0x605)
            1, 0, 0, 0,             // nlmsg_seq = 1
            0, 0, 0, 0,             // nlmsg_pid = 0 (kernel fills)
            // ifinfomsg
            0, 0,                   // ifi_family = AF_UNSPEC, pad
            0, 0,                   // ifi_type
            0, 0, 0, 0,             // ifi_index = 0 (new)
            1, 0, 0, 0,             // ifi_flags = IFF_UP
            1, 0, 0, 0,             // ifi_change = IFF_UP
            // IFLA_IFNAME "va0"
            8, 0, 3, 0, 0x76, 0x61, 0x30, 0,
            // IFLA_MTU 1400
            8, 0, 4, 0, 0x78, 0x05, 0, 0,
            // IFLA_LINKINFO (len 56), no NLA_F_NESTED, as iproute2 sends it
            56, 0, 18, 0,
            //   IFLA_INFO_KIND "veth\0" (len 9) + 3 bytes padding
            9, 0, 1, 0, 0x76, 0x65, 0x74, 0x68, 0, 0, 0, 0,
            //   IFLA_INFO_DATA (len 40)
            40, 0, 2, 0,
            //     VETH_INFO_PEER (len 36)
            36, 0, 1, 0,
            //       the peer's own struct ifinfomsg (16 zero bytes)
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            //       IFLA_IFNAME "vb0"
            8, 0, 3, 0, 0x76, 0x62, 0x30, 0,
            //       IFLA_NET_NS_FD 7
            8, 0, 28, 0, 7, 0, 0, 0,
        ]
        #expect(bytes == expected, "got \(hex(bytes))")
    }

    @Test func vethQueuesGoToBothEnds() {
        let spec = LinkSpec(name: "va0", kind: .veth(peer: VethPeer(name: "vb0", queues: 1)), queues: 1)
        let r = NetlinkRequest.newLink(spec)
        let bytes = r.encoded(sequence: 1)
        // After the name: IFLA_NUM_TX_QUEUES 1, IFLA_NUM_RX_QUEUES 1 on the main end…
        #expect(Array(bytes[40..<56]) == [8, 0, 31, 0, 1, 0, 0, 0, 8, 0, 32, 0, 1, 0, 0, 0], "got \(hex(bytes))")
        #expect(r.attributeName(atMessageOffset: 40) == "IFLA_NUM_TX_QUEUES")
        #expect(r.attributeName(atMessageOffset: 48) == "IFLA_NUM_RX_QUEUES")
        // …and the same two attributes at the end of the peer.
        #expect(Array(bytes.suffix(16)) == [8, 0, 31, 0, 1, 0, 0, 0, 8, 0, 32, 0, 1, 0, 0, 0], "got \(hex(bytes))")
        #expect(r.attributeName(atMessageOffset: bytes.count - 8) == "IFLA_LINKINFO.IFLA_INFO_DATA.VETH_INFO_PEER.IFLA_NUM_RX_QUEUES")
        // Left out, nothing is sent: the kernel's default.
        let plain = NetlinkRequest.newLink(LinkSpec(name: "va0", kind: .veth(peer: VethPeer(name: "vb0")))).encoded(sequence: 1)
        #expect(plain.count == bytes.count - 32)
    }

    @Test func vethSpansMapExtackOffsetsBackToAttributes() {
        let spec = LinkSpec(name: "va0", kind: .veth(peer: VethPeer(name: "vb0", namespaceFD: 7)), mtu: 1400, up: true)
        let r = NetlinkRequest.newLink(spec)
        // Offsets count from the start of the nlmsghdr, as NLMSGERR_ATTR_OFFS does.
        #expect(r.attributeName(atMessageOffset: 32) == "IFLA_IFNAME")
        #expect(r.attributeName(atMessageOffset: 40) == "IFLA_MTU")
        #expect(r.attributeName(atMessageOffset: 48) == "IFLA_LINKINFO")
        #expect(r.attributeName(atMessageOffset: 52) == "IFLA_LINKINFO.IFLA_INFO_KIND")
        #expect(r.attributeName(atMessageOffset: 64) == "IFLA_LINKINFO.IFLA_INFO_DATA")
        #expect(r.attributeName(atMessageOffset: 68) == "IFLA_LINKINFO.IFLA_INFO_DATA.VETH_INFO_PEER")
        // Inside the peer's ifinfomsg: the peer attribute itself is the innermost.
        #expect(r.attributeName(atMessageOffset: 72) == "IFLA_LINKINFO.IFLA_INFO_DATA.VETH_INFO_PEER")
        #expect(r.attributeName(atMessageOffset: 88) == "IFLA_LINKINFO.IFLA_INFO_DATA.VETH_INFO_PEER.IFLA_IFNAME")
        #expect(r.attributeName(atMessageOffset: 96) == "IFLA_LINKINFO.IFLA_INFO_DATA.VETH_INFO_PEER.IFLA_NET_NS_FD")
        // In the headers, or past the end: no attribute.
        #expect(r.attributeName(atMessageOffset: 0) == nil)
        #expect(r.attributeName(atMessageOffset: 20) == nil)
        #expect(r.attributeName(atMessageOffset: 104) == nil)
    }

    @Test func newAddressIPv4() {
        let bytes = NetlinkRequest.newAddress(index: 3, IPPrefix("10.0.1.2/24")!).encoded(sequence: 0x0102_0304)
        let expected: [UInt8] = [
            48, 0, 0, 0,            // nlmsg_len = 48
            20, 0,                  // RTM_NEWADDR
            0x05, 0x06,             // REQUEST|ACK|EXCL|CREATE
            4, 3, 2, 1,             // seq 0x01020304, little-endian
            0, 0, 0, 0,             // pid
            // ifaddrmsg
            2,                      // ifa_family = AF_INET
            24,                     // ifa_prefixlen
            0,                      // ifa_flags (the 8-bit field; IFA_FLAGS carries the rest)
            0,                      // ifa_scope = universe
            3, 0, 0, 0,             // ifa_index = 3
            8, 0, 2, 0, 10, 0, 1, 2,     // IFA_LOCAL 10.0.1.2 (network order)
            8, 0, 1, 0, 10, 0, 1, 2,     // IFA_ADDRESS 10.0.1.2
            8, 0, 4, 0, 10, 0, 1, 255,   // IFA_BROADCAST 10.0.1.255 (`brd +`)
        ]
        #expect(bytes == expected, "got \(hex(bytes))")
    }

    @Test func newAddressIPv6NoDAD() {
        let bytes = NetlinkRequest.newAddress(index: 3, IPPrefix("fd00::1/64")!, noDAD: true).encoded(sequence: 1)
        let addr: [UInt8] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        var expected: [UInt8] = [
            72, 0, 0, 0, 20, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0,  // nlmsghdr: len 72, RTM_NEWADDR
            10, 64, 0, 0, 3, 0, 0, 0,                                  // ifaddrmsg: AF_INET6, /64, index 3
        ]
        expected += [20, 0, 2, 0] + addr     // IFA_LOCAL (len 20)
        expected += [20, 0, 1, 0] + addr     // IFA_ADDRESS
        expected += [8, 0, 8, 0, 2, 0, 0, 0] // IFA_FLAGS = IFA_F_NODAD; no IFA_BROADCAST for IPv6
        #expect(bytes == expected, "got \(hex(bytes))")
        // Without nodad there is no IFA_FLAGS at all.
        let plain = NetlinkRequest.newAddress(index: 3, IPPrefix("fd00::1/64")!).encoded(sequence: 1)
        #expect(plain.count == 64)
    }

    @Test func newRouteMultipathEncodesWeightMinusOne() {
        var r = RouteInfo(family: AF.inet, destination: IPPrefix("10.9.0.0/16")!)
        r.nexthops = [RouteNexthop(gateway: IPAddress("10.0.1.2")!, index: 3, weight: 1),
                      RouteNexthop(gateway: IPAddress("10.0.2.2")!, index: 4, weight: 3)]
        let bytes = NetlinkRequest.newRoute(r).encoded(sequence: 1)
        let expected: [UInt8] = [
            80, 0, 0, 0, 24, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0,  // nlmsghdr: len 80, RTM_NEWROUTE
            // rtmsg
            2,                      // rtm_family = AF_INET
            16,                     // rtm_dst_len
            0,                      // rtm_src_len
            0,                      // rtm_tos
            254,                    // rtm_table = RT_TABLE_MAIN
            3,                      // rtm_protocol = RTPROT_BOOT
            0,                      // rtm_scope = RT_SCOPE_UNIVERSE (gateways)
            1,                      // rtm_type = RTN_UNICAST
            0, 0, 0, 0,             // rtm_flags
            8, 0, 15, 0, 254, 0, 0, 0,   // RTA_TABLE 254
            8, 0, 1, 0, 10, 9, 0, 0,     // RTA_DST 10.9.0.0
            36, 0, 9, 0,                 // RTA_MULTIPATH (len 36): two struct rtnexthop
            16, 0,                  //   rtnh_len = 16 (8 + RTA_GATEWAY)
            0,                      //   rtnh_flags
            0,                      //   rtnh_hops = weight 1 − 1
            3, 0, 0, 0,             //   rtnh_ifindex = 3
            8, 0, 5, 0, 10, 0, 1, 2,     //   RTA_GATEWAY 10.0.1.2
            16, 0, 0,
            2,                      //   rtnh_hops = weight 3 − 1
            4, 0, 0, 0,
            8, 0, 5, 0, 10, 0, 2, 2,     //   RTA_GATEWAY 10.0.2.2
        ]
        #expect(bytes == expected, "got \(hex(bytes))")
    }

    @Test func newRule() {
        var rule = RuleInfo(family: AF.inet, priority: 1000, source: IPPrefix("10.1.0.0/16")!, table: 100)
        rule.inputInterface = "veth0"
        rule.fwmark = 0x10
        let bytes = NetlinkRequest.newRule(rule).encoded(sequence: 1)
        let expected: [UInt8] = [
            72, 0, 0, 0, 32, 0, 0x05, 0x06, 1, 0, 0, 0, 0, 0, 0, 0,  // nlmsghdr: len 72, RTM_NEWRULE
            // fib_rule_hdr
            2,                      // family = AF_INET
            0,                      // dst_len
            16,                     // src_len
            0,                      // tos
            100,                    // table (fits in 8 bits)
            0, 0,                   // res1, res2
            1,                      // action = FR_ACT_TO_TBL
            0, 0, 0, 0,             // flags
            8, 0, 6, 0, 0xe8, 0x03, 0, 0,                         // FRA_PRIORITY 1000
            8, 0, 2, 0, 10, 1, 0, 0,                              // FRA_SRC 10.1.0.0
            10, 0, 3, 0, 0x76, 0x65, 0x74, 0x68, 0x30, 0, 0, 0,   // FRA_IIFNAME "veth0\0" + 2 pad
            8, 0, 10, 0, 0x10, 0, 0, 0,                           // FRA_FWMARK 0x10
            8, 0, 15, 0, 100, 0, 0, 0,                            // FRA_TABLE 100
        ]
        #expect(bytes == expected, "got \(hex(bytes))")
    }

    @Test func bigTableGoesOnlyInTheAttribute() throws {
        let rule = RuleInfo(family: AF.inet6, priority: 5, table: 1000)
        let m = try single(NetlinkRequest.newRule(rule).encoded(sequence: 9))
        let h = try FibRuleHdr(m.body)
        #expect(h.table == 0) // RT_TABLE_UNSPEC in the header, FRA_TABLE carries 1000
        #expect(try RuleInfo(message: m).table == 1000)
        var route = RouteInfo(family: AF.inet, destination: IPPrefix("10.0.0.0/8")!, outputIndex: 2)
        route.table = 1000
        let rm = try single(NetlinkRequest.newRoute(route).encoded(sequence: 1))
        #expect(try RtMsg(rm.body).table == 0)
        #expect(try RouteInfo(message: rm).table == 1000)
        // A device route (no gateway) is added with link scope, as `ip route add … dev X` does.
        #expect(try RtMsg(rm.body).scope == RouteScope.link.rawValue)
    }
}

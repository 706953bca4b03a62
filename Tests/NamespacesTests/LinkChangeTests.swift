import Foundation
import Namespaces
import Netlink
import Testing

@Suite(.enabled(if: canCreateNamespaces, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root or in a user namespace)"))
struct LinkChangeTests {
    @Test func upDownMTUMACRenameMaster() throws {
        try withNamespaces("chg") { ns in
            let n = ns[0]
            let s = try n.socket
            try s.execute([.newLink(LinkSpec(name: "c0", kind: .veth(peer: VethPeer(name: "c1")))),
                           .newLink(LinkSpec(name: "brc", kind: .bridge()))])
            let c0 = try s.link(named: "c0").index
            let br = try s.link(named: "brc").index
            #expect(!(try s.link(index: c0).isUp))

            try s.execute(.setLink(index: c0, LinkChange(up: true), what: "c0 up"))
            #expect((try ipLink(n, "c0")["flags"] as? [String])?.contains("UP") == true)
            #expect(try s.link(index: c0).isUp)

            try s.execute(.setLink(index: c0, LinkChange(up: false), what: "c0 down"))
            #expect((try ipLink(n, "c0")["flags"] as? [String])?.contains("UP") == false)

            try s.execute(.setLink(index: c0, LinkChange(mtu: 1280, mac: MACAddress("02:12:34:56:78:9a")), what: "c0 mtu+mac"))
            let l = try ipLink(n, "c0")
            #expect(l["mtu"] as? Int == 1280)
            #expect(l["address"] as? String == "02:12:34:56:78:9a")
            #expect(try s.link(index: c0).mac == MACAddress("02:12:34:56:78:9a"))

            try s.execute(.setLink(index: c0, LinkChange(master: br), what: "c0 master brc"))
            #expect(try ipLink(n, "c0")["master"] as? String == "brc")
            try s.execute(.setLink(index: c0, LinkChange(master: 0), what: "c0 nomaster"))
            #expect(try ipLink(n, "c0")["master"] == nil)
            #expect(try s.link(index: c0).master == nil)

            try s.execute(.setLink(index: c0, LinkChange(name: "renamed0"), what: "rename c0"))
            #expect(try ipLinkNames(n) == ["lo", "renamed0", "c1", "brc"])
            #expect(try s.link(named: "renamed0").index == c0)
            // The old name is gone: a get by name fails with ENODEV.
            let gone = #expect(throws: NetlinkError.self) { try s.link(named: "c0") }
            #expect(gone?.errno == .operationNotSupportedByDevice)

            // A bad master: bare EINVAL, and our context names the request.
            let bad = #expect(throws: NetlinkError.self) {
                try s.execute(.setLink(index: c0, LinkChange(master: 9999), what: "enslaving renamed0 to #9999"))
            }
            #expect(bad?.errno == .invalidArgument)
            #expect(bad?.description.hasPrefix("enslaving renamed0 to #9999 in ns chg (RTM_NEWLINK): Invalid argument (EINVAL)") == true)

            try s.execute(.deleteLink(index: c0))
            #expect(try ipLinkNames(n) == ["lo", "brc"]) // the veth peer goes with it
            try s.execute(.deleteLink(name: "brc"))
            #expect(try ipLinkNames(n) == ["lo"])
        }
    }

    @Test func extackOffsetNamesTheAttribute() throws {
        try withNamespaces("extack") { ns in
            let s = try ns[0].socket
            // A 20-character name fails policy validation; the kernel points at IFLA_IFNAME.
            let e = #expect(throws: NetlinkError.self) {
                try s.execute(.newLink(LinkSpec(name: "abcdefghijklmnopqrst", kind: .bridge())))
            }
            #expect(e?.errno == .outOfRange)
            #expect(e?.attribute == "IFLA_IFNAME")
            #expect(e?.description.contains("[attribute IFLA_IFNAME]") == true)
            // Inside a nest: a veth peer whose name is too long.
            let p = #expect(throws: NetlinkError.self) {
                try s.execute(.newLink(LinkSpec(name: "ok0", kind: .veth(peer: VethPeer(name: "abcdefghijklmnopqrst")))))
            }
            #expect(p?.errno == .outOfRange)
            print("veth peer name too long: \(p.map { "\($0)" } ?? "-")")
            #expect(p?.attribute?.hasPrefix("IFLA_LINKINFO.IFLA_INFO_DATA.VETH_INFO_PEER") == true)
            #expect(try ipLinkNames(ns[0]) == ["lo"])
        }
    }

    @Test func moveToAnotherNamespace() throws {
        try withNamespaces("from", "to") { ns in
            let (a, b) = (ns[0], ns[1])
            try a.socket.execute(.newLink(LinkSpec(name: "mv0", kind: .veth(peer: VethPeer(name: "mv1")))))
            let idx = try a.socket.link(named: "mv0").index
            try a.socket.execute(.setLink(index: idx, LinkChange(namespaceFD: b.fd), what: "moving mv0"))
            #expect(try ipLinkNames(a) == ["lo", "mv1"])
            #expect(try ipLinkNames(b) == ["lo", "mv0"])
            #expect(try b.socket.link(named: "mv0").kind == "veth")
            // And back, by name.
            try b.socket.execute(.setLink(name: "mv0", LinkChange(namespaceFD: a.fd), what: "moving mv0 back"))
            #expect(try ipLinkNames(a) == ["lo", "mv0", "mv1"])
        }
    }

    @Test func linkDumpAndStatsCountTraffic() throws {
        try withNamespaces("pa", "pb") { ns in
            let (a, b) = (ns[0], ns[1])
            // No IPv6 background chatter (router/neighbour solicitations) on these links.
            for n in ns { try n.setSysctls([("net.ipv6.conf.all.disable_ipv6", "1"), ("net.ipv6.conf.default.disable_ipv6", "1")]) }
            try a.socket.execute(.newLink(LinkSpec(name: "ta", kind: .veth(peer: VethPeer(name: "tb", namespaceFD: b.fd)), up: true)))
            try b.socket.execute(.setLink(name: "tb", LinkChange(up: true), what: "tb up"))
            try a.socket.execute(.newAddress(index: try a.socket.link(named: "ta").index, IPPrefix("10.77.0.1/24")!))
            try b.socket.execute(.newAddress(index: try b.socket.link(named: "tb").index, IPPrefix("10.77.0.2/24")!))
            let before = try #require(try a.socket.link(named: "ta").stats)

            let r = try Spawner.runBlocking(["ping", "-c1", "-W2", "10.77.0.2"], in: a, timeout: 10)
            #expect(r.status == 0, "ping: \(r) \(r.output)")

            let after = try #require(try a.socket.link(named: "ta").stats)
            #expect(after.txPackets >= before.txPackets + 1)
            #expect(after.rxPackets >= before.rxPackets + 1) // the echo reply (and ARP)
            #expect(after.txBytes > before.txBytes)
            // iproute2's numbers lie between two of our reads (counters only grow).
            let s64 = try #require(try ipJSON(a, ["-s", "link", "show", "dev", "ta"]).first?["stats64"] as? [String: Any])
            let dumped = try a.socket.links()
            let later = try #require(dumped.first { $0.name == "ta" }?.stats)
            let ipTx = try #require((s64["tx"] as? [String: Any])?["packets"] as? Int)
            let ipRxBytes = try #require((s64["rx"] as? [String: Any])?["bytes"] as? Int)
            #expect(Int(after.txPackets) <= ipTx && ipTx <= Int(later.txPackets))
            #expect(Int(after.rxBytes) <= ipRxBytes && ipRxBytes <= Int(later.rxBytes))
            #expect(ours(dumped.map(\.name)) == ["lo", "ta"])
            #expect(dumped.first { $0.name == "lo" }?.flags.contains(.loopback) == true)
        }
    }
}

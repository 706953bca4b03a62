import Foundation
import Namespaces
import Netlink
import Testing

/// Every link kind, created with one RTM_NEWLINK and checked against `ip -j -d link`.
@Suite(.enabled(if: canCreateNamespaces, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root or in a user namespace)"))
struct LinkKindTests {
    @Test func vethPeerInAnotherNamespaceKnowsItsPeer() throws {
        try withNamespaces("a", "b") { ns in
            let (a, b) = (ns[0], ns[1])
            try a.socket.execute(.newLink(LinkSpec(name: "pa", kind: .veth(peer: VethPeer(name: "pb", namespaceFD: b.fd,
                                                    mac: MACAddress("02:00:00:00:0b:01"))))))
            try b.socket.execute(.setLink(name: "pb", LinkChange(alias: "far end"), what: "naming pb"))
            let pa = try a.socket.link(named: "pa")
            let pb = try b.socket.link(named: "pb")
            #expect(pa.kind == "veth" && pb.kind == "veth")
            // Each end's IFLA_LINK is the other's ifindex, in the other namespace.
            #expect(pa.link == pb.index)
            #expect(pb.link == pa.index)
            #expect(pa.linkNetnsID != nil)
            let ipb = try ipLink(b, "pb")
            #expect(ipb["address"] as? String == "02:00:00:00:0b:01")
            #expect(ipb["ifalias"] as? String == "far end")
            #expect(try b.socket.link(named: "pb").alias == "far end")
            #expect(try ipLinkNames(a) == ["lo", "pa"])
            #expect(try ipLinkNames(b) == ["lo", "pb"])
        }
    }

    /// Documents a kernel behaviour the API notes rely on: IFLA_IFALIAS is dropped at creation.
    /// If this starts failing, the kernel applies it, and the notes on `LinkSpec.alias` are outdated.
    @Test func aliasIsIgnoredAtCreation() throws {
        try withNamespaces("alias") { ns in
            let s = try ns[0].socket
            try s.execute(.newLink(LinkSpec(name: "al0", kind: .veth(peer: VethPeer(name: "al1", alias: "peer")), alias: "main")))
            #expect(try ipLink(ns[0], "al0")["ifalias"] == nil)
            #expect(try ipLink(ns[0], "al1")["ifalias"] == nil)
            try s.execute(.setLink(name: "al0", LinkChange(alias: "main"), what: "naming al0"))
            #expect(try ipLink(ns[0], "al0")["ifalias"] as? String == "main")
        }
    }

    @Test func bridgeWithSTPOffAndPorts() throws {
        try withNamespaces("br") { ns in
            let s = try ns[0].socket
            try s.execute(.newLink(LinkSpec(name: "br0", kind: .bridge(stp: false), up: true)))
            let br = try s.link(named: "br0").index
            // One port enslaved at creation, one with `ip link set … master`.
            try s.execute([
                .newLink(LinkSpec(name: "p0", kind: .veth(peer: VethPeer(name: "p0x")), master: br)),
                .newLink(LinkSpec(name: "p1", kind: .veth(peer: VethPeer(name: "p1x")))),
            ])
            try s.execute(.setLink(name: "p1", LinkChange(master: br), what: "enslaving p1"))
            let ipbr = try ipLink(ns[0], "br0")
            #expect((ipbr["linkinfo"] as? [String: Any])?["info_kind"] as? String == "bridge")
            #expect(infoData(ipbr)["stp_state"] as? Int == 0)
            for p in ["p0", "p1"] {
                #expect(try ipLink(ns[0], p)["master"] as? String == "br0", "\(p)")
                #expect(try s.link(named: p).master == br)
            }
            #expect(Set(try s.links(master: br).map(\.name)) == ["p0", "p1"])
            #expect(try ipLink(ns[0], "p0x")["master"] == nil)
        }
    }

    @Test func vxlanWithAllOptions() throws {
        try withNamespaces("vx") { ns in
            let s = try ns[0].socket
            try s.execute(.newLink(LinkSpec(name: "u0", kind: .veth(peer: VethPeer(name: "u1")), up: true)))
            let u0 = try s.link(named: "u0").index
            try s.execute(.newAddress(index: u0, IPPrefix("10.0.1.1/24")!))
            try s.execute(.newLink(LinkSpec(name: "vx0", kind: .vxlan(VXLANOptions(
                vni: 4242, remote: IPAddress("10.0.1.2"), local: IPAddress("10.0.1.1"), port: 8472,
                underlayIndex: u0, ttl: 9, learning: false)), mtu: 1450)))
            let d = infoData(try ipLink(ns[0], "vx0"))
            #expect(d["id"] as? Int == 4242)
            #expect(d["remote"] as? String == "10.0.1.2")
            #expect(d["local"] as? String == "10.0.1.1")
            #expect(d["port"] as? Int == 8472)
            #expect(d["link"] as? String == "u0")
            #expect(d["ttl"] as? Int == 9)
            #expect(d["learning"] as? Bool == false)
            #expect(try ipLink(ns[0], "vx0")["mtu"] as? Int == 1450)
            #expect(try s.link(named: "vx0").kind == "vxlan")
        }
    }

    @Test func macvlanOnAVeth() throws {
        try withNamespaces("mv") { ns in
            let s = try ns[0].socket
            try s.execute(.newLink(LinkSpec(name: "m0", kind: .veth(peer: VethPeer(name: "m1")))))
            let m0 = try s.link(named: "m0").index
            for mode in [MacvlanMode.bridge, .private, .vepa] {
                let name = "mv-\(mode.name.prefix(4))"
                try s.execute(.newLink(LinkSpec(name: name, kind: .macvlan(mode: mode), parent: m0)))
                let l = try ipLink(ns[0], name)
                #expect(infoData(l)["mode"] as? String == mode.name)
                #expect(l["link"] as? String == "m0")
                #expect(try s.link(named: name).link == m0)
            }
        }
    }

    @Test func ifb() throws {
        try withNamespaces("ifb") { ns in
            let s = try ns[0].socket
            try s.execute(.newLink(LinkSpec(name: "ifbt0", kind: .ifb, up: true)))
            let l = try ipLink(ns[0], "ifbt0")
            #expect((l["linkinfo"] as? [String: Any])?["info_kind"] as? String == "ifb")
            #expect((l["flags"] as? [String])?.contains("UP") == true)
            #expect(try s.link(named: "ifbt0").kind == "ifb")
        }
    }

    /// Kinds this kernel may lack: creating one either works or fails with "Unknown device type".
    @Test(arguments: ["dummy", "vlan", "vrf", "gre", "ipip", "wireguard", "bond", "ipvlan", "geneve", "sit", "ip6tnl", "gretap"])
    func optionalKinds(kindName: String) throws {
        try withNamespaces("k") { ns in
            let s = try ns[0].socket
            try s.execute(.newLink(LinkSpec(name: "base", kind: .veth(peer: VethPeer(name: "basex")))))
            let base = try s.link(named: "base").index
            let kind: LinkKind
            var parent: Int32? = nil
            switch kindName {
            case "dummy": kind = .dummy
            case "vlan": kind = .vlan(id: 10); parent = base
            case "ipvlan": kind = .ipvlan(mode: 0); parent = base
            case "vrf": kind = .vrf(table: 10)
            case "gre": kind = .gre(TunnelOptions(local: IPAddress("10.0.0.1"), remote: IPAddress("10.0.0.2")))
            case "gretap": kind = .gretap(TunnelOptions(local: IPAddress("10.0.0.1"), remote: IPAddress("10.0.0.2"), key: 5))
            case "ipip": kind = .ipip(TunnelOptions(local: IPAddress("10.0.0.1"), remote: IPAddress("10.0.0.2")))
            case "sit": kind = .sit(TunnelOptions(remote: IPAddress("10.0.0.2")))
            case "ip6tnl": kind = .ip6tnl(TunnelOptions(local: IPAddress("fd00::1"), remote: IPAddress("fd00::2")))
            case "geneve": kind = .geneve(vni: 5, remote: IPAddress("10.0.0.2")!)
            case "wireguard": kind = .wireguard
            case "bond": kind = .bond(mode: 0)
            default: Issue.record("unlisted kind"); return
            }
            #expect(kind.name == kindName)
            do {
                try s.execute(.newLink(LinkSpec(name: "opt0", kind: kind, parent: parent)))
                // This kernel has it: then it must really be there, with that kind.
                let l = try ipLink(ns[0], "opt0")
                #expect((l["linkinfo"] as? [String: Any])?["info_kind"] as? String == kindName)
            } catch let e as NetlinkError {
                #expect(e.isUnknownLinkKind, "\(e)")
                #expect(e.description.contains("type \(kindName)"))
                #expect(try ipLinkNames(ns[0]) == ["lo", "base", "basex"])
            }
        }
    }
}

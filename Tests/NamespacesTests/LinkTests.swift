import Foundation
import Namespaces
import Netlink
import Testing

@Suite(.enabled(if: canCreateNamespaces, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root or in a user namespace)"))
struct LinkTests {
    @Test func vethPeerCreatedDirectlyInOtherNamespace() throws {
        let a = try NetworkNamespace.create(label: "a")
        let b = try NetworkNamespace.create(label: "b")
        defer { a.close(); b.close() }
        try a.socket.execute(.newLink(LinkSpec(name: "va0", kind: .veth(peer: VethPeer(name: "vb0", namespaceFD: b.fd, mtu: 1400)),
                                               mtu: 1400, up: true)))
        try b.socket.execute(.setLink(name: "vb0", LinkChange(up: true), what: "setting vb0 up"))
        let la = try ipJSON(a, ["-d", "link", "show"])
        let lb = try ipJSON(b, ["-d", "link", "show"])
        #expect(ours(la.compactMap { $0["ifname"] as? String }) == ["lo", "va0"])
        #expect(ours(lb.compactMap { $0["ifname"] as? String }) == ["lo", "vb0"])
        let vb = try #require(lb.first { $0["ifname"] as? String == "vb0" })
        #expect(vb["mtu"] as? Int == 1400)
        #expect((vb["flags"] as? [String])?.contains("UP") == true)
        // Our own typed read agrees.
        let info = try b.socket.link(named: "vb0")
        #expect(info.kind == "veth")
        #expect(info.mtu == 1400)
        #expect(info.isUp)
    }

    @Test func addressesAndRoutes() throws {
        let a = try NetworkNamespace.create(label: "a")
        let b = try NetworkNamespace.create(label: "b")
        defer { a.close(); b.close() }
        try a.socket.execute(.newLink(LinkSpec(name: "eth0", kind: .veth(peer: VethPeer(name: "eth0", namespaceFD: b.fd)), up: true)))
        let idx = try a.socket.link(named: "eth0").index
        try a.socket.execute([
            .newAddress(index: idx, IPPrefix("10.0.1.1/24")!),
            .newAddress(index: idx, IPPrefix("fd00::1/64")!, noDAD: true),
            .newRoute(RouteInfo(family: AF.inet, destination: IPPrefix("10.9.0.0/16")!, gateway: IPAddress("10.0.1.2")!)),
        ])
        let addrs = try ipJSON(a, ["addr", "show", "dev", "eth0"])
        let infos = (addrs.first?["addr_info"] as? [[String: Any]]) ?? []
        #expect(infos.contains { $0["local"] as? String == "10.0.1.1" && $0["prefixlen"] as? Int == 24 })
        #expect(infos.contains { $0["local"] as? String == "fd00::1" && $0["tentative"] == nil })
        let routes = try ipJSON(a, ["route", "show"])
        #expect(routes.contains { $0["dst"] as? String == "10.9.0.0/16" && $0["gateway"] as? String == "10.0.1.2" })
        let mine = try a.socket.routes(family: AF.inet, table: RouteTable.main)
        #expect(mine.contains { $0.destination == IPPrefix("10.9.0.0/16") && $0.gateway == IPAddress("10.0.1.2") })
        let looked = try a.socket.lookupRoute(RouteQuery(destination: IPAddress("10.9.1.1")!))
        #expect(looked.gateway == IPAddress("10.0.1.2"))
        #expect(looked.outputIndex == idx)
    }

    @Test func kernelErrorsCarryContextAndExtack() throws {
        let a = try NetworkNamespace.create(label: "errs")
        defer { a.close() }
        do {
            try a.socket.execute(.newAddress(index: 9999, IPPrefix("10.0.0.1/24")!, what: "adding 10.0.0.1/24 to ghost"))
            Issue.record("expected an error")
        } catch let e as NetlinkError {
            #expect(e.errno == .operationNotSupportedByDevice)
            // Kernels before 6.3 give no text for this one.
            #expect(e.kernelMessage == "ipv4: Device not found" || (!kernelAtLeast(6, 3) && e.kernelMessage == nil))
            #expect(e.description.contains("adding 10.0.0.1/24 to ghost in ns errs (RTM_NEWADDR): No such device (ENODEV)"))
        }
        // A kind the kernel lacks is recognised as such; where it has the kind, the link exists.
        do {
            try a.socket.execute(.newLink(LinkSpec(name: "d0", kind: .dummy)))
            #expect(try a.socket.links().contains { $0.name == "d0" })
        } catch let e as NetlinkError {
            #expect(e.isUnknownLinkKind, "\(e)")
        }
    }
}

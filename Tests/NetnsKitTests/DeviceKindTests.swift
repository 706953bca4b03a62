import Foundation
import NetnsKit
import NetnsTesting
import Testing

/// The node devices (VRF, bond, ipvlan, GENEVE, ifb, tun, tap) as the kernel shows them
/// (`ip -d -j link`). Kinds this kernel lacks are skipped here with the reason, and run under
/// the kernel-matrix VM (Debian 6.1).
@Suite(.netnsPrivileges) struct DeviceKindTests {
    /// `ip -d -j link show` of a node, by interface name.
    func links(_ lab: Lab, _ node: String) throws -> [String: [String: Any]] {
        let all = try ipj(lab[node], ["-d", "link", "show"])
        return Dictionary(uniqueKeysWithValues: all.compactMap { l in (l["ifname"] as? String).map { ($0, l) } })
    }

    func info(_ link: [String: Any]?) -> (kind: String?, data: [String: Any]) {
        let li = link?["linkinfo"] as? [String: Any]
        return (li?["info_kind"] as? String, li?["info_data"] as? [String: Any] ?? [:])
    }

    func master(_ link: [String: Any]?) -> String? { link?["master"] as? String }

    @Test(.kernelHas(linkKind: "vrf")) func vrfWithMembers() throws {
        let lab = try Lab.up(Topology("vrfs") {
            Router("r") {
                VRF("blue", table: 10, members: ["eth0"])
                VRF("red", table: 20, members: ["eth1"])
            }
            Host("h1") { Address("10.70.0.2/24") }
            Host("h2") { Address("10.70.0.2/24") }
            Link("h1", "r", bAddress: "10.70.0.1/24")
            Link("h2", "r", bAddress: "10.70.0.1/24")
        })
        defer { lab.down() }
        let l = try links(lab, "r")
        #expect(info(l["blue"]).kind == "vrf")
        #expect(info(l["blue"]).data["table"] as? Int == 10)
        #expect(info(l["red"]).data["table"] as? Int == 20)
        #expect(master(l["eth0"]) == "blue")
        #expect(master(l["eth1"]) == "red")
        #expect((l["blue"]?["operstate"] as? String) == "UP")
        // The kernel moved each member's connected route into its VRF's table.
        let t10 = try ipj(lab["r"], ["route", "show", "table", "10"]).compactMap { $0["dst"] as? String }
        #expect(t10.contains("10.70.0.0/24"), "\(t10)")
        // The l3mdev rule the kernel added with the first VRF (`ip -j` shows it as `"l3mdev": null`).
        let rules = try ipj(lab["r"], ["rule", "show"])
        #expect(rules.contains { $0.keys.contains("l3mdev") }, "\(rules)")
    }

    @Test(.kernelHas(linkKind: "bond")) func activeBackupBond() async throws {
        let lab = try await Lab.up(Topology("bonds") {
            Host("a") {
                Bond("bond0", mode: .activeBackup, miimon: 100, primary: "eth1", ports: ["eth0", "eth1"])
                Address("10.71.0.1/24", on: "bond0")
            }
            Switch("sw")
            Host("b") { Address("10.71.0.2/24") }
            Link("a:eth0", "sw")
            Link("a:eth1", "sw")
            Link("b", "sw")
        })
        defer { lab.down() }
        let l = try links(lab, "a")
        let bond = info(l["bond0"])
        #expect(bond.kind == "bond")
        #expect(bond.data["mode"] as? String == "active-backup")
        #expect(bond.data["miimon"] as? Int == 100)
        #expect(bond.data["primary"] as? String == "eth1")
        #expect(master(l["eth0"]) == "bond0")
        #expect(master(l["eth1"]) == "bond0")
        #expect((l["eth0"]?["operstate"] as? String) == "UP")
        try await lab["a"].expectReachable("10.71.0.2")
    }

    @Test(.kernelHas(linkKind: "ipvlan")) func ipvlanOnAVeth() async throws {
        let lab = try await Lab.up(Topology("ipvlans") {
            Host("a") { IPVLAN("iv0", on: "eth0", mode: .l2); Address("10.72.0.11/24", on: "iv0") }
            Host("b") { Address("10.72.0.2/24") }
            Link("a", "b")
        })
        defer { lab.down() }
        let l = try links(lab, "a")
        #expect(info(l["iv0"]).kind == "ipvlan")
        #expect(info(l["iv0"]).data["mode"] as? String == "l2")
        #expect(l["iv0"]?["link"] as? String == "eth0")
        try await lab["b"].expectReachable("10.72.0.11")
    }

    @Test(.kernelHas(linkKind: "geneve")) func geneveEndpoint() async throws {
        let lab = try await Lab.up(Topology("geneves") {
            Host("a") { GENEVE("gn0", vni: 77, remote: "10.73.0.2", port: 6081, ttl: 9); Address("10.74.0.1/24", on: "gn0") }
            Host("b") { GENEVE("gn0", vni: 77, remote: "10.73.0.1", ttl: 9); Address("10.74.0.2/24", on: "gn0") }
            Link("a", "b", aAddress: "10.73.0.1/24", bAddress: "10.73.0.2/24")
        })
        defer { lab.down() }
        let g = info(try links(lab, "a")["gn0"])
        #expect(g.kind == "geneve")
        #expect(g.data["id"] as? Int == 77)
        #expect(g.data["remote"] as? String == "10.73.0.2")
        #expect(g.data["ttl"] as? Int == 9)
        #expect(g.data["port"] as? Int == 6081)
        try await lab["a"].expectReachable("10.74.0.2")
    }

    @Test(.kernelHas(linkKind: "ifb")) func ifbDevice() throws {
        let lab = try Lab.up(Topology("ifbs") { Host("a") { IFB("ifb0", mtu: 1400) } })
        defer { lab.down() }
        let l = try links(lab, "a")
        #expect(info(l["ifb0"]).kind == "ifb")
        #expect(l["ifb0"]?["mtu"] as? Int == 1400)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/net/tun"), "this machine has no /dev/net/tun"))
    func tunAndTap() throws {
        let lab = try Lab.up(Topology("tuntaps") {
            Host("a") { Tun("tun0"); Tap("tap0", mtu: 1400); Address("10.75.0.1/24", on: "tap0") }
        })
        defer { lab.down() }
        let l = try links(lab, "a")
        // `ip -d` shows a tun/tap device's mode in its info data.
        #expect(info(l["tun0"]).kind == "tun")
        #expect(info(l["tun0"]).data["type"] as? String == "tun")
        #expect(info(l["tap0"]).data["type"] as? String == "tap")
        #expect(l["tap0"]?["mtu"] as? Int == 1400)
        #expect(l["tun0"]?["flags"] as? [String] != nil)
        let addrs = try ipj(lab["a"], ["addr", "show", "dev", "tap0"]).first?["addr_info"] as? [[String: Any]] ?? []
        #expect(addrs.contains { $0["local"] as? String == "10.75.0.1" })
    }
}

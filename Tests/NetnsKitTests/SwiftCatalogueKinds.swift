import NetnsKit

/// The catalogue scenarios of the kinds the development kernel lacks (they skip there and pass
/// under the kernel-matrix 6.1 kernel), in their Swift spelling.
extension SwiftCatalogue {
    // MARK: 10.28 — a loopback prefix on a dummy

    static let loopbackPrefix = Scenario(
        name: "loopback-prefix",
        summary: "A router's loopback address on a dummy interface, reached from a host",
        description: """
            Router r has a dummy interface lo1 holding its loopback address 10.28.255.1/32, besides its \
            link address 10.28.0.1/24 towards h1 (10.28.0.2/24). h1 routes 10.28.255.0/24 via r, so it \
            reaches the loopback address, which r answers from lo1.
            """,
        topology: Topology("loopback-prefix") {
            Router("r") { Dummy("lo1"); Address("10.28.255.1/32", on: "lo1") }
            Host("h1") { Address("10.28.0.2/24"); Route("10.28.255.0/24", via: "10.28.0.1") }
            Link("h1:eth0", "r:eth0", bAddress: "10.28.0.1/24")
        },
        expectations: [
            .link(in: "r", name: "lo1", up: true),
            .address(in: "r", prefix: "10.28.255.1/32", on: "lo1"),
            .route(in: "h1", to: "10.28.255.1", via: "10.28.0.1", dev: "eth0"),
            .reachable(from: "h1", to: "10.28.255.1"),
        ],
        verifications: [
            Verification(in: "r", ["ip", "-d", "link", "show", "lo1"], outputContains: ["dummy"]),
        ],
        requires: ["dummy"])

    // MARK: 10.25 — a GRE tunnel across a router

    static let greTunnel = Scenario(
        name: "gre-tunnel",
        summary: "A GRE tunnel between two hosts across a router, with its MTU",
        description: """
            h1 (10.25.1.2) and h2 (10.25.2.2) sit on two subnets of router r; the GRE tunnel gre1 joins \
            them across r, with overlay addresses 10.25.9.1/30 and 10.25.9.2/30. GRE adds 24 bytes (a \
            20-byte outer IPv4 header and a 4-byte GRE header), so the tunnel's MTU is 1476: a DF ping of \
            1448 bytes through it (a 1476-byte inner packet) passes, one of 1449 bytes does not.
            """,
        topology: Topology("gre-tunnel") {
            Host("h1") { Address("10.25.1.2/24"); Route(.default, via: "10.25.1.1") }
            Router("r")
            Host("h2") { Address("10.25.2.2/24"); Route(.default, via: "10.25.2.1") }
            Link("h1:eth0", "r:eth0", bAddress: "10.25.1.1/24")
            Link("r:eth1", "h2:eth0", aAddress: "10.25.2.1/24")
            Tunnel("gre1", .gre, between: "h1", "h2", aAddress: "10.25.9.1/30", bAddress: "10.25.9.2/30", ttl: 64)
        },
        expectations: [
            .link(in: "h1", name: "gre1", up: true, mtu: 1476),
            .route(in: "h1", to: "10.25.9.2", dev: "gre1"),
            .reachable(from: "h1", to: "10.25.9.2"),
            .pingSize(from: "h1", to: "10.25.9.2", size: 1448, succeeds: true),
            .pingSize(from: "h1", to: "10.25.9.2", size: 1449, succeeds: false),
        ],
        requires: ["gre"])

    // MARK: 10.23 — two VRFs with overlapping addresses

    static let vrf = Scenario(
        name: "vrf",
        summary: "Two VRFs with overlapping addresses on one router",
        description: """
            Router r has two VRFs, blue (table 10) with member eth0 towards h1 and red (table 20) with \
            member eth1 towards h2. Both sides use the same subnet: h1 and h2 are both 10.23.0.2/24 and r \
            is 10.23.0.1/24 on each member. The kernel adds the l3mdev rule with the first VRF and moves \
            each member's connected routes into its VRF's table, so the same address is looked up to eth0 \
            in blue and to eth1 in red, and each host reaches the router's address on its own side.
            """,
        topology: Topology("vrf") {
            Router("r") {
                VRF("blue", table: 10, members: ["eth0"])
                VRF("red", table: 20, members: ["eth1"])
            }
            Host("h1") { Address("10.23.0.2/24") }
            Host("h2") { Address("10.23.0.2/24") }
            Link("h1:eth0", "r:eth0", bAddress: "10.23.0.1/24")
            Link("h2:eth0", "r:eth1", bAddress: "10.23.0.1/24")
        },
        expectations: [
            .master(in: "r", name: "eth0", master: "blue"),
            .master(in: "r", name: "eth1", master: "red"),
            .route(in: "r", to: "10.23.0.2", dev: "eth0", vrf: "blue"),
            .route(in: "r", to: "10.23.0.2", dev: "eth1", vrf: "red"),
            .reachable(from: "h1", to: "10.23.0.1"),
            .reachable(from: "h2", to: "10.23.0.1"),
        ],
        verifications: [
            Verification(in: "r", ["ip", "rule", "show"], outputContains: ["1000:", "lookup [l3mdev-table]"]),
            Verification(in: "r", ["ip", "route", "show", "table", "10"], outputContains: ["10.23.0.0/24 dev eth0"]),
            Verification(in: "r", ["ip", "route", "show", "table", "20"], outputContains: ["10.23.0.0/24 dev eth1"]),
        ],
        requires: ["vrf"])

    // MARK: 10.24 — an active-backup bond

    static let bond = Scenario(
        name: "bond",
        summary: "An active-backup bond over two veths to a switch",
        description: """
            h1 bonds eth0 and eth1 into bond0 (active-backup, miimon 100 ms, primary eth0) with \
            10.24.0.1/24 on the bond; both ports are veths to switch sw, where h2 (10.24.0.2/24) has a \
            port too. Both veths are ports of the bond, the primary is the active one, and traffic flows \
            both ways through the bond.
            """,
        topology: Topology("bond") {
            Host("h1") {
                Address("10.24.0.1/24", on: "bond0")
                Bond("bond0", mode: .activeBackup, miimon: 100, primary: "eth0", ports: ["eth0", "eth1"])
            }
            Switch("sw")
            Host("h2") { Address("10.24.0.2/24") }
            Link("h1:eth0", "sw:p1")
            Link("h1:eth1", "sw:p2")
            Link("h2:eth0", "sw:p3")
        },
        expectations: [
            .master(in: "h1", name: "eth0", master: "bond0"),
            .master(in: "h1", name: "eth1", master: "bond0"),
            .link(in: "h1", name: "bond0", up: true),
            .reachable(from: "h1", to: "10.24.0.2"),
            .reachable(from: "h2", to: "10.24.0.1"),
        ],
        verifications: [
            Verification(in: "h1", ["ip", "-d", "link", "show", "bond0"],
                         outputContains: ["bond mode active-backup", "active_slave eth0", "miimon 100", "primary eth0"]),
        ],
        requires: ["bond"])

    // MARK: 10.26 — an 802.1Q trunk to a router on a stick

    static let vlanTrunk = Scenario(
        name: "vlan-trunk",
        summary: "An 802.1Q trunk through a VLAN-filtering bridge to a router on a stick",
        description: """
            Switch sw's bridge br0 filters VLANs: access port p1 (h1, 10.26.10.2) is in VLAN 10, p2 (h2, \
            10.26.20.2) in VLAN 20, p3 (h3) in VLAN 30, and the trunk port carries VLANs 10 and 20 tagged \
            to router r, which routes between them on eth0.10 (10.26.10.1) and eth0.20 (10.26.20.1). h1 \
            and h2 reach each other through the router; h3 is configured for VLAN 10's subnet but plugged \
            into VLAN 30, so it reaches neither the router nor h1.
            """,
        topology: Topology("vlan-trunk") {
            Switch("sw") {
                Bridge("br0", vlanFiltering: true) {
                    Port("p1", pvid: 10)
                    Port("p2", pvid: 20)
                    Port("p3", pvid: 30)
                    Port("trunk", vlans: [10, 20])
                }
            }
            Router("r") {
                VLAN(10, on: "eth0")
                VLAN(20, on: "eth0")
                Address("10.26.10.1/24", on: "eth0.10")
                Address("10.26.20.1/24", on: "eth0.20")
            }
            Host("h1") { Address("10.26.10.2/24"); Route(.default, via: "10.26.10.1") }
            Host("h2") { Address("10.26.20.2/24"); Route(.default, via: "10.26.20.1") }
            Host("h3") { Address("10.26.10.3/24"); Route(.default, via: "10.26.10.1") }
            Link("h1:eth0", "sw:p1")
            Link("h2:eth0", "sw:p2")
            Link("h3:eth0", "sw:p3")
            Link("r:eth0", "sw:trunk")
        },
        expectations: [
            .reachable(from: "h1", to: "10.26.10.1"),
            .reachable(from: "h2", to: "10.26.20.1"),
            .reachable(from: "h1", to: "10.26.20.2"),
            .reachable(from: "h2", to: "10.26.10.2"),
            .unreachable(from: "h3", to: "10.26.10.1", reason: .any),
            .unreachable(from: "h3", to: "10.26.10.2", reason: .any),
        ],
        verifications: [
            Verification(in: "sw", ["bridge", "vlan", "show", "dev", "p1"], outputContains: ["10 PVID Egress Untagged"]),
            Verification(in: "sw", ["bridge", "vlan", "show", "dev", "trunk"], outputContains: ["20"]),
        ],
        requires: ["bridge VLAN filtering", "vlan"])

    // MARK: 10.27 — a netem delay, measured

    static let netemDelay = Scenario(
        name: "netem-delay",
        summary: "A netem delay on one link, measured in the round-trip time",
        description: """
            Host h1 has two links: eth0 to h2 (10.27.1.0/24), with a root netem qdisc on h1's end delaying \
            every packet by 200 ms, and eth1 to h3 (10.27.2.0/24) without one. A ping from h1 to h2 takes at \
            least 200 ms (the request waits in h1's qdisc), so does one from h2 to h1 (the reply waits), \
            while a ping from h1 to h3 comes back in well under 150 ms.
            """,
        topology: Topology("netem-delay") {
            Host("h1") {
                Address("10.27.1.1/24", on: "eth0")
                Address("10.27.2.1/24", on: "eth1")
                Qdisc(.netem(delay: .milliseconds(200)), on: "eth0")
            }
            Host("h2") { Address("10.27.1.2/24") }
            Host("h3") { Address("10.27.2.3/24") }
            Link("h1:eth0", "h2:eth0")
            Link("h1:eth1", "h3:eth0")
        },
        expectations: [
            .rtt(from: "h1", to: "10.27.1.2", min: .milliseconds(200)),
            .rtt(from: "h2", to: "10.27.1.1", min: .milliseconds(200)),
            .rtt(from: "h1", to: "10.27.2.3", max: .milliseconds(150)),
        ],
        verifications: [
            Verification(in: "h1", ["tc", "qdisc", "show", "dev", "eth0"], outputContains: ["qdisc netem", "delay 200ms"]),
        ],
        requires: ["netem"], serial: true)
}

import NetnsKit

/// The built-in catalogue as it was written in Swift before it moved to Scenarios/catalogue/*.yaml:
/// kept as the Swift spelling of the same scenarios, so a test can show that each file and its
/// Swift declaration are one value (the DSL's `for` loops and the files' `repeat` blocks included).
enum SwiftCatalogue {
    /// Every scenario, simplest first.
    static let all: [Scenario] = [
        twoHosts, bridge, router, staticChain, ecmp, policyRouting, vxlanOverlay, dualStack, macvlan,
        rejectRoutes, mtuMismatch, firewall, rateLimit, loopbackPrefix, greTunnel, vrf, bond, vlanTrunk,
        netemDelay, linkFlap, ospfBird,
    ]

    /// The scenario with this name.
    static func named(_ name: String) -> Scenario? { all.first { $0.name == name } }


    // MARK: 10.10 — two hosts

    static let twoHosts = Scenario(
        name: "two-hosts",
        summary: "Two hosts on one veth pair",
        description: """
            The smallest lab: h1 (10.10.0.1/24) and h2 (10.10.0.2/24) joined by one veth pair. \
            Both ends are up and each host answers the other's ping.
            """,
        topology: Topology("two-hosts") {
            Host("h1") { Address("10.10.0.1/24") }
            Host("h2") { Address("10.10.0.2/24") }
            Link("h1:eth0", "h2:eth0")
        },
        expectations: [
            .link(in: "h1", name: "eth0", up: true, mtu: 1500),
            .reachable(from: "h1", to: "10.10.0.2"),
            .reachable(from: "h2", to: "10.10.0.1"),
            // Checks run in order: the pings above left state that these look at.
            .counters(in: "h1", name: "eth0", minRxPackets: 1, minTxPackets: 1),
            .neighbor(in: "h1", address: "10.10.0.2", states: ["REACHABLE", "STALE", "DELAY", "PROBE"]),
        ],
        steps: [
            .change(.send(node: "h1", TrafficBurst(to: IPAddress("10.10.0.2")!, count: 500, source: IPAddress("10.10.0.1")!))),
            .expect(.counters(in: "h2", name: "eth0", minRxPackets: 500), within: .seconds(2)),
        ])

    // MARK: 10.11 — a bridge with four hosts

    static let bridge = Scenario(
        name: "bridge",
        summary: "A bridge (switch) with four hosts on one subnet",
        description: """
            A switch node holds bridge br0; h1…h4 (10.11.0.1–4/24) each have a veth whose switch end \
            is a port of br0. Every host reaches the others through the bridge.
            """,
        topology: Topology("bridge") {
            Switch("sw")
            for i in 1...4 {
                Host("h\(i)") { Address("10.11.0.\(i)/24") }
                Link("h\(i):eth0", "sw:p\(i)")
            }
        },
        expectations: [
            .link(in: "sw", name: "br0", up: true),
            .master(in: "sw", name: "p1", master: "br0"),
            .linkAttributes(LinkAttributesExpectation(in: "sw", name: "p1", up: true, master: "br0", kind: "veth")),
            .linkAttributes(LinkAttributesExpectation(in: "sw", name: "br0", kind: "bridge", ageing: .seconds(300),
                                                      data: ["stp_state": "0"])),
            .master(in: "h1", name: "eth0", master: nil),
            .reachable(from: "h1", to: "10.11.0.2"),
            .reachable(from: "h1", to: "10.11.0.3"),
            .reachable(from: "h1", to: "10.11.0.4"),
            .reachable(from: "h4", to: "10.11.0.2"),
            .fdb(FDBExpectation(in: "sw", mac: .of(node: "h1", interface: "eth0"), port: "p1", learned: true)),
            .fdb(FDBExpectation(in: "sw", mac: .of(node: "h1", interface: "eth0"), present: false, port: "p2")),
        ],
        requires: ["bridge"])

    // MARK: 10.12 — a router between two subnets

    static let router = Scenario(
        name: "router",
        summary: "A router forwarding between two subnets",
        description: """
            h1 (10.12.1.2/24) and h2 (10.12.2.2/24) sit on two subnets joined by router r1 (.1 on each), \
            which forwards (ip_forward=1). Each host's default route points at r1.
            """,
        topology: Topology("router") {
            Host("h1") { Address("10.12.1.2/24"); Route(.default, via: "10.12.1.1") }
            Router("r1")
            Host("h2") { Address("10.12.2.2/24"); Route(.default, via: "10.12.2.1") }
            Link("h1:eth0", "r1:eth0", bAddress: "10.12.1.1/24")
            Link("r1:eth1", "h2:eth0", aAddress: "10.12.2.1/24")
        },
        expectations: [
            .sysctl(in: "r1", key: "net.ipv4.ip_forward", value: "1"),
            .route(in: "h1", to: "10.12.2.2", via: "10.12.1.1", dev: "eth0"),
            .reachable(from: "h1", to: "10.12.2.2"),
            .reachable(from: "h2", to: "10.12.1.2"),
            // Pings with options: three from h1's own address out of eth0; with TTL 1 the router answers
            // "time exceeded" (ICMP type 11 code 0) itself.
            .ping(from: "h1", to: IPAddress("10.12.2.2")!,
                  options: PingOptions(count: 3, source: IPAddress("10.12.1.2")!, interface: "eth0")),
            .ping(from: "h1", to: IPAddress("10.12.2.2")!, options: PingOptions(ttl: 1),
                  failure: PingFailureExpectation(reason: .unreachable, reporter: IPAddress("10.12.1.1")!, icmpType: 11, icmpCode: 0)),
        ])

    // MARK: 10.13 — a chain of four routers with full static routes

    /// Chain h1 – r1 – r2 – r3 – r4 – h2; subnet k (0…4) joins chain members k and k+1,
    /// whose ends are 10.13.k.1 (left) and 10.13.k.2 (right).
    static let staticChain = Scenario(
        name: "static-chain",
        summary: "Four routers in a row with full static routes (no defaults between routers)",
        description: """
            h1 – r1 – r2 – r3 – r4 – h2 over five /24s (10.13.0.0 … 10.13.4.0). Subnet k joins chain \
            members k and k+1 at 10.13.k.1 and 10.13.k.2. Every router has an explicit route to every \
            subnet it is not attached to, pointing left or right; hosts use a default route. \
            Traffic crosses all four routers both ways.
            """,
        topology: Topology("static-chain") {
            Host("h1") { Address("10.13.0.1/24"); Route(.default, via: "10.13.0.2") }
            for i in 1...4 {
                Router("r\(i)") {
                    for k in 0...4 where k < i - 1 { Route("10.13.\(k).0/24", via: "10.13.\(i - 1).1") }
                    for k in 0...4 where k > i { Route("10.13.\(k).0/24", via: "10.13.\(i).2") }
                }
            }
            Host("h2") { Address("10.13.4.2/24"); Route(.default, via: "10.13.4.1") }
            Link("h1:eth0", "r1:eth0", bAddress: "10.13.0.2/24")
            for i in 1...3 {
                Link("r\(i):eth1", "r\(i + 1):eth0", aAddress: "10.13.\(i).1/24", bAddress: "10.13.\(i).2/24")
            }
            Link("r4:eth1", "h2:eth0", aAddress: "10.13.4.1/24")
        },
        expectations: [
            .route(in: "r1", to: "10.13.4.2", via: "10.13.1.2", dev: "eth1"),
            .route(in: "r2", to: "10.13.4.2", via: "10.13.2.2", dev: "eth1"),
            .route(in: "r3", to: "10.13.0.1", via: "10.13.2.1", dev: "eth0"),
            .route(in: "r4", to: "10.13.0.1", via: "10.13.3.1", dev: "eth0"),
            .reachable(from: "h1", to: "10.13.4.2"),
            .reachable(from: "h2", to: "10.13.0.1"),
        ])

    // MARK: 10.14 — ECMP

    static let ecmp = Scenario(
        name: "ecmp",
        summary: "Equal-cost multipath over two parallel links",
        description: """
            r1 and r2 are joined by two links (10.14.1.0/24 on eth1, 10.14.2.0/24 on eth2); each has a \
            multipath route with one next hop per link to the far host's subnet. With \
            fib_multipath_hash_policy=1 (layer-4 hash) route lookups for 64 flows (UDP source ports) \
            use both links; h1 (10.14.0.1) reaches h2 (10.14.3.2) across them.
            """,
        topology: Topology("ecmp") {
            Host("h1") { Address("10.14.0.1/24"); Route(.default, via: "10.14.0.2") }
            Router("r1") {
                Sysctl("net.ipv4.fib_multipath_hash_policy", "1")
                Route("10.14.3.0/24", nexthops: [Nexthop(via: "10.14.1.2"), Nexthop(via: "10.14.2.2")])
            }
            Router("r2") {
                Sysctl("net.ipv4.fib_multipath_hash_policy", "1")
                Route("10.14.0.0/24", nexthops: [Nexthop(via: "10.14.1.1"), Nexthop(via: "10.14.2.1")])
            }
            Host("h2") { Address("10.14.3.2/24"); Route(.default, via: "10.14.3.1") }
            Link("h1:eth0", "r1:eth0", bAddress: "10.14.0.2/24")
            Link("r1:eth1", "r2:eth1", aAddress: "10.14.1.1/24", bAddress: "10.14.1.2/24")
            Link("r1:eth2", "r2:eth2", aAddress: "10.14.2.1/24", bAddress: "10.14.2.2/24")
            Link("r2:eth0", "h2:eth0", aAddress: "10.14.3.1/24")
        },
        expectations: [
            .multipathSpread(in: "r1", to: "10.14.3.2", devices: ["eth1", "eth2"]),
            .multipathSpread(in: "r2", to: "10.14.0.1", devices: ["eth1", "eth2"]),
            .reachable(from: "h1", to: "10.14.3.2"),
            .reachable(from: "h2", to: "10.14.0.1"),
            .multipath(in: "r1", MultipathCheck(to: IPAddress("10.14.3.2")!, devices: [], mode: .stable, flows: 32)),
            .multipath(in: "r1", MultipathCheck(to: IPAddress("10.14.3.2")!, devices: ["eth1", "eth2"], from: IPAddress("10.14.0.10")!,
                                                sources: 32, iif: "eth0", sports: 5000...5000)),
            .multipath(in: "r1", MultipathCheck(to: IPAddress("10.14.3.2")!, devices: ["eth1", "eth2"], mode: .split, flows: 64,
                                                sender: "h1")),
            .routes(in: "r1", RouteFilter(to: "10.14.3.0/24", protocol: "static", nexthops: 2)),
        ])

    // MARK: 10.15 — source-based policy routing

    static let policyRouting = Scenario(
        name: "policy-routing",
        summary: "Source-based policy routing: one LAN leaves by isp1, the other by isp2",
        description: """
            Router edge has two LANs (h1 on 10.15.1.0/24, h2 on 10.15.2.0/24) and two uplinks, to isp1 \
            (10.15.10.0/30) and isp2 (10.15.20.0/30), which both reach server s (10.15.100.10) on a \
            shared segment. The main table's default goes to isp1; a rule sends traffic from \
            10.15.2.0/24 to table 100, whose default goes to isp2. Route lookups with each source, \
            including forwarded ones (`ip route get … from … iif …`), show each LAN taking its path.
            """,
        topology: Topology("policy-routing") {
            Host("h1") { Address("10.15.1.2/24"); Route(.default, via: "10.15.1.1") }
            Host("h2") { Address("10.15.2.2/24"); Route(.default, via: "10.15.2.1") }
            Router("edge") {
                Route(.default, via: "10.15.10.2")
                Route(.default, via: "10.15.20.2", table: 100)
                Rule(priority: 100, from: "10.15.2.0/24", table: 100)
                Rule(priority: 200, fwmark: 0x10, fwmask: 0xff, ipproto: 17, dport: PortRange(5000...5010), table: 100)
                Rule(priority: 300, from: "10.15.1.0/24", to: "10.15.100.0/24", tos: 16, table: 100)
                Rule(priority: 500, to: "10.15.99.0/24", iif: "eth0", action: .prohibit)
            }
            Router("isp1") { Route("10.15.0.0/16", via: "10.15.10.1") }
            Router("isp2") { Route("10.15.0.0/16", via: "10.15.20.1") }
            Switch("core")
            Host("s") {
                Address("10.15.100.10/24")
                Route("10.15.1.0/24", via: "10.15.100.1")
                Route("10.15.2.0/24", via: "10.15.100.2")
            }
            Link("h1:eth0", "edge:eth0", bAddress: "10.15.1.1/24")
            Link("h2:eth0", "edge:eth1", bAddress: "10.15.2.1/24")
            Link("edge:eth2", "isp1:eth0", aAddress: "10.15.10.1/30", bAddress: "10.15.10.2/30")
            Link("edge:eth3", "isp2:eth0", aAddress: "10.15.20.1/30", bAddress: "10.15.20.2/30")
            Link("isp1:eth1", "core:p1", aAddress: "10.15.100.1/24")
            Link("isp2:eth1", "core:p2", aAddress: "10.15.100.2/24")
            Link("s:eth0", "core:p3")
        },
        expectations: [
            .rule(in: "edge", from: "10.15.2.0/24", table: 100, priority: 100),
            .route(in: "edge", to: "10.15.100.10", from: "10.15.1.1", via: "10.15.10.2", dev: "eth2"),
            .route(in: "edge", to: "10.15.100.10", from: "10.15.2.1", via: "10.15.20.2", dev: "eth3"),
            .reachable(from: "h1", to: "10.15.100.10"),
            .reachable(from: "h2", to: "10.15.100.10"),
            .rule(in: "edge", Rule(priority: 200, fwmark: 0x10, fwmask: 0xff, ipproto: 17, dport: PortRange(5000...5010), table: 100)),
            .rule(in: "edge", Rule(from: "10.15.1.0/24", to: "10.15.100.0/24", tos: 16, table: 100)),
            .rule(in: "edge", Rule(to: "10.15.99.0/24", iif: "eth0", action: .prohibit)),
            .route(in: "edge", RouteLookup("10.15.100.10", mark: 0x10, ipproto: 17, dport: 5005, via: "10.15.20.2", dev: "eth3", table: 100)),
            .route(in: "edge", RouteLookup("10.15.100.10", mark: 0x10, ipproto: 17, dport: 6000, via: "10.15.10.2", dev: "eth2", table: 254)),
            .route(in: "edge", RouteLookup("10.15.100.10", from: "10.15.1.1", tos: 16, dev: "eth3", table: 100)),
            .route(in: "edge", RouteLookup("10.15.99.1", from: "10.15.1.2", iif: "eth0", error: .permissionDenied)),
        ],
        verifications: [
            Verification(in: "edge", ["ip", "route", "get", "10.15.100.10", "from", "10.15.1.2", "iif", "eth0"],
                         outputContains: ["via 10.15.10.2 dev eth2"]),
            Verification(in: "edge", ["ip", "route", "get", "10.15.100.10", "from", "10.15.2.2", "iif", "eth1"],
                         outputContains: ["via 10.15.20.2 dev eth3", "table 100"]),
        ],
        requires: ["bridge"])

    // MARK: 10.16 — VXLAN over a routed underlay

    static let vxlanOverlay = Scenario(
        name: "vxlan-overlay",
        summary: "A VXLAN overlay between two VTEPs across a router",
        description: """
            VTEPs v1 (10.16.1.2) and v2 (10.16.2.2) are on different subnets joined by router r1. \
            VXLAN vx0 (VNI 16, UDP 4789) between them carries overlay subnet 10.16.100.0/24 \
            (v1 .1, v2 .2); the overlay addresses reach each other through the routed underlay.
            """,
        topology: Topology("vxlan-overlay") {
            Host("v1") { Address("10.16.1.2/24"); Route(.default, via: "10.16.1.1") }
            Router("r1")
            Host("v2") { Address("10.16.2.2/24"); Route(.default, via: "10.16.2.1") }
            Link("v1:eth0", "r1:eth0", bAddress: "10.16.1.1/24")
            Link("r1:eth1", "v2:eth0", aAddress: "10.16.2.1/24")
            VXLAN("vx0", between: "v1", "v2", vni: 16, aUnderlay: "10.16.1.2", bUnderlay: "10.16.2.2",
                  aAddress: "10.16.100.1/24", bAddress: "10.16.100.2/24")
        },
        expectations: [
            .link(in: "v1", name: "vx0", up: true),
            .route(in: "v1", to: "10.16.100.2", dev: "vx0"),
            .reachable(from: "v1", to: "10.16.2.2"),
            .reachable(from: "v1", to: "10.16.100.2"),
            .reachable(from: "v2", to: "10.16.100.1"),
        ],
        requires: ["vxlan"])

    // MARK: 10.17 — dual stack

    static let dualStack = Scenario(
        name: "dual-stack",
        summary: "IPv4 and IPv6 across one router",
        description: """
            h1 and h2 have IPv4 (10.17.1.0/24, 10.17.2.0/24) and IPv6 (fd00:17:1::/64, fd00:17:2::/64) \
            addresses, without DAD, and default routes of both families via router r1, which forwards both.
            """,
        topology: Topology("dual-stack") {
            Host("h1") {
                Address("10.17.1.2/24"); Address("fd00:17:1::2/64")
                Route(.default, via: "10.17.1.1"); Route(.default, via: "fd00:17:1::1")
            }
            Router("r1")
            Host("h2") {
                Address("10.17.2.2/24"); Address("fd00:17:2::2/64")
                Route(.default, via: "10.17.2.1"); Route(.default, via: "fd00:17:2::1")
            }
            Link("h1:eth0", "r1:eth0", bAddresses: ["10.17.1.1/24", "fd00:17:1::1/64"])
            Link("r1:eth1", "h2:eth0", aAddresses: ["10.17.2.1/24", "fd00:17:2::1/64"])
        },
        expectations: [
            .address(in: "h1", prefix: "fd00:17:1::2/64", on: "eth0"),
            .addressFlags(AddressFlagsExpectation(in: "h1", prefix: IPPrefix("fd00:17:1::2/64")!, on: "eth0",
                                                  flags: [.nodad, .permanent], notFlags: [.tentative])),
            .addressCount(AddressCountExpectation(in: "h1", on: "eth0", family: .ipv6, scope: .global, count: 1)),
            .sysctl(in: "r1", key: "net.ipv6.conf.all.forwarding", value: "1"),
            .route(in: "h1", to: "fd00:17:2::2", via: "fd00:17:1::1"),
            .reachable(from: "h1", to: "10.17.2.2"),
            .reachable(from: "h1", to: "fd00:17:2::2"),
            .reachable(from: "h2", to: "10.17.1.2"),
            .reachable(from: "h2", to: "fd00:17:1::2"),
            .refused(RefusedChangeExpectation(.addRoute(node: "h1", Route("fd00:99::/64", via: "fe80::1")), errno: .invalidArgument,
                                              extack: "Egress device not specified")),
            .refused(RefusedChangeExpectation(.setMTU(node: "h1", link: "eth0", mtu: 70000), errno: .invalidArgument,
                                              extack: "mtu greater than device maximum")),
        ])

    // MARK: 10.18 — macvlan

    static let macvlan = Scenario(
        name: "macvlan",
        summary: "Two bridge-mode macvlans on one uplink, reached from another host",
        description: """
            Node hv has an uplink eth0 (no address) to h2 (10.18.0.2/24) and two bridge-mode macvlans \
            on it, mv0 (10.18.0.11) and mv1 (10.18.0.12), each with its own MAC. h2 reaches both \
            macvlan addresses over the one veth, and hv reaches h2. (Both macvlans live in one \
            namespace, so traffic between them is local delivery, not macvlan bridging.)
            """,
        topology: Topology("macvlan") {
            Host("hv") {
                Macvlan("mv0", on: "eth0", mode: .bridge)
                Macvlan("mv1", on: "eth0", mode: .bridge)
                Address("10.18.0.11/24", on: "mv0")
                Address("10.18.0.12/24", on: "mv1")
            }
            Host("h2") { Address("10.18.0.2/24") }
            Link("hv:eth0", "h2:eth0")
        },
        expectations: [
            .link(in: "hv", name: "mv0", up: true),
            .link(in: "hv", name: "mv1", up: true),
            .reachable(from: "h2", to: "10.18.0.11"),
            .reachable(from: "h2", to: "10.18.0.12"),
            .reachable(from: "hv", to: "10.18.0.2"),
        ],
        verifications: [
            Verification(in: "hv", ["ip", "-d", "link", "show", "mv0"], outputContains: ["macvlan mode bridge"]),
        ],
        requires: ["macvlan"])

    // MARK: 10.19 — blackhole, unreachable and prohibit routes

    static let rejectRoutes = Scenario(
        name: "reject-routes",
        summary: "Blackhole, unreachable and prohibit routes, at the sender and at a router",
        description: """
            h1 has no default route (only one to h2's subnet via r1) and three reject routes: blackhole 10.19.101.0/24, unreachable \
            10.19.102.0/24, prohibit 10.19.103.0/24; anything else off-link has no route. \
            h2 sends everything to router r1, which has the same three kinds for 10.19.201–203.0/24: \
            a blackhole there drops silently (the sender times out), unreachable and prohibit \
            answer with ICMP host-unreachable and communication-administratively-prohibited.
            """,
        topology: Topology("reject-routes") {
            Host("h1") {
                Address("10.19.1.2/24")
                Route("10.19.2.0/24", via: "10.19.1.1")
                Route("10.19.101.0/24", type: .blackhole)
                Route("10.19.102.0/24", type: .unreachable)
                Route("10.19.103.0/24", type: .prohibit)
            }
            Router("r1") {
                Route("10.19.201.0/24", type: .blackhole)
                Route("10.19.202.0/24", type: .unreachable)
                Route("10.19.203.0/24", type: .prohibit)
            }
            Host("h2") { Address("10.19.2.2/24"); Route(.default, via: "10.19.2.1") }
            Link("h1:eth0", "r1:eth0", bAddress: "10.19.1.1/24")
            Link("r1:eth1", "h2:eth0", aAddress: "10.19.2.1/24")
        },
        expectations: [
            .reachable(from: "h1", to: "10.19.1.1"),
            .unreachable(from: "h1", to: "10.19.50.1", reason: .noRoute),
            .unreachable(from: "h1", to: "10.19.101.1", reason: .blackholed),
            .unreachable(from: "h1", to: "10.19.102.1", reason: .unreachable),
            .unreachable(from: "h1", to: "10.19.103.1", reason: .prohibited),
            .reachable(from: "h2", to: "10.19.1.2"),
            .unreachable(from: "h2", to: "10.19.201.1", reason: .timeout),
            .unreachable(from: "h2", to: "10.19.202.1", reason: .unreachable),
            .unreachable(from: "h2", to: "10.19.203.1", reason: .prohibited),
            .route(in: "h1", RouteLookup("10.19.2.2", via: "10.19.1.1", dev: "eth0", prefsrc: "10.19.1.2", table: 254, type: .unicast)),
            .route(in: "h1", RouteLookup("10.19.1.2", dev: "lo", prefsrc: "10.19.1.2", type: .local)),
            .route(in: "h1", RouteLookup("10.19.1.255", dev: "eth0", type: .broadcast)),
            .route(in: "h1", RouteLookup("10.19.50.1", error: .networkUnreachable)),
            .route(in: "h1", RouteLookup("10.19.101.1", type: .blackhole)),
            .route(in: "h1", RouteLookup("10.19.102.1", error: .noRouteToHost)),
            .route(in: "h1", RouteLookup("10.19.103.1", error: .permissionDenied)),
            .route(in: "r1", RouteLookup("10.19.202.1", from: "10.19.2.2", iif: "eth1", type: .unreachable)),
            .routes(in: "h1", RouteFilter(to: "10.19.101.0/24", type: .blackhole, protocol: "static")),
            .routes(in: "r1", RouteFilter(type: .prohibit), atLeast: 1, atMost: 1),
            .routes(in: "h1", RouteFilter(to: "10.19.104.0/24"), atLeast: 0, atMost: 0),
        ])

    // MARK: 10.20 — MTU mismatch

    static let mtuMismatch = Scenario(
        name: "mtu-mismatch",
        summary: "A 1280-byte MTU link in the middle: big DF pings fail, small ones pass",
        description: """
            h1 – r1 – r2 – h2, where the r1–r2 link has MTU 1280 and the others 1500. A ping with \
            1400 payload bytes and DF set leaves h1 but cannot cross r1 (fragmentation needed); \
            one with 1000 bytes gets through. The boundary is exact: 1252 bytes (a 1280-byte packet) \
            pass, 1253 do not.
            """,
        topology: Topology("mtu-mismatch") {
            Host("h1") { Address("10.20.1.2/24"); Route(.default, via: "10.20.1.1") }
            Router("r1") { Route("10.20.3.0/24", via: "10.20.2.2") }
            Router("r2") { Route("10.20.1.0/24", via: "10.20.2.1") }
            Host("h2") { Address("10.20.3.2/24"); Route(.default, via: "10.20.3.1") }
            Link("h1:eth0", "r1:eth0", bAddress: "10.20.1.1/24")
            Link("r1:eth1", "r2:eth1", mtu: 1280, aAddress: "10.20.2.1/24", bAddress: "10.20.2.2/24")
            Link("r2:eth0", "h2:eth0", aAddress: "10.20.3.1/24")
        },
        expectations: [
            .link(in: "r1", name: "eth1", up: true, mtu: 1280),
            .link(in: "h1", name: "eth0", up: true, mtu: 1500),
            .pingSize(from: "h1", to: "10.20.3.2", size: 1000, succeeds: true),
            .pingSize(from: "h1", to: "10.20.3.2", size: 1400, succeeds: false),
            .route(in: "h1", RouteLookup("10.20.3.2", mtu: 1280)),
            // The boundary: 1252 payload + 8 ICMP + 20 IP = 1280 bytes.
            .pingSize(from: "h1", to: "10.20.3.2", size: 1252, succeeds: true),
            .pingSize(from: "h1", to: "10.20.3.2", size: 1253, succeeds: false),
            // The failure names the MTU: r1's "fragmentation needed" (or h1's own EMSGSIZE once it has
            // learned the path MTU) says 1280.
            .ping(from: "h1", to: IPAddress("10.20.3.2")!, options: PingOptions(size: 1400, dontFragment: true),
                  failure: PingFailureExpectation(reason: .tooBig, mtu: 1280)),
        ])

    // MARK: 10.21 — nftables firewall on a router

    static let firewallRules = """
        table inet nslab_fw {
            counter ssh_syns {
            }
            chain forward {
                type filter hook forward priority filter; policy accept;
                tcp dport 22 counter name "ssh_syns"
                tcp dport 22 drop
            }
            chain postrouting {
                type nat hook postrouting priority srcnat; policy accept;
                oifname "eth1" tcp dport 8080 masquerade
            }
        }
        """

    static let firewall = Scenario(
        name: "firewall",
        summary: "An nftables firewall on a router: tcp/22 dropped, tcp/80 open",
        description: """
            h1 (10.21.1.2) reaches h2 (10.21.2.2) through router r1, whose nftables forward chain \
            drops TCP to port 22 and accepts everything else (the ruleset is part of the topology and \
            loaded with `nft -f -` inside r1 at the end of the build). h2 listens on TCP 22 and 80. \
            Ping passes, TCP to port 80 connects, TCP to port 22 does not. The exchanges show each \
            outcome (a reply, a timeout at the firewall, a refusal by h2), the address h2 sees through \
            the masquerade r1 applies to port 8080, r1's named counter of TCP to port 22, and h2's count \
            of datagrams to closed UDP ports.
            """,
        topology: Topology("firewall") {
            Host("h1") { Address("10.21.1.2/24"); Route(.default, via: "10.21.1.1") }
            Router("r1") { Firewall(firewallRules) }
            Host("h2") { Address("10.21.2.2/24"); Route(.default, via: "10.21.2.1") }
            Link("h1:eth0", "r1:eth0", bAddress: "10.21.1.1/24")
            Link("r1:eth1", "h2:eth0", aAddress: "10.21.2.1/24")
        },
        expectations: [
            .reachable(from: "h1", to: "10.21.2.2"),
            .tcpConnect(from: "h1", to: "10.21.2.2", port: 80, open: true),
            .tcp(from: "h1", to: "10.21.2.2", port: 22, open: false),
            .transport(TransportExpectation(from: "h1", to: IPAddress("10.21.2.2")!, port: 80, reply: "hello from h2")),
            .transport(TransportExpectation(from: "h1", to: IPAddress("10.21.2.2")!, port: 22, result: .timeout)),
            .transport(TransportExpectation(from: "h1", to: IPAddress("10.21.2.2")!, port: 81, result: .refused)),
            .transport(TransportExpectation(from: "h1", to: IPAddress("10.21.2.2")!, port: 8080, listener: true, send: "hi",
                                            reply: "hi", peer: IPAddress("10.21.2.1")!)),
            .transport(TransportExpectation(from: "h1", to: IPAddress("10.21.2.2")!, port: 5353, proto: .udp, listener: true,
                                            send: "ping", reply: "ping")),
            .transport(TransportExpectation(from: "h1", to: IPAddress("10.21.2.2")!, port: 5354, proto: .udp, result: .refused)),
            .nftCounter(NftCounterExpectation(in: "r1", table: "nslab_fw", name: "ssh_syns", minPackets: 1)),
            .mibCounter(MIBCounterExpectation(in: "h2", counter: "Udp.NoPorts", min: 1)),
        ],
        verifications: [
            Verification(in: "r1", ["nft", "list", "chain", "inet", "nslab_fw", "forward"],
                         outputContains: ["tcp dport 22 drop"]),
        ],
        processes: [.listener(in: "h2", .tcp, address: "10.21.2.2", ports: [22, 80], reply: "hello from h2\n")],
        requires: ["nftables"])

    // MARK: 10.22 — tbf rate limit

    static let rateLimit = Scenario(
        name: "rate-limit",
        summary: "A tbf qdisc shaping one host's uplink to 10 Mbit/s",
        description: """
            h1 (10.22.0.1) and h2 (10.22.0.2) on one veth; h1's eth0 has a root tbf qdisc \
            (rate 10mbit, burst 32 KB, latency 50 ms). The qdisc is installed (as `tc qdisc show` \
            reports it), traffic still flows, and a 2 MB TCP transfer from h1 to h2 runs at about 10 Mbit/s \
            (checked between 5 and 12: the machine may be loaded), while the way back is not shaped.
            """,
        topology: Topology("rate-limit") {
            Host("h1") {
                Address("10.22.0.1/24")
                Qdisc(.tbf(rate: .mbit(10), burst: 32 * 1024, limit: .latency(.milliseconds(50))), on: "eth0")
            }
            Host("h2") { Address("10.22.0.2/24") }
            Link("h1:eth0", "h2:eth0")
        },
        expectations: [
            .reachable(from: "h1", to: "10.22.0.2"),
            .reachable(from: "h2", to: "10.22.0.1"),
            .throughput(from: "h1", to: IPAddress("10.22.0.2")!, min: 5, max: 12),
            .throughput(from: "h2", to: IPAddress("10.22.0.1")!, min: 20),
            .qdisc(QdiscExpectation(in: "h1", dev: "eth0", kind: "tbf", rate: .mbit(10), burst: 32768)),
        ],
        verifications: [
            Verification(in: "h1", ["tc", "qdisc", "show", "dev", "eth0"], outputContains: ["qdisc tbf", "rate 10Mbit"]),
        ],
        requires: ["tbf"], serial: true)

    // MARK: 10.29 — a link fails and traffic reroutes (a fault timeline)

    static let linkFlap = Scenario(
        name: "link-flap",
        summary: "Two paths between two routers; a link fails, traffic reroutes, and the old path comes back",
        description: """
            h1 (10.29.1.2/24) reaches h2 (10.29.2.2/24) through r1 and r2, which are joined twice: a primary \
            link (r1:eth1–r2:eth0, 10.29.12.0/24, static routes of metric 10) and a backup (r1:eth2–r2:eth1, \
            10.29.21.0/24, metric 20). The fault timeline takes r1:eth1 down: the kernel deletes r1's routes \
            through it (a dead link's routes vanish), and r2, whose end lost its carrier, skips its route \
            through it (net.ipv4.conf.all.ignore_routes_with_linkdown=1), so both directions take the backup \
            within a bound. Bringing the link up again does not bring back r1's deleted static route: the \
            timeline adds it again, as a routing daemon would, and the primary path holds again.
            """,
        topology: Topology("link-flap") {
            Host("h1") { Address("10.29.1.2/24"); Route(.default, via: "10.29.1.1") }
            Router("r1") {
                Sysctl("net.ipv4.conf.all.ignore_routes_with_linkdown", "1")
                Route("10.29.2.0/24", via: "10.29.12.2", metric: 10)
                Route("10.29.2.0/24", via: "10.29.21.2", metric: 20)
            }
            Router("r2") {
                Sysctl("net.ipv4.conf.all.ignore_routes_with_linkdown", "1")
                Route("10.29.1.0/24", via: "10.29.12.1", metric: 10)
                Route("10.29.1.0/24", via: "10.29.21.1", metric: 20)
            }
            Host("h2") { Address("10.29.2.2/24"); Route(.default, via: "10.29.2.1") }
            Link("h1:eth0", "r1:eth0", bAddress: "10.29.1.1/24")
            Link("r1:eth1", "r2:eth0", aAddress: "10.29.12.1/24", bAddress: "10.29.12.2/24")
            Link("r1:eth2", "r2:eth1", aAddress: "10.29.21.1/24", bAddress: "10.29.21.2/24")
            Link("r2:eth2", "h2:eth0", aAddress: "10.29.2.1/24")
        },
        expectations: [
            .routes(in: "r1", protocol: "static", atLeast: 2),
            .route(in: "r1", to: "10.29.2.2", via: "10.29.12.2", dev: "eth1"),
            .route(in: "r2", to: "10.29.1.2", via: "10.29.12.1", dev: "eth0"),
            .reachable(from: "h1", to: "10.29.2.2"),
            .path(TrafficPathExpectation(in: "r1", through: ["eth1"], notThrough: ["eth2"], minPackets: 4,
                                         during: .tcp(from: "h1", to: "10.29.2.2", port: 9000, open: true))),
        ],
        steps: [
            .change(.at(.milliseconds(500)), .linkDown(node: "r1", link: "eth1")),
            .expect(.route(in: "r1", to: "10.29.2.2", via: "10.29.21.2", dev: "eth2"), within: .seconds(3)),
            .expect(.route(in: "r2", to: "10.29.1.2", via: "10.29.21.1", dev: "eth1"), within: .seconds(3)),
            .expect(.reachable(from: "h1", to: "10.29.2.2"), within: .seconds(3)),
            .change(.after(.seconds(1)), .linkUp(node: "r1", link: "eth1")),
            .change(.addRoute(node: "r1", Route("10.29.2.0/24", via: "10.29.12.2", metric: 10))),
            .expect(.route(in: "r1", to: "10.29.2.2", via: "10.29.12.2", dev: "eth1"), within: .seconds(3)),
            .expect(.route(in: "r2", to: "10.29.1.2", via: "10.29.12.1", dev: "eth0"), within: .seconds(3)),
            .expect(.reachable(from: "h1", to: "10.29.2.2"), within: .seconds(3)),
        ])

    // MARK: 10.30 — a routing daemon: BIRD 2 running OSPF

    static let ospfBird = Scenario(
        name: "ospf-bird",
        summary: "BIRD 2 runs OSPF on three routers; a failed link is routed around within a bound",
        description: """
            Three routers in a triangle (r1–r2 10.30.12.0/24, r2–r3 10.30.23.0/24, r1–r3 10.30.13.0/24) and a \
            host h (10.30.3.2/24) behind r3. Each router has isolation: full and runs BIRD 2 (the bird2 package) \
            with its own configuration, generated from the topology: its first address as router id and \
            every interface in OSPF area 0 (point-to-point, hello 1 s, dead 3 s), its control socket and \
            config in its private /run and /tmp. The timeline waits until every router has learned the four \
            networks (routes of protocol bird), checks that r1 reaches h over the direct link to r3, takes \
            that link down, and expects r1's route to move to r2 and h to answer again within 10 s. Where \
            bird is not installed the scenario is skipped, with the install line as the reason.
            """,
        topology: Topology("ospf-bird") {
            Router("r1", isolation: .full)
            Router("r2", isolation: .full)
            Router("r3", isolation: .full)
            Host("h") { Address("10.30.3.2/24"); Route(.default, via: "10.30.3.1") }
            Link("r1:eth0", "r2:eth0", aAddress: "10.30.12.1/24", bAddress: "10.30.12.2/24")
            Link("r2:eth1", "r3:eth0", aAddress: "10.30.23.2/24", bAddress: "10.30.23.3/24")
            Link("r1:eth1", "r3:eth1", aAddress: "10.30.13.1/24", bAddress: "10.30.13.3/24")
            Link("r3:eth2", "h:eth0", aAddress: "10.30.3.1/24")
        },
        processes: (1...3).map { i in
            .command(in: "r\(i)", ["bird", "-f", "-c", "/tmp/bird.conf", "-s", "/run/bird.ctl"],
                     config: ProcessConfig(path: "/tmp/bird.conf", template: """
                         router id {routerId};
                         protocol device { scan time 10; }
                         protocol kernel { ipv4 { export all; }; }
                         protocol ospf v2 {
                           ipv4 { import all; export none; };
                           area 0 {
                             interface "{interface}" { type ptp; hello 1; dead 3; };
                           };
                         }

                         """),
                     install: "apt-get install bird2")
        },
        steps: [
            .expect(.routes(in: "r1", protocol: "bird", atLeast: 4), within: .seconds(30)),
            .expect(.routes(in: "r2", protocol: "bird", atLeast: 4), within: .seconds(30)),
            .expect(.routes(in: "r3", protocol: "bird", atLeast: 4), within: .seconds(30)),
            .expect(.route(in: "r1", to: "10.30.3.2", via: "10.30.13.3", dev: "eth1"), within: .seconds(5)),
            .expect(.reachable(from: "r1", to: "10.30.3.2"), within: .seconds(5)),
            .change(.linkDown(node: "r1", link: "eth1")),
            .expect(.route(in: "r1", to: "10.30.3.2", via: "10.30.12.2", dev: "eth0"), within: .seconds(10)),
            .expect(.reachable(from: "r1", to: "10.30.3.2"), within: .seconds(10)),
        ])
}

import NetnsModel

/// The benchmark workloads of `nslab bench`, built exactly as documented in the README.
public enum BenchWorkload: String, Sendable, CaseIterable {
    /// N bare namespaces (loopback up).
    case netns
    /// A switch namespace with a bridge; N hosts, each with a veth whose host end has one /16
    /// address and is up, and whose switch end is a bridge port, up.
    case star
    /// N routers in a line with IPv4 forwarding, a /30 between neighbours, and a static route
    /// on every router to every non-adjacent /30: (N−1)(N−2) routes.
    case chain
    /// In one namespace: N veth pairs, then N addresses, then N routes, each phase timed.
    case ops
    /// A three-node test fixture (host, router, host; two links, addresses, default routes),
    /// built and torn down N times back to back, each cycle timed: the cost a test pays for
    /// its lab, and its tail under churn.
    case fixture

    /// How many runs `nslab bench` makes when `--runs` is not given: one for `fixture` (whose
    /// N cycles are the samples), three for the others.
    public var defaultRuns: Int { self == .fixture ? 1 : 3 }

    /// The largest N `nslab bench` accepts.
    public var maxN: Int {
        switch self {
        case .ops: return 100_000
        // A star's switch is one bridge, and the kernel gives a bridge at most 1023 ports.
        case .star: return 1_023
        case .fixture: return 1_000_000
        case .netns, .chain: return 2_000
        }
    }

    /// The N that `nslab bench` uses when none is given.
    public var defaultN: Int {
        switch self {
        case .netns: return 100
        case .star: return 200
        case .chain: return 50
        case .ops: return 1000
        case .fixture: return 2000
        }
    }

    /// The topology of a workload (not for `ops`, which talks to one socket directly).
    public func topology(n: Int) -> Topology {
        switch self {
        case .netns:
            return Topology("bench-netns") { for i in 0..<n { Host("n\(i)") } }
        case .star:
            return Topology("bench-star") {
                Switch("sw")
                for i in 0..<n {
                    Host("h\(i)") { Address("10.\(100 + i / 65536).\(i / 256 % 256).\(i % 256 + 1)/16") }
                    Link("h\(i):eth0", "sw:p\(i)")
                }
            }
        case .chain:
            return Topology("bench-chain") {
                for i in 0..<n {
                    Router("r\(i)") {
                        // Link k joins r(k) and r(k+1): 10.(k/64).((k%64)*4).0/30, r(k) has .1, r(k+1) has .2.
                        for k in 0..<max(0, n - 1) where k != i && k != i - 1 {
                            Route("\(BenchWorkload.chainNet(k))/30", via: k > i ? BenchWorkload.chainHost(i, 2) : BenchWorkload.chainHost(i - 1, 1))
                        }
                    }
                }
                for k in 0..<max(0, n - 1) {
                    Link("r\(k):e1", "r\(k + 1):e0", aAddress: "\(BenchWorkload.chainHost(k, 1))/30", bAddress: "\(BenchWorkload.chainHost(k, 2))/30")
                }
            }
        case .ops:
            return Topology("bench-ops") { Host("ops") }
        case .fixture:
            return Topology("bench-fixture") {
                Host("h1") { Address("10.0.1.2/24"); Route(.default, via: "10.0.1.1") }
                Router("r1")
                Host("h2") { Address("10.0.2.2/24"); Route(.default, via: "10.0.2.1") }
                Link("h1:eth0", "r1:eth0", bAddress: "10.0.1.1/24")
                Link("r1:eth1", "h2:eth0", aAddress: "10.0.2.1/24")
            }
        }
    }

    static func chainNet(_ k: Int) -> String { "10.\(200 + k / 16384).\(k / 64 % 256).\((k % 64) * 4)" }
    static func chainHost(_ k: Int, _ h: Int) -> String { "10.\(200 + k / 16384).\(k / 64 % 256).\((k % 64) * 4 + h)" }

    /// The same workload as `ip -batch` input: one batch per namespace, in order.
    /// - Returns: (namespace or nil for the global batch, commands).
    func ipBatches(n: Int, prefix: String) -> [(String?, [String])] {
        switch self {
        case .netns:
            return [(nil, (0..<n).map { "netns add \(prefix)-n\($0)" })]
                + (0..<n).map { ("\(prefix)-n\($0)", ["link set lo up"]) }
        case .star:
            var sw = ["link set lo up", "link add br0 type bridge", "link set br0 up"]
            for i in 0..<n {
                sw.append("link add p\(i) master br0 up type veth peer name eth0 netns \(prefix)-h\(i)")
            }
            var out: [(String?, [String])] = [(nil, ["netns add \(prefix)-sw"] + (0..<n).map { "netns add \(prefix)-h\($0)" })]
            out.append(("\(prefix)-sw", sw))
            for i in 0..<n {
                out.append(("\(prefix)-h\(i)", ["link set lo up", "link set eth0 up",
                                                 "addr add 10.\(100 + i / 65536).\(i / 256 % 256).\(i % 256 + 1)/16 dev eth0"]))
            }
            return out
        case .chain:
            var out: [(String?, [String])] = [(nil, (0..<n).map { "netns add \(prefix)-r\($0)" })]
            for i in 0..<n {
                var cmds = ["link set lo up"]
                if i < n - 1 { cmds.append("link add e1 type veth peer name e0 netns \(prefix)-r\(i + 1)") }
                out.append(("\(prefix)-r\(i)", cmds))
            }
            for i in 0..<n {
                var cmds: [String] = []
                if i > 0 { cmds += ["link set e0 up", "addr add \(Self.chainHost(i - 1, 2))/30 dev e0"] }
                if i < n - 1 { cmds += ["link set e1 up", "addr add \(Self.chainHost(i, 1))/30 dev e1"] }
                for k in 0..<max(0, n - 1) where k != i && k != i - 1 {
                    cmds.append("route add \(Self.chainNet(k))/30 via \(k > i ? Self.chainHost(i, 2) : Self.chainHost(i - 1, 1))")
                }
                out.append(("\(prefix)-r\(i)", cmds))
            }
            return out
        case .ops:
            var cmds = ["link set lo up", "link add base type veth peer name basep", "link set base up", "link set basep up"]
            cmds += (0..<n).map { "link add va\($0) type veth peer name vb\($0)" }
            cmds += (0..<n).map { "addr add 10.\(50 + $0 / 65536).\($0 / 256 % 256).\($0 % 256)/32 dev base" }
            cmds += (0..<n).map { "route add 172.\(16 + $0 / 65536).\($0 / 256 % 256).\($0 % 256)/32 dev base" }
            return [(nil, ["netns add \(prefix)-ops"]), ("\(prefix)-ops", cmds)]
        case .fixture:
            return [(nil, ["netns add \(prefix)-h1", "netns add \(prefix)-r1", "netns add \(prefix)-h2"]),
                    ("\(prefix)-r1", ["link set lo up", "link add eth0 type veth peer name eth0 netns \(prefix)-h1",
                                     "link add eth1 type veth peer name eth0 netns \(prefix)-h2",
                                     "link set eth0 up", "link set eth1 up",
                                     "addr add 10.0.1.1/24 dev eth0", "addr add 10.0.2.1/24 dev eth1"]),
                    ("\(prefix)-h1", ["link set lo up", "link set eth0 up", "addr add 10.0.1.2/24 dev eth0",
                                     "route add default via 10.0.1.1"]),
                    ("\(prefix)-h2", ["link set lo up", "link set eth0 up", "addr add 10.0.2.2/24 dev eth0",
                                     "route add default via 10.0.2.1"])]
        }
    }
}

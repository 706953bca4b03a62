import Foundation
import NetnsKit

/// How much work a topology asks of the kernel, and the limits `nslab up` holds it to.
///
/// The limits sit well above the benchmark workloads (star 1000: 1,001 nodes and 1,000 links;
/// chain 100: 9,702 routes, 98 per router; netns 1000), so that a lab nobody meant to build (a
/// generated file gone wrong, 100,000 links) is refused before anything is created. `--allow-large`
/// lifts them.
struct TopologySize {
    static let maxNodes = 5_000
    static let maxLinks = 20_000
    static let maxRoutesPerNode = 20_000
    static let maxRoutes = 200_000
    /// From this many plan steps on, `up` says what it is about to build and how long it should take.
    static let largeSteps = 5_000

    var nodes = 0
    /// Veth links, tunnels and the links declared inside nodes (bridges, macvlans, VLANs, dummies).
    var links = 0
    var addresses = 0
    var routes = 0
    var busiest: (node: String, routes: Int) = ("", 0)

    init(_ t: Topology) {
        nodes = t.nodes.count
        links = t.links.count + t.tunnels.count
        for n in t.nodes {
            links += n.bridges.count + n.macvlans.count + n.vlans.count + n.dummies.count
            addresses += n.addresses.count
            routes += n.routes.count
            if n.routes.count > busiest.routes { busiest = (n.name, n.routes.count) }
        }
        addresses += t.links.reduce(0) { $0 + $1.a.addresses.count + $1.b.addresses.count }
    }

    /// What exceeds a limit, one phrase each.
    var problems: [String] {
        var out: [String] = []
        if nodes > Self.maxNodes { out.append("\(nodes) nodes (the limit is \(Self.maxNodes))") }
        if links > Self.maxLinks { out.append("\(links) links (the limit is \(Self.maxLinks))") }
        if busiest.routes > Self.maxRoutesPerNode {
            out.append("\(busiest.routes) routes on node \(busiest.node) (the limit is \(Self.maxRoutesPerNode) per node)")
        }
        if routes > Self.maxRoutes { out.append("\(routes) routes in all (the limit is \(Self.maxRoutes))") }
        return out
    }

    /// A rough build time from the benchmarks (release build, idle machine): a namespace with
    /// its sysctls and pin about 0.35 ms, a link about 0.5 ms, an address or route about 10 µs.
    var estimatedSeconds: Double {
        Double(nodes) * 0.000_35 + Double(links) * 0.000_5 + Double(addresses + routes) * 0.000_01
    }

    var summary: String {
        "\(nodes) namespaces, \(links) links, \(addresses) addresses, \(routes) routes"
    }
}

/// Refuses a topology beyond the limits, unless `allowLarge` (before it is even planned).
func refuseOversized(_ topology: Topology, lab: String, allowLarge: Bool) throws {
    let size = TopologySize(topology)
    let problems = size.problems
    if !problems.isEmpty && !allowLarge {
        throw NslabError("lab \(lab) is larger than nslab builds without being asked: \(problems.joined(separator: ", ")); "
                         + "nothing was created",
                         hint: "building it would take about \(String(format: "%.0f", size.estimatedSeconds.rounded(.up))) s or more; "
                             + "pass --allow-large if you mean it")
    }
}

/// Says what a large lab is about to cost, on standard error.
func announceLarge(_ topology: Topology, steps: Int, lab: String) {
    let size = TopologySize(topology)
    if steps >= TopologySize.largeSteps || !size.problems.isEmpty {
        standardError("nslab: building \(lab): \(size.summary) (\(steps) steps); "
                      + "estimated \(String(format: "%.1f", size.estimatedSeconds)) s on an idle machine (release build)\n")
    }
}

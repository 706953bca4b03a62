import Namespaces
import Netlink

/// Measures how fast the pipelined rtnetlink socket adds addresses and routes
/// (what `nslab bench ops` reports).
///
/// In a fresh namespace with one veth pair, it adds `count` IPv4 /32 addresses,
/// then `count` /32 device routes, each batch over one socket with ``RTNetlinkSocket/execute(_:)``.
public enum FoundationBenchmark {
    /// The measured rates.
    public struct Report: Sendable, CustomStringConvertible {
        /// How many addresses, and how many routes, were added.
        public var count: Int
        /// Wall time (monotonic) of the address batch and of the route batch, in seconds.
        public var addressSeconds: Double
        /// See ``addressSeconds``.
        public var routeSeconds: Double
        /// Addresses added per second (0 when nothing was timed).
        public var addressesPerSecond: Double { addressSeconds > 0 ? Double(count) / addressSeconds : 0 }
        /// Routes added per second (0 when nothing was timed).
        public var routesPerSecond: Double { routeSeconds > 0 ? Double(count) / routeSeconds : 0 }

        /// The count and both rates.
        public var description: String {
            func f(_ v: Double) -> String { String(Int(v.rounded())) }
            return "\(count) addresses in \(f(addressSeconds * 1000)) ms (\(f(addressesPerSecond))/s), "
                + "\(count) routes in \(f(routeSeconds * 1000)) ms (\(f(routesPerSecond))/s)"
        }
    }

    /// The device the benchmark creates (its peer is `nsbench1`).
    public static let deviceName = "nsbench0"

    /// Runs the benchmark in a fresh anonymous namespace, which is gone when this returns.
    public static func run(count: Int = 1000) throws -> Report {
        let ns = try NetworkNamespace.create(label: "bench")
        defer { ns.close() }
        return try run(count: count, in: ns)
    }

    /// Runs the benchmark in `ns` (which should be fresh: it creates ``deviceName``),
    /// leaving the addresses and routes in place for inspection.
    /// Addresses are 10.128.0.0 + i (/32), routes 10.192.0.0 + i (/32) on the veth.
    public static func run(count: Int, in ns: NetworkNamespace) throws -> Report {
        precondition(count > 0 && count <= 1 << 20, "count must be in 1...1048576")
        let sock = try ns.socket
        try sock.execute(.newLink(LinkSpec(name: deviceName, kind: .veth(peer: VethPeer(name: "nsbench1")), up: true)))
        try sock.execute(.setLink(name: "nsbench1", LinkChange(up: true), what: "bringing nsbench1 up"))
        let index = try sock.link(named: deviceName).index

        // Timings include building the requests, so they are what a caller pays.
        let base4 = IPAddress.v4(0x0A80_0000) // 10.128.0.0
        var t0 = monotonicNow()
        try sock.execute((0..<count).map {
            NetlinkRequest.newAddress(index: index, IPPrefix(base4.adding(UInt64($0)), 32))
        })
        let addressSeconds = monotonicNow() - t0

        let routeBase = IPAddress.v4(0x0AC0_0000) // 10.192.0.0
        t0 = monotonicNow()
        try sock.execute((0..<count).map {
            NetlinkRequest.newRoute(RouteInfo(family: AF.inet, destination: IPPrefix(routeBase.adding(UInt64($0)), 32),
                                              outputIndex: index))
        })
        let routeSeconds = monotonicNow() - t0
        return Report(count: count, addressSeconds: addressSeconds, routeSeconds: routeSeconds)
    }
}

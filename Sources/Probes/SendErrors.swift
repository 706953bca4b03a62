import Namespaces
import Netlink

extension Pinger {
    /// What an `EINVAL` from `sendto` means, from the namespace's routes.
    ///
    /// `EINVAL` has several causes, so it is not taken for a blackhole route on its word:
    /// the route lookup itself answers `EINVAL` for a blackhole (so `ip route get` shows no
    /// route to read), hence the routes are read and the one that matches is named. Measured
    /// on 6.18: a `blackhole` route, and an IPv4 loopback destination (127/8) whose route
    /// leaves through a device other than `lo` while that device's `route_localnet` is 0
    /// (`__mkroute_output` refuses it), both give `EINVAL`.
    static func explainInvalidSend(to dst: IPAddress, in ns: NetworkNamespace) -> PingFailure {
        guard let socket = try? ns.socket, let routes = try? socket.routes(family: dst.family) else {
            return .error("sendto: Invalid argument (EINVAL); the routes could not be read")
        }
        let links = (try? socket.links()) ?? []
        func dev(_ index: Int32?) -> String? { index.flatMap { i in links.first { $0.index == i }?.name } }
        // Longest prefix first; the local table (rule 0) before the others at equal length.
        let match = routes.filter { r in r.destination.map { $0.contains(dst) } ?? true }
            .max { a, b in
                let la = a.destination?.length ?? 0, lb = b.destination?.length ?? 0
                if la != lb { return la < lb }
                return a.table != RouteTable.local && b.table == RouteTable.local
            }
        guard let match else { return .error("sendto: Invalid argument (EINVAL); no route matches \(dst)") }
        let text = describe(match, dev: dev(match.outputIndex ?? match.nexthops.first?.index))
        if match.type == .blackhole { return .blackholed }
        if dst.isIPv4, IPPrefix(IPAddress("127.0.0.0")!, 8).contains(dst), let d = dev(match.outputIndex), d != "lo" {
            let key = "net.ipv4.conf.\(d).route_localnet"
            let value = (try? ns.sysctl(key)) ?? "?"
            return .error("sendto: Invalid argument (EINVAL): \(dst) is a loopback (127/8) destination and the matching "
                + "route (\(text)) leaves through \(d), where \(key) is \(value)")
        }
        return .error("sendto: Invalid argument (EINVAL); the matching route is \(text)")
    }

    /// A route as `ip route` prints it, with its table.
    static func describe(_ r: RouteInfo, dev: String?) -> String {
        var s = r.type == .unicast ? "" : "\(r.type) "
        s += r.destination.map { "\($0)" } ?? "default"
        if let g = r.gateway { s += " via \(g)" }
        if let dev { s += " dev \(dev)" }
        let table = r.table == RouteTable.main ? "main" : r.table == RouteTable.local ? "local" : "\(r.table)"
        return s + " table \(table)"
    }
}

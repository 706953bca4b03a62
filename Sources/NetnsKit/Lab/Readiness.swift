import Namespaces
import Netlink
import NetnsModel

/// A socket a node is listening on, as its own `/proc/net/{tcp,tcp6,udp,udp6}` lists it.
public struct ListeningSocket: Sendable, Hashable, CustomStringConvertible {
    /// The transport of a listening socket.
    public enum Transport: String, Sendable, Hashable {
        /// A TCP socket in `LISTEN` state.
        case tcp
        /// A bound UDP socket.
        case udp
    }
    /// TCP (a socket in `LISTEN` state) or UDP (a bound socket).
    public var transport: Transport
    /// The local address it is bound to; the unspecified address (`0.0.0.0`, `::`) for all.
    public var address: IPAddress
    /// The local port.
    public var port: UInt16
    /// `tcp 10.0.1.2:80`, with IPv6 addresses in brackets.
    public var description: String {
        "\(transport.rawValue) \(address.isIPv6 ? "[\(address)]" : "\(address)"):\(port)"
    }
}

/// A readiness wait that ran out of time; it says what it saw last.
public struct NotReadyError: Error, Sendable, CustomStringConvertible {
    /// The node that was waited on.
    public var node: String
    /// What was awaited, in words (`tcp port 80 listening`).
    public var waitingFor: String
    /// How long the wait lasted, in seconds.
    public var seconds: Double
    /// The last state seen before giving up.
    public var lastSeen: String
    /// The node, what was awaited, for how long, and what was seen last.
    public var description: String {
        "node \(node): \(waitingFor) did not happen within \(format3(seconds)) s (last seen: \(lastSeen))"
    }
}

extension Node {
    /// The sockets the node listens on: TCP sockets in LISTEN and bound UDP sockets, read from
    /// the node's own `/proc/net` (no external tool). Equivalent to `ss -ltnu` in the node.
    public func listeningSockets() throws -> [ListeningSocket] {
        let ns = try namespace
        var out: [ListeningSocket] = []
        for (file, transport, state) in [("tcp", ListeningSocket.Transport.tcp, "0A"), ("tcp6", .tcp, "0A"),
                                         ("udp", .udp, "07"), ("udp6", .udp, "07")] {
            // thread-self, not self: /proc/self/net is the net namespace of the process's main thread.
            let text = try ns.run { try Self.readSmallFile("/proc/thread-self/net/\(file)") }
            guard let text else { continue } // no IPv6 in this kernel
            out += Self.parseProcNet(text, transport: transport, state: state)
        }
        return out
    }

    /// Parses `/proc/net/tcp`-style text: `sl local_address rem_address st …`, addresses as
    /// hex in host (little-endian) byte order per 32-bit word, the port in hex.
    static func parseProcNet(_ text: String, transport: ListeningSocket.Transport, state: String) -> [ListeningSocket] {
        var out: [ListeningSocket] = []
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count > 3, f[3] == state else { continue }
            let local = f[1].split(separator: ":")
            guard local.count == 2, let port = UInt16(local[1], radix: 16) else { continue }
            let hex = Array(local[0])
            guard hex.count == 8 || hex.count == 32 else { continue }
            var bytes: [UInt8] = []
            for word in stride(from: 0, to: hex.count, by: 8) {
                guard let w = UInt32(String(hex[word..<word + 8]), radix: 16) else { continue }
                bytes += [UInt8(w & 0xff), UInt8((w >> 8) & 0xff), UInt8((w >> 16) & 0xff), UInt8(w >> 24)]
            }
            let address: IPAddress
            if bytes.count == 4 {
                address = .v4(UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3]))
            } else if bytes.count == 16 {
                let hi = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                let lo = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                address = .v6(hi, lo)
            } else { continue }
            out.append(ListeningSocket(transport: transport, address: address, port: port))
        }
        return out
    }

    private static func readSmallFile(_ path: String) throws -> String? {
        try readFileIfPresent(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Waits until something in the node listens on `port` (TCP: a socket in LISTEN; UDP: a bound socket).
    /// - Throws: ``NotReadyError`` listing what does listen when time is up.
    public func waitUntilListening(port: UInt16, _ transport: ListeningSocket.Transport = .tcp,
                                   timeout: Duration = .seconds(10)) async throws {
        try await poll("a \(transport.rawValue) socket listening on port \(port)", timeout: timeout) {
            let s = try listeningSockets().filter { $0.transport == transport }
            return (s.contains { $0.port == port }, s.isEmpty ? "nothing listening" : s.map(\.description).joined(separator: ", "))
        }
    }

    /// The routing protocol number for a name as `ip route` prints it (`static`, `bird`, `ospf`, `bgp`, …), or a number.
    public static func routeProtocol(named name: String) -> UInt8? {
        let known: [String: UInt8] = ["kernel": 2, "boot": 3, "static": 4, "ra": 9, "dhcp": 16, "zebra": 11, "bird": 12,
                                      "babel": 42, "bgp": 186, "isis": 187, "ospf": 188, "rip": 189, "eigrp": 192]
        return known[name.lowercased()] ?? UInt8(name)
    }

    /// Waits until the node's main table has at least `count` routes of a protocol (e.g. `bird`, `ospf`).
    /// Equivalent to polling `ip route show proto P | wc -l`.
    public func waitForRoutes(protocol proto: String, count: Int, family: IPFamily = .ipv4,
                              timeout: Duration = .seconds(30)) async throws {
        guard let p = Self.routeProtocol(named: proto) else {
            throw InvalidChangeError(reason: "\"\(proto)\" is not a route protocol name (bird, ospf, bgp, static, …) or number")
        }
        try await poll("\(count) \(proto) routes", timeout: timeout) {
            let n = try routes(family).filter { $0.proto == p }.count
            return (n >= count, "\(n) \(proto) routes")
        }
    }

    /// Waits until the node's routing tables have not changed for `quiet` (no route
    /// notification in that time), e.g. after a daemon converged.
    /// - Important: opens a notification socket in the node for the wait, closed afterwards.
    public func waitUntilRoutesQuiet(for quiet: Duration, timeout: Duration = .seconds(30)) async throws {
        let ns = try namespace
        let nodeName = name
        let watcher = try ns.run { try RTNetlinkSocket(label: "route watch in \(nodeName)") }
        try watcher.subscribe(group: RTNLGroup.ipv4Route)
        try? watcher.subscribe(group: RTNLGroup.ipv6Route)
        let quietSeconds = Self.seconds(quiet), deadline = monotonicNow() + Self.seconds(timeout)
        try await onOwnThread {
            var changes = 0
            var lastChange = monotonicNow()
            while true {
                let now = monotonicNow()
                if now - lastChange >= quietSeconds { return }
                if now >= deadline {
                    throw NotReadyError(node: nodeName, waitingFor: "routes quiet for \(format3(quietSeconds)) s",
                                        seconds: Self.seconds(timeout), lastSeen: "\(changes) route changes")
                }
                let wait = min(quietSeconds - (now - lastChange), deadline - now)
                let messages = try watcher.waitForMessages(timeout: wait)
                if !messages.isEmpty { changes += messages.count; lastChange = monotonicNow() }
            }
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private func poll(_ what: String, timeout: Duration, _ check: () throws -> (Bool, String)) async throws {
        let deadline = monotonicNow() + Self.seconds(timeout)
        while true {
            let (ok, seen) = try check()
            if ok { return }
            if monotonicNow() >= deadline {
                throw NotReadyError(node: name, waitingFor: what, seconds: Self.seconds(timeout), lastSeen: seen)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

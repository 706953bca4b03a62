import Namespaces
import Netlink
import NetnsModel

/// How a ``LabExpectation/ping(from:to:options:failure:)`` check pings: `ping`'s options.
public struct PingOptions: Sendable, Hashable, CustomStringConvertible {
    /// Echo requests sent (`ping -c`); every one must be answered for the destination to count as reached.
    public var count: Int
    /// ICMP payload bytes (`ping -s`); nil: 56.
    public var size: Int?
    /// Forbid fragmentation (`ping -M do`): a packet larger than the path MTU fails.
    public var dontFragment: Bool
    /// The IPv4 TTL or IPv6 hop limit (`ping -t`).
    public var ttl: Int?
    /// The local address to send from (`ping -I ADDRESS`).
    public var source: IPAddress?
    /// The device to bind to (`ping -I DEV`, `SO_BINDTODEVICE`); also the scope of a link-local
    /// destination (`fe80::1%eth0` in a file).
    public var interface: String?

    /// Options with `ping`'s defaults, except `count`: 2.
    public init(count: Int = 2, size: Int? = nil, dontFragment: Bool = false, ttl: Int? = nil, source: IPAddress? = nil,
                interface: String? = nil) {
        self.count = count; self.size = size; self.dontFragment = dontFragment; self.ttl = ttl
        self.source = source; self.interface = interface
    }

    /// `3 pings of 1400 bytes, DF, ttl 1, from 10.0.0.1, dev eth0`.
    public var description: String {
        "\(count) ping\(count == 1 ? "" : "s")" + (size.map { " of \($0) bytes" } ?? "") + (dontFragment ? ", DF" : "")
            + (ttl.map { ", ttl \($0)" } ?? "") + (source.map { ", from \($0)" } ?? "") + (interface.map { ", dev \($0)" } ?? "")
    }

    /// Why the options cannot be used, or nil (the bounds `ping` enforces).
    public var problem: String? {
        if !(1...100).contains(count) { return "count \(count) is outside 1…100" }
        if let size, !(0...65_000).contains(size) { return "size \(size) is outside 0…65000" }
        if let ttl, !(1...255).contains(ttl) { return "ttl \(ttl) is outside 1…255" }
        if let interface, interface.isEmpty || interface.utf8.count > 15 || interface.contains("/") || interface.contains(" ") {
            return "\"\(interface)\" is not an interface name (1–15 bytes, no / or space)"
        }
        return nil
    }
}

/// What a failed ping must show: its reason, and what the ICMP error said.
public struct PingFailureExpectation: Sendable, Hashable, CustomStringConvertible {
    /// Why (`.any`: any reason). `.timeout` is "silently dropped": no reply and no error.
    public var reason: UnreachableReason
    /// The address that sent the ICMP error (a router on the path, or the destination).
    public var reporter: IPAddress?
    /// The ICMP type of the error (IPv4: 3 unreachable, 11 time exceeded; ICMPv6: 1, 2 packet too big, 3).
    public var icmpType: UInt8?
    /// The ICMP code of the error.
    public var icmpCode: UInt8?
    /// The MTU reported: by a "fragmentation needed" or "packet too big" error, or the path MTU
    /// behind a local `EMSGSIZE`.
    public var mtu: Int?

    /// A failure for `reason` with these details (nil: not checked).
    public init(reason: UnreachableReason = .any, reporter: IPAddress? = nil, icmpType: UInt8? = nil, icmpCode: UInt8? = nil,
                mtu: Int? = nil) {
        self.reason = reason; self.reporter = reporter; self.icmpType = icmpType; self.icmpCode = icmpCode; self.mtu = mtu
    }

    /// `(tooBig, ICMP type 3 code 4 from 10.0.0.1, mtu 1280)`, or empty for any failure.
    public var description: String {
        var parts: [String] = []
        if reason != .any { parts.append(reason == .timeout ? "silently dropped" : reason.rawValue) }
        if icmpType != nil || icmpCode != nil || reporter != nil {
            parts.append("ICMP" + (icmpType.map { " type \($0)" } ?? "") + (icmpCode.map { " code \($0)" } ?? "")
                         + (reporter.map { " from \($0)" } ?? ""))
        }
        if let mtu { parts.append("mtu \(mtu)") }
        return parts.isEmpty ? "" : " (\(parts.joined(separator: ", ")))"
    }
}

extension Lab {
    /// Checks a ping with options: every echo answered (`failure == nil`), or none answered and
    /// the failure matches. A first try that only timed out is retried once, as for `reachable`.
    func evaluatePing(from: String, to: IPAddress, options o: PingOptions,
                      failure want: PingFailureExpectation?) async throws -> (Bool, String, silent: Bool) {
        if let p = o.problem { throw ExpectationError("ping options: \(p)") }
        let ns = try node(from).namespace
        func once() async throws -> PingResult {
            try await ping(to, in: ns, count: o.count, timeout: 1, interval: 0.1, source: o.source, size: o.size ?? 56,
                           dontFragment: o.dontFragment, ttl: o.ttl, interface: o.interface)
        }
        var r = try await once()
        if r.failure == .timeout && (want == nil || r.received == 0) { r = try await once() }
        let icmp = r.icmpError.map { " [\($0)]" } ?? ""
        let text = "\(r)\(icmp)"
        guard let want else { return (r.succeeded, text, r.failure == .timeout) }
        if r.received > 0 { return (false, "reachable: \(text)", false) }
        let failure = r.failure ?? .timeout
        let reason = Self.unreachableReason(failure, to: to)
        var ok = want.reason == .any || want.reason == reason
        if let rep = want.reporter { ok = ok && r.icmpError?.reporter == rep }
        if let t = want.icmpType { ok = ok && r.icmpError?.type == t }
        if let c = want.icmpCode { ok = ok && r.icmpError?.code == c }
        var mtu = r.icmpError?.mtu
        if case .messageTooLong(let m) = failure, mtu == nil { mtu = m }
        if let m = want.mtu { ok = ok && mtu == m }
        let why = r.icmpError == nil ? (failure == .timeout ? " (silently dropped: no reply, no error)" : " (a local error: no ICMP message)") : ""
        return (ok, "\(reason.rawValue): \(text)\(why)", failure == .timeout)
    }

    /// Runs a bounded bulk TCP transfer and checks its rate against `[min, max]` Mbit/s.
    func evaluateThroughput(from: String, to: IPAddress, port: UInt16, bytes: Int, timeLimit: Duration,
                            min: Double?, max: Double?) async throws -> (Bool, String, silent: Bool) {
        guard let sink = owner(of: to) else {
            throw ExpectationError("no node of the lab has \(to): the throughput sink listens on the destination's node")
        }
        let r = try await measureThroughput(to: to, port: port, from: try node(from).namespace,
                                            sinkNamespace: try sink.namespace, bytes: bytes,
                                            timeLimit: Node.seconds(timeLimit))
        let rate = r.megabitsPerSecond
        let ok = r.bytes > 0 && (min.map { rate >= $0 } ?? true) && (max.map { rate <= $0 } ?? true)
        return (ok, "\(r) (to \(sink.name))", false)
    }
}

extension LabExpectation {
    /// The words for a ping check: `h1 reaches 10.0.0.2 with 3 pings, ttl 2` or `h1 cannot reach … (tooBig, mtu 1280)`.
    static func pingText(_ from: String, _ to: IPAddress, _ o: PingOptions, _ failure: PingFailureExpectation?) -> String {
        "\(from) " + (failure == nil ? "reaches" : "cannot reach") + " \(to) with \(o)" + (failure.map { "\($0)" } ?? "")
    }

    /// The words for a throughput check.
    static func throughputText(_ from: String, _ to: IPAddress, _ port: UInt16, _ bytes: Int, _ min: Double?,
                               _ max: Double?) -> String {
        func n(_ v: Double) -> String { v == v.rounded() ? "\(Int(v))" : "\(v)" }
        let range: String
        switch (min, max) {
        case let (lo?, hi?): range = "between \(n(lo)) and \(n(hi)) Mbit/s"
        case let (lo?, nil): range = "at least \(n(lo)) Mbit/s"
        case let (nil, hi?): range = "at most \(n(hi)) Mbit/s"
        default: range = "any rate"
        }
        return "\(from) → \(to.bracketedText):\(port)/tcp carries \(bytes) bytes at \(range)"
    }
}


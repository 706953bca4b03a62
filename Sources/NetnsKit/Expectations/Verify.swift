import Namespaces
import Netlink
import NetnsModel

/// A failed expectation, with what was expected, what the kernel says, and the node's state.
public struct ExpectationFailure: Error, Sendable, CustomStringConvertible {
    /// The expectation, in words.
    public var expected: String
    /// What the kernel did instead, in words.
    public var observed: String
    /// The relevant node's state as `ip`-like text.
    public var state: String
    /// For a failed path check (reachability, ping size, TCP): the path hop by hop, from
    /// ``Lab/explain(from:to:protocol:source:mark:size:ttl:)``; empty for other expectations.
    public var explanation: String = ""
    /// The expected and observed lines, then the hop-by-hop explanation when there is one.
    public var description: String {
        "expected: \(expected)\n  observed: \(observed)"
            + (explanation.isEmpty ? "" : "\n  why, hop by hop:\n" + explanation.split(separator: "\n").map { "    \($0)" }.joined(separator: "\n"))
            + (state.isEmpty ? "" : "\n  kernel state:\n" + state)
    }
    /// One line for a test failure's headline: `h1 reaches 10.0.2.2 — observed: …`.
    public var headline: String { "\(expected) — observed: \(observed)" }
}

extension Lab {
    /// Checks an expectation, re-checking until it holds or `within` seconds pass (0: once).
    ///
    /// Re-checks back off from 5 ms to 100 ms, so a condition that becomes true a moment
    /// later (a neighbour entry, a route learned, a link coming up) passes without sleeps.
    /// With `within` above 0 it checks at least twice, even when the first check alone took
    /// longer than `within` (on a loaded machine), so a re-check always happens.
    /// - Returns: nil when it holds, or the failure with the kernel's view.
    public func verify(_ e: LabExpectation, within seconds: Double = 0) async -> ExpectationFailure? {
        let deadline = monotonicNow() + seconds
        var delay = 0.005
        // Kernel-state expectations wake up on the node's rtnetlink notifications (links,
        // addresses, routes, rules, neighbours) instead of only sleeping between checks.
        let watcher = seconds > 0 ? notificationSocket(for: e) : nil
        // The most telling failed observation: the latest answer, or the latest silence when
        // nothing ever answered (a router's ICMP errors stop under its rate limit).
        var telling: ExpectationResult?
        var attempts = 0
        while true {
            let r = await check(e)
            attempts += 1
            if r.passed { return nil }
            if telling == nil || !r.silent || telling!.silent { telling = r }
            if monotonicNow() + delay > deadline && (seconds <= 0 || attempts >= 2) {
                let nodeName = Self.nodeName(of: e)
                let observed = telling!.observed + (r.silent && !telling!.silent ? " (later attempts: \(r.observed))" : "")
                return ExpectationFailure(expected: e.description, observed: observed,
                                          state: nodeName.map { self[$0].stateDump() } ?? "",
                                          explanation: await explanationText(for: e) ?? "")
            }
            if let watcher {
                let wait = delay
                _ = try? await onOwnThread { try watcher.waitForMessages(timeout: wait) }
            } else {
                try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            }
            delay = min(delay * 2, 0.1)
        }
    }

    /// A socket in the expectation's node subscribed to the rtnetlink groups whose changes can
    /// make a kernel-state expectation true (nil for probes, which have nothing to listen to).
    private func notificationSocket(for e: LabExpectation) -> RTNetlinkSocket? {
        switch e {
        case .route, .multipath, .routes, .link, .counters, .address, .master, .rule, .neighbor, .linkAttributes, .addressCount,
             .addressFlags, .fdb: break
        default: return nil
        }
        guard let name = Self.nodeName(of: e), let ns = try? self[name].namespace,
              let s = try? ns.run({ try RTNetlinkSocket(label: "ns \(name) (notifications)") }) else { return nil }
        for g in [RTNLGroup.link, RTNLGroup.neigh, RTNLGroup.ipv4IfAddr, RTNLGroup.ipv4Route, RTNLGroup.ipv4Rule,
                  RTNLGroup.ipv6IfAddr, RTNLGroup.ipv6Route, RTNLGroup.ipv6Rule] {
            try? s.subscribe(group: g)
        }
        return s
    }

    static func nodeName(of e: LabExpectation) -> String? {
        switch e {
        case .reachable(let f, _), .unreachable(let f, _, _), .pingSize(let f, _, _, _), .rtt(let f, _, _, _), .tcp(let f, _, _, _),
             .tcpConnect(let f, _, _, _), .ping(let f, _, _, _), .throughput(let f, _, _, _, _, _, _): return f
        case .route(let n, _), .multipath(let n, _), .link(let n, _, _, _), .sysctl(let n, _, _),
             .counters(let n, _, _, _), .address(let n, _, _), .master(let n, _, _), .rule(let n, _),
             .neighbor(let n, _, _), .routes(let n, _, _, _): return n
        case .transport(let t): return t.from
        case .nftCounter(let c): return c.node
        case .mibCounter(let c): return c.node
        case .linkAttributes(let l): return l.node
        case .qdisc(let q): return q.node
        case .refused(let r): return r.change.node
        case .path(let p): return p.node
        case .addressCount(let a): return a.node
        case .addressFlags(let a): return a.node
        case .fdb(let f): return f.node
        }
    }

    /// Checks which pairs reach each other and compares with `expected` (true = reachable).
    /// - Returns: nil when every pair matches, or a failure whose text shows both tables.
    public func verifyReachability(_ expected: [String: [String: Bool]]) async -> ExpectationFailure? {
        let sources = expected.keys.sorted()
        let targets = Set(expected.values.flatMap(\.keys)).sorted()
        var observed: [String: [String: Bool]] = [:]
        var mismatch = false
        for s in sources {
            for t in targets {
                guard let want = expected[s]?[t] else { continue }
                let r = await check(.reachable(from: s, to: t))
                observed[s, default: [:]][t] = r.passed
                if r.passed != want { mismatch = true }
            }
        }
        guard mismatch else { return nil }
        func table(_ m: [String: [String: Bool]]) -> String {
            let w = max(8, (sources.map(\.count).max() ?? 0) + 1)
            var out = "".padding(toLength: w, withPad: " ", startingAt: 0) + targets.map { $0.padding(toLength: 16, withPad: " ", startingAt: 0) }.joined() + "\n"
            for s in sources {
                out += s.padding(toLength: w, withPad: " ", startingAt: 0)
                for t in targets {
                    let v = m[s]?[t].map { $0 ? "✔ reach" : "✘ no" } ?? "-"
                    out += v.padding(toLength: 16, withPad: " ", startingAt: 0)
                }
                out += "\n"
            }
            return out
        }
        let diff = sources.flatMap { s in targets.compactMap { t -> String? in
            guard let w = expected[s]?[t], let o = observed[s]?[t], w != o else { return nil }
            return "\(s) → \(t): expected \(w ? "reachable" : "unreachable"), observed \(o ? "reachable" : "unreachable")"
        } }
        return ExpectationFailure(expected: "reachability matrix\n" + table(expected),
                                  observed: "\n" + table(observed) + diff.joined(separator: "\n"), state: "")
    }
}

extension String {
    fileprivate func padding(toLength n: Int, withPad p: String, startingAt _: Int) -> String {
        count >= n ? self + " " : self + String(repeating: p, count: n - count)
    }
}

import Namespaces
import NetnsModel

/// When a timeline step starts.
public enum StepTime: Sendable, Hashable, CustomStringConvertible {
    /// At this offset from the timeline's start (or at once, if the previous step ran later).
    case at(Duration)
    /// This long after the previous step ended.
    case after(Duration)

    /// `at T s` or `after T s`.
    public var description: String {
        switch self {
        case .at(let d): "at \(Node.seconds(d)) s"
        case .after(let d): "after \(Node.seconds(d)) s"
        }
    }
}

/// A change a fault timeline makes to the running lab, through the node's change methods.
public enum TimelineChange: Sendable, Hashable, CustomStringConvertible {
    /// Sets an interface down (`ip link set LINK down`).
    case linkDown(node: String, link: String)
    /// Sets an interface up.
    case linkUp(node: String, link: String)
    /// Changes an interface's MTU, in bytes.
    case setMTU(node: String, link: String, mtu: Int)
    /// Replaces the root qdisc of an interface (`tc qdisc replace … root`).
    case replaceQdisc(node: String, link: String, Qdisc.Kind)
    /// Removes the root qdisc of an interface, back to the default.
    case removeQdisc(node: String, link: String)
    /// Adds a route in a node.
    case addRoute(node: String, Route)
    /// Removes a route from a node.
    case removeRoute(node: String, Route)
    /// Sends packets from a node without asserting a reply (traffic for the checks that follow).
    case send(node: String, TrafficBurst)

    /// The change as the `ip` or `tc` command that does the same.
    public var description: String {
        switch self {
        case let .linkDown(n, l): "\(n): ip link set \(l) down"
        case let .linkUp(n, l): "\(n): ip link set \(l) up"
        case let .setMTU(n, l, m): "\(n): ip link set \(l) mtu \(m)"
        case let .replaceQdisc(n, l, k): "\(n): tc qdisc replace dev \(l) root \(k.name)"
        case let .removeQdisc(n, l): "\(n): tc qdisc del dev \(l) root"
        case let .addRoute(n, r): "\(n): ip route add \(Node.routeText(r))"
        case let .removeRoute(n, r): "\(n): ip route del \(Node.routeText(r))"
        case let .send(n, b): "\(n): \(b)"
        }
    }

    func apply(to lab: Lab) throws {
        switch self {
        case let .linkDown(n, l): try lab.node(n).linkDown(l)
        case let .linkUp(n, l): try lab.node(n).linkUp(l)
        case let .setMTU(n, l, m): try lab.node(n).setMTU(l, m)
        case let .replaceQdisc(n, l, k): try lab.node(n).replaceQdisc(k, on: l)
        case let .removeQdisc(n, l): try lab.node(n).removeQdisc(on: l)
        case let .addRoute(n, r): try lab.node(n).addRoute(r)
        case let .removeRoute(n, r): try lab.node(n).removeRoute(r)
        case let .send(n, b): try lab.node(n).sendTraffic(b)
        }
    }
}

/// One step of a fault timeline: a change, or a check that must hold within a bound.
public struct TimelineStep: Sendable, Hashable, CustomStringConvertible {
    /// What a step does.
    public enum Action: Sendable, Hashable {
        /// Makes a change to the lab.
        case change(TimelineChange)
        /// Checked again and again until it holds or `within` has passed since the step began.
        case check(LabExpectation, within: Duration)
    }
    /// When the step begins.
    public var time: StepTime
    /// What it does.
    public var action: Action

    /// A step doing `action` at `time`.
    public init(_ time: StepTime, _ action: Action) { self.time = time; self.action = action }

    /// A change at a time: `.change(.at(.milliseconds(500)), .linkDown(node: "r1", link: "eth1"))`.
    public static func change(_ time: StepTime, _ c: TimelineChange) -> TimelineStep { TimelineStep(time, .change(c)) }

    /// A change right after the previous step.
    public static func change(_ c: TimelineChange) -> TimelineStep { TimelineStep(.after(.zero), .change(c)) }

    /// A check that must hold within `bound`: `.expect(.route(in: "h1", to: "10.0.2.2", dev: "eth2"), within: .seconds(3))`.
    public static func expect(_ time: StepTime, _ e: LabExpectation, within bound: Duration) -> TimelineStep {
        TimelineStep(time, .check(e, within: bound))
    }

    /// A check right after the previous step.
    public static func expect(_ e: LabExpectation, within bound: Duration) -> TimelineStep {
        TimelineStep(.after(.zero), .check(e, within: bound))
    }

    /// Whether the step is a check (rather than a change).
    public var isCheck: Bool { if case .check = action { true } else { false } }

    /// The time and the change, or the check and its bound.
    public var description: String {
        switch action {
        case .change(let c): "\(time): \(c)"
        case let .check(e, within): "\(time): expect \(e) within \(Node.seconds(within)) s"
        }
    }
}

/// What one step of a timeline did.
public struct TimelineStepResult: Sendable, CustomStringConvertible {
    /// How a step ended: `skipped` for every step after the first failed one.
    public enum Outcome: Sendable, Hashable {
        /// The change was made, or the check held within its bound.
        case passed
        /// The change failed, or the check did not hold within its bound.
        case failed
        /// Not run, because an earlier step failed.
        case skipped
    }
    /// The step.
    public var step: TimelineStep
    /// How it ended.
    public var outcome: Outcome
    /// Seconds since the timeline's start when the step began.
    public var startedAt: Double
    /// For a check: seconds from the step's start until it held (the convergence time).
    public var convergence: Double?
    /// What went wrong or what the kernel did last, for a failed step.
    public var observed: String?

    /// The step's start time and outcome, with what was observed when it failed.
    public var description: String {
        let at = "+\(format3(startedAt)) s"
        switch outcome {
        case .passed: return "✔ \(at) \(step)" + (convergence.map { " — held after \(format3($0)) s" } ?? "")
        case .failed: return "✘ \(at) \(step) — \(observed ?? "failed")"
        case .skipped: return "– \(step) (skipped after an earlier failure)"
        }
    }
}

extension Lab {
    /// Runs a fault timeline: changes and checks in order, each at its time; every check is
    /// retried until it holds or its bound passes, and its result says how long it took to
    /// hold. The first failed step ends the timeline; the steps after it are reported skipped.
    ///
    /// ```swift
    /// let results = await lab.run([
    ///     .change(.at(.milliseconds(500)), .linkDown(node: "r1", link: "eth1")),
    ///     .expect(.route(in: "r1", to: "10.3.0.2", dev: "eth0"), within: .seconds(3)),
    /// ])
    /// #expect(results.allSatisfy { $0.outcome == .passed }, "\(results)")
    /// ```
    public func run(_ steps: [TimelineStep]) async -> [TimelineStepResult] {
        let start = monotonicNow()
        var results: [TimelineStepResult] = []
        var failed = false
        for step in steps {
            if failed { results.append(TimelineStepResult(step: step, outcome: .skipped, startedAt: 0)); continue }
            let due: Double
            switch step.time {
            case .at(let d): due = start + Node.seconds(d)
            case .after(let d): due = monotonicNow() + Node.seconds(d)
            }
            let wait = due - monotonicNow()
            if wait > 0 { try? await Task.sleep(for: .nanoseconds(Int64(wait * 1e9))) }
            let began = monotonicNow()
            var result = TimelineStepResult(step: step, outcome: .passed, startedAt: began - start)
            switch step.action {
            case .change(let c):
                do { try c.apply(to: self) } catch {
                    result.outcome = .failed
                    result.observed = "\(error)"
                }
            case let .check(e, within):
                let bound = Node.seconds(within)
                while true {
                    let r = await check(e)
                    if r.passed { result.convergence = monotonicNow() - began; break }
                    if monotonicNow() - began >= bound {
                        result.outcome = .failed
                        result.observed = "did not hold within \(format3(bound)) s; last observed: \(r.observed)"
                        break
                    }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            if result.outcome == .failed { failed = true }
            results.append(result)
        }
        return results
    }
}

import Foundation
import Namespaces
import Netlink
import NetnsModel

/// The outcome of testing a scenario: what `nslab test` reports for it.
public struct ScenarioReport: Sendable {
    /// How a scenario ended.
    public enum Status: String, Sendable, Hashable {
        /// Every check held.
        case pass
        /// A check failed, or the build, setup or a process did (see ``ScenarioReport/reason``).
        case fail
        /// The kernel lacks a feature the scenario requires; a skip is not a pass.
        case skip
        /// The scenario built (and tore down) but has no checks: nothing was tested, never a pass.
        case built
    }

    /// One expectation or verification, in the order it ran.
    public struct Check: Sendable, CustomStringConvertible {
        /// What was expected, in words (`h1 reaches 10.0.2.2`).
        public var expected: String
        /// Where it was declared (`router.yaml:31`), for scenarios read from files.
        public var place: String?
        /// The same, with the column.
        public var location: DeclarationLocation?
        /// Whether the kernel did what was expected.
        public var passed: Bool
        /// What the kernel did, in words.
        public var observed: String
        /// How long the check took, in seconds.
        public var seconds: Double
        /// For a failed path check: the path hop by hop (``Lab/explain(from:to:protocol:source:mark:size:ttl:)``).
        public var explanation: String? = nil
        /// For a check of the fault timeline (``Scenario/steps``): its bound, in seconds.
        public var within: Double? = nil
        /// For a check of the fault timeline that held: seconds from the step's start until it
        /// held (the convergence time).
        public var convergence: Double? = nil

        /// `router.yaml:31: h1 reaches 10.0.2.2`.
        public var name: String { (place.map { "\($0): " } ?? "") + expected }

        /// `router.yaml:31: h1 reaches 10.0.2.2 — observed: …` (the observation only when it failed).
        public var description: String {
            name + (passed ? "" : " — observed: \(observed)") + (passed ? "" : explanation.map { "\n\($0)" } ?? "")
        }
    }

    /// A process the scenario ran, with what it saw.
    public struct Process: Sendable, CustomStringConvertible {
        /// The process as declared.
        public var process: ScenarioProcess
        /// Where it was declared (`router.yaml:40`), for scenarios read from files.
        public var place: String?
        /// Peer addresses a listener saw (NAT shows here), in order.
        public var peers: [String]
        /// A command's exit status when it had ended by teardown.
        public var exitStatus: Int32?

        /// The place and the process, marked when it is a command.
        public var description: String {
            (place.map { "\($0): " } ?? "") + "\(process)"
                + (process.isCommand ? " (a command: the escape hatch)" : "")
                + (peers.isEmpty ? "" : "; saw \(peers.joined(separator: ", "))")
                + (exitStatus.map { "; exited \($0)" } ?? "")
        }
    }

    /// One step of the fault timeline, with where it was declared.
    public struct Step: Sendable, CustomStringConvertible {
        /// What the step did: its outcome, start time, and a check's convergence time.
        public var result: TimelineStepResult
        /// Where it was declared (`flap.yaml:30`), for scenarios read from files.
        public var place: String?
        /// The same, with the column.
        public var location: DeclarationLocation?

        /// `flap.yaml:30: ✔ +0.500 s at 0.5 s: r1: ip link set eth1 down`.
        public var description: String { (place.map { "\($0): " } ?? "") + "\(result)" }
    }

    /// The scenario's name.
    public var scenario: String
    /// How it ended.
    public var status: Status
    /// The checks that ran, in order.
    public var checks: [Check] = []
    /// Why it failed or was skipped, when that is not a failed check (a build, setup or process failure).
    public var reason: String?
    /// Seconds the lab took to build; nil when the build failed or was skipped.
    public var buildSeconds: Double?
    /// Seconds the checks took; nil when they did not run.
    public var checkSeconds: Double?
    /// The lab's state when something failed.
    public var stateDump: String?
    /// The processes the scenario ran, with what they saw.
    public var processes: [Process] = []
    /// The fault timeline's steps in order (every one, the skipped ones included); its checks
    /// are also in ``checks``, with their convergence times.
    public var steps: [Step] = []
    /// How many checks the scenario declares (all of them, also when it stopped before checking).
    public var total: Int

    /// How many checks passed.
    public var passed: Int { checks.filter(\.passed).count }
    /// The checks that failed, in order.
    public var failures: [Check] { checks.filter { !$0.passed } }
}

extension Scenario {
    /// Tests the scenario the way `nslab test` does: skips when the kernel lacks a required
    /// feature, builds it in fixture mode, runs the setup commands, starts the processes, checks
    /// the expectations in order, then the verifications, runs the fault timeline (``steps``),
    /// stops the processes and tears down.
    ///
    /// A scenario with no checks that builds is ``ScenarioReport/Status/built``, never a pass.
    /// - Important: needs the privileges to build namespaces (see ``Lab/up(_:options:)-30ale``).
    public func test(features: KernelFeatures = .shared) async -> ScenarioReport {
        var report = ScenarioReport(scenario: name, status: .fail, total: checkCount)
        for feature in requires {
            if let o = features.probe(feature), !o.supported {
                report.status = .skip
                report.reason = "this kernel has no \(o.feature)" + (o.detail.map { " (\($0))" } ?? "")
                return report
            }
        }
        for p in processes {
            guard let install = p.install, case let .command(argv, _) = p.kind, let program = argv.first else { continue }
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            if Spawner.locate(program, along: path + ":/usr/sbin:/sbin") == nil || (program.contains("/") && !PrivateFiles.isExecutable(program)) {
                report.status = .skip
                report.reason = "\(program) is not installed: \(install)"
                return report
            }
        }
        let lab: Lab
        let start = monotonicNow()
        do {
            lab = try await Lab.up(topology)
        } catch let e as BuildError where e.unsupportedFeature != nil {
            report.status = .skip
            report.reason = "this kernel has no \(e.unsupportedFeature!)"
            return report
        } catch {
            report.reason = "build failed: \(error)"
            return report
        }
        report.buildSeconds = monotonicNow() - start
        defer { lab.down() }

        for (i, command) in setup.enumerated() {
            let place = source.place(ofSetup: i).map { "\($0): " } ?? ""
            do {
                let r = try await lab.node(command.node).run(command.argv, stdin: command.stdin.map { Array($0.utf8) },
                                                             timeout: 30)
                if r.status != 0 {
                    report.reason = "setup failed: \(place)\(command): exit \(r.status): \(r.errorOutput.trimmed)"
                    report.stateDump = lab.stateDump()
                    return report
                }
            } catch {
                report.reason = "setup failed: \(place)\(command): \(error)"
                report.stateDump = lab.stateDump()
                return report
            }
        }

        let running = ScenarioProcesses()
        defer { running.stop() }
        if let problem = await running.start(self, in: lab) {
            report.reason = problem
            report.stateDump = lab.stateDump()
            report.processes = running.reports(self)
            return report
        }

        let checkStart = monotonicNow()
        for (i, e) in expectations.enumerated() {
            let r = await lab.check(e)
            report.checks.append(.init(expected: e.description, place: source.place(ofExpectation: i),
                                       location: source.location(ofExpectation: i), passed: r.passed,
                                       observed: r.observed, seconds: r.seconds,
                                       explanation: r.passed ? nil : await lab.explanationText(for: e)))
        }
        for (i, v) in verifications.enumerated() {
            let r = await v.check(in: lab)
            report.checks.append(.init(expected: v.description, place: source.place(ofVerification: i),
                                       location: source.location(ofVerification: i), passed: r.passed,
                                       observed: r.observed, seconds: r.seconds))
        }
        if !steps.isEmpty { await runSteps(in: lab, into: &report) }
        report.checkSeconds = monotonicNow() - checkStart
        // Listeners stopped first, so that every connection the checks made is in their peers.
        running.stopListeners()
        report.processes = running.reports(self)
        if report.reason != nil {
            report.stateDump = lab.stateDump() // a step's change failed
        } else if checkCount == 0 {
            report.status = .built
        } else if report.failures.isEmpty {
            report.status = .pass
        } else {
            report.stateDump = lab.stateDump()
        }
        return report
    }
}

extension Scenario {
    /// Runs the fault timeline and records each step, and each check among them (with its
    /// convergence time) in the report's checks; a failed change becomes the report's reason.
    func runSteps(in lab: Lab, into report: inout ScenarioReport) async {
        let results = await lab.run(steps)
        for (i, r) in results.enumerated() {
            let place = source.place(ofStep: i)
            report.steps.append(.init(result: r, place: place, location: source.location(ofStep: i)))
            switch r.step.action {
            case let .check(e, within):
                guard r.outcome != .skipped else { continue }
                var check = ScenarioReport.Check(expected: e.description, place: place, location: source.location(ofStep: i),
                                                 passed: r.outcome == .passed, observed: r.observed ?? "held",
                                                 seconds: r.convergence ?? Node.seconds(within))
                check.within = Node.seconds(within)
                check.convergence = r.convergence
                if r.outcome == .failed { check.explanation = await lab.explanationText(for: e) }
                report.checks.append(check)
            case .change(let c):
                if r.outcome == .failed {
                    let skipped = results.dropFirst(i + 1).count
                    report.reason = "step failed: " + (place.map { "\($0): " } ?? "") + "\(c): \(r.observed ?? "failed")"
                        + (skipped > 0 ? " (the \(skipped) later steps did not run)" : "")
                }
            }
        }
    }
}

/// The listeners and commands of one scenario run, stopped together.
final class ScenarioProcesses: @unchecked Sendable {
    private var servers: [Int: [EchoServer]] = [:]
    private var commands: [Int: BackgroundProcess] = [:]

    /// Starts every process in order. - Returns: nil, or why one could not start (naming its place).
    func start(_ scenario: Scenario, in lab: Lab) async -> String? {
        for (i, p) in scenario.processes.enumerated() {
            let place = scenario.source.place(ofProcess: i).map { "\($0): " } ?? ""
            do {
                let node = try lab.node(p.node)
                switch p.kind {
                case let .listener(proto, address, ports, reply):
                    var bind: IPAddress?
                    if let address {
                        guard let a = IPAddress(address) else { return "process failed: \(place)\(p): \"\(address)\" is not an IP address" }
                        bind = a
                    }
                    for port in ports {
                        let s = try EchoServer.start(in: try node.namespace, port: port, proto: proto, address: bind,
                                                     lifetime: min(p.lifetime, ScenarioProcess.maxLifetime),
                                                     reply: reply.map { Array($0.utf8) })
                        servers[i, default: []].append(s)
                    }
                case let .command(argv, ready):
                    if let config = p.config {
                        let links = try node.links().filter { $0.name != "lo" }.sorted { $0.index < $1.index }
                        let v4 = try node.addresses(.ipv4).filter { $0.scope == 0 }.sorted { $0.index < $1.index }
                        let text = try config.render(node: node.name, routerId: v4.first.map { "\($0.prefix.address)" },
                                                     interfaces: links.map(\.name))
                        // Written by a shell in the node, so into its own (private) /tmp or /run.
                        let w = try await node.run(["/bin/sh", "-c", "mkdir -p \"${1%/*}\" && cat > \"$1\"", "sh", config.path],
                                                   stdin: Array(text.utf8),
                                                   timeout: 10)
                        if w.status != 0 {
                            return "process failed: \(place)\(p): writing \(config.path): exit \(w.status): \(w.errorOutput.trimmed)"
                        }
                    }
                    let process = try node.start(argv)
                    commands[i] = process
                    if let ready {
                        let seen = await Task.detached {
                            process.waitForOutput(containing: ready, timeout: ScenarioProcess.readyTimeout)
                        }.value
                        if !seen {
                            let status = process.exitStatus.map { "it exited \($0)" } ?? "it is still running"
                            return "process failed: \(place)\(p): \"\(ready)\" did not appear in its output within "
                                + "\(Int(ScenarioProcess.readyTimeout)) s (\(status)); output: \(process.output.trimmed) "
                                + "\(process.errorOutput.trimmed)"
                        }
                    }
                }
            } catch {
                return "process failed: \(place)\(p): \(error)"
            }
        }
        return nil
    }

    func reports(_ scenario: Scenario) -> [ScenarioReport.Process] {
        scenario.processes.enumerated().map { i, p in
            ScenarioReport.Process(process: p, place: scenario.source.place(ofProcess: i),
                                   peers: (servers[i] ?? []).flatMap(\.peers).map(\.description)
                                       .reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } },
                                   exitStatus: commands[i]?.exitStatus)
        }
    }

    /// Stops every listener and command (idempotent).
    func stop() {
        stopListeners()
        for c in commands.values { _ = c.stop(grace: 1) }
        servers = [:]
        commands = [:]
    }

    /// Stops the listeners (idempotent); they stay listed, so ``reports(_:)`` still has their peers.
    func stopListeners() {
        for s in servers.values.joined() { s.stop() }
    }
}

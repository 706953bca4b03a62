import Namespaces
import Netlink
import NetnsModel

/// The outcome of testing a scenario: what `nslab test` reports for it.
public struct ScenarioReport: Sendable {
    public enum Status: String, Sendable, Hashable {
        /// Every check held.
        case pass
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
        public var passed: Bool
        /// What the kernel did, in words.
        public var observed: String
        public var seconds: Double

        /// `router.yaml:31: h1 reaches 10.0.2.2`.
        public var name: String { (place.map { "\($0): " } ?? "") + expected }

        /// `router.yaml:31: h1 reaches 10.0.2.2 — observed: …` (the observation only when it failed).
        public var description: String { name + (passed ? "" : " — observed: \(observed)") }
    }

    /// A process the scenario ran, with what it saw.
    public struct Process: Sendable, CustomStringConvertible {
        public var process: ScenarioProcess
        public var place: String?
        /// Peer addresses a listener saw (NAT shows here), in order.
        public var peers: [String]
        /// A command's exit status when it had ended by teardown.
        public var exitStatus: Int32?

        public var description: String {
            (place.map { "\($0): " } ?? "") + "\(process)"
                + (process.isCommand ? " (a command: the escape hatch)" : "")
                + (peers.isEmpty ? "" : "; saw \(peers.joined(separator: ", "))")
                + (exitStatus.map { "; exited \($0)" } ?? "")
        }
    }

    public var scenario: String
    public var status: Status
    public var checks: [Check] = []
    /// Why it failed or was skipped, when that is not a failed check (a build, setup or process failure).
    public var reason: String?
    public var buildSeconds: Double?
    public var checkSeconds: Double?
    /// The lab's state when something failed.
    public var stateDump: String?
    public var processes: [Process] = []
    /// How many checks the scenario declares (all of them, also when it stopped before checking).
    public var total: Int

    public var passed: Int { checks.filter(\.passed).count }
    public var failures: [Check] { checks.filter { !$0.passed } }
}

extension Scenario {
    /// Tests the scenario the way `nslab test` does: skips when the kernel lacks a required
    /// feature, builds it in fixture mode, runs the setup commands, starts the processes, checks
    /// the expectations in order and then the verifications, stops the processes and tears down.
    ///
    /// A scenario with no checks that builds is ``ScenarioReport/Status/built``, never a pass.
    /// - Important: needs the privileges to build namespaces (see ``Lab/up(_:)``).
    public func test(features: KernelFeatures = .shared) async -> ScenarioReport {
        var report = ScenarioReport(scenario: name, status: .fail, total: checkCount)
        for feature in requires {
            if let o = features.probe(feature), !o.supported {
                report.status = .skip
                report.reason = "this kernel has no \(o.feature)" + (o.detail.map { " (\($0))" } ?? "")
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
                                       observed: r.observed, seconds: r.seconds))
        }
        for (i, v) in verifications.enumerated() {
            let r = await v.check(in: lab)
            report.checks.append(.init(expected: v.description, place: source.place(ofVerification: i),
                                       location: source.location(ofVerification: i), passed: r.passed,
                                       observed: r.observed, seconds: r.seconds))
        }
        report.checkSeconds = monotonicNow() - checkStart
        // Listeners stopped first, so that every connection the checks made is in their peers.
        running.stopListeners()
        report.processes = running.reports(self)
        if checkCount == 0 {
            report.status = .built
        } else if report.failures.isEmpty {
            report.status = .pass
        } else {
            report.stateDump = lab.stateDump()
        }
        return report
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

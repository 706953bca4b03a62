import ArgumentParser
import Foundation
import NetnsKit
import Scenarios

struct TestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Build scenarios (or topology files), check their expectations, tear them down.",
        discussion: """
            With no argument, every built-in scenario. Each is built in fixture mode (anonymous \
            namespaces that vanish with the process), set up, checked and torn down.
            Status: PASS (every expectation held), FAIL, SKIP (the kernel lacks a feature the \
            scenario requires; a skip is not a pass), BUILT (a file without expectations or \
            verifications that built: nothing was checked, so it is never counted as passed).
            A failed check names its file and line (router.yaml:31: h1 reaches 10.0.2.2).
            A scenario's fault timeline (steps:) runs after its expectations and verifications; \
            each of its checks is reported with the time it took to hold (its convergence time): \
            the ⏱ lines of the table, steps[] in --json, diagnostic lines in --ktap, <system-out> \
            in --junit.
            Exits 0 when nothing failed (skips and BUILT are printed but do not fail the run), 1 \
            otherwise; with --strict a BUILT file is a failure.

            --ktap prints KTAP version 1 instead of the table (a file without checks is \
            `ok N name # SKIP no checks`, or `not ok` with --strict) and exits with the kselftest \
            codes: 1 if anything failed, else 4 if everything was skipped, else 0.
            --junit FILE also writes JUnit XML, with any of the outputs.
            --shard I/N runs a deterministic share: the k-th selected target (0-based, in run \
            order, after --filter) goes to shard k % N, so shards 0…N-1 together are the whole run. \
            --shard N takes I from $JOB_COMPLETION_INDEX (a Kubernetes Indexed Job sets it).

            Scenarios run concurrently, -j N at a time (default: twice the cores, 2 to 8), each \
            in its own namespaces; the report keeps the run order. A scenario that measures time \
            or throughput declares `serial: true` in its file: it runs after the others, alone. \
            -j 1 runs everything one at a time.
            """)

    @Argument(help: "Scenario names, topology files (.yaml/.yml/.json) or directories of them.")
    var targets: [String] = []

    @Option(help: "Only scenarios or files whose name contains this text.")
    var filter: String?

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: ArgumentHelp("Run under this kernel, in a VM (an image such as /boot/vmlinuz-…, a kernel build directory, or `host` for the running kernel); repeat for a scenario × kernel table.", valueName: "path"))
    var kernel: [String] = []

    @OptionGroup(title: "VM options (with --kernel)") var vm: VMOptions

    @Flag(help: "Print KTAP (version 1) and exit with kselftest codes (0 pass, 1 fail, 4 all skipped).")
    var ktap = false

    @Flag(help: "A file without checks (BUILT) fails instead of passing (KTAP: not ok instead of SKIP).")
    var strict = false

    @Option(name: .customLong("junit"), help: ArgumentHelp("Also write JUnit XML to this file.", valueName: "file"))
    var junitPath: String?

    @Option(name: [.customShort("j"), .customLong("jobs")],
            help: ArgumentHelp("Scenarios to run at once (default: twice the cores, 2 to 8); `serial: true` ones run alone.",
                               valueName: "N"))
    var jobs: Int?

    @Option(help: ArgumentHelp("Run only shard I of N (0 ≤ I < N); `N` alone takes I from JOB_COMPLETION_INDEX.",
                               valueName: "I/N"))
    var shard: String?

    struct Failure: Codable {
        var check: String
        var observed: String
        /// A failed path check's path, hop by hop (`nslab explain`).
        var explanation: String?
    }

    struct ProcessResult: Codable {
        var process: String
        var place: String?
        /// `listener`, or `command (escape hatch)`.
        var kind: String
        var peers: [String]
        var exitStatus: Int32?
    }

    /// One step of a scenario's fault timeline: what it did and, for a check, how long it took to hold.
    struct StepResult: Codable {
        /// `linkDown: r1: ip link set eth1 down` style text: the step as the report prints it.
        var step: String
        var place: String?
        /// `change` or `check`.
        var kind: String
        /// `passed`, `failed` or `skipped` (not run after an earlier failed step).
        var outcome: String
        /// Milliseconds from the timeline's start to the step's start.
        var atMs: Double?
        /// A check's bound, in milliseconds.
        var withinMs: Double?
        /// For a check that held: milliseconds from the step's start until it held (convergence time).
        var convergenceMs: Double?
        var observed: String?

        /// `✔ +0.500 s flap.yaml:30: r1: ip link set eth1 down` or, for a check,
        /// `✔ +0.501 s flap.yaml:31: h1 reaches 10.0.2.2 — held after 0.012 s (within 3 s)`.
        var line: String {
            let mark = outcome == "passed" ? "✔" : outcome == "failed" ? "✘" : "–"
            let at = atMs.map { "+" + TestReport.seconds(Int($0.rounded())) + " s " } ?? ""
            var s = "\(mark) \(at)\(place.map { "\($0): " } ?? "")\(step)"
            switch outcome {
            case "passed":
                if let c = convergenceMs {
                    s += " — held after \(TestReport.seconds(Int(c.rounded()))) s"
                        + (withinMs.map { " (within \(TestReport.seconds(Int($0.rounded()))) s)" } ?? "")
                }
            case "failed": s += " — \(observed ?? "failed")"
            default: s += " (skipped after an earlier failure)"
            }
            return s
        }
    }

    struct Result: Codable {
        var name: String
        var source: String
        var status: TestStatus
        var passed: Int
        var total: Int
        var buildMs: Int?
        var checkMs: Int?
        /// The whole target: feature probes, build, setup, checks and teardown.
        var durationMs: Int?
        var reason: String?
        var failures: [Failure] = []
        var stateDump: String?
        /// The scenario's processes, with the peers its listeners saw; commands are the escape hatch.
        var processes: [ProcessResult]?
        /// The scenario's fault timeline, step by step, with each check's convergence time.
        var steps: [StepResult]?

        /// The result under `--strict`: a file that built without checking anything is a failure.
        var underStrict: Result {
            guard status == .built else { return self }
            var r = self
            r.status = .fail
            r.reason = "no checks (--strict)"
            return r
        }
    }

    func run() async throws {
        // Every option is checked before anything is built.
        let shard = try shard.map { try Shard(parsing: $0, environment: ProcessInfo.processInfo.environment) }
        if ktap && json {
            throw NslabError("--ktap and --json both choose what standard output carries; use one",
                             hint: "--junit FILE writes JUnit XML in addition to either")
        }
        if let jobs, jobs < 1 {
            throw NslabError("-j \(jobs): the number of scenarios to run at once must be at least 1")
        }
        let junit = try junitPath.map(Self.junitDestination)
        if !kernel.isEmpty { return try runMatrix(junit: junit) }
        try requirePrivileges("nslab test")

        let items = try selectTargets(shard: shard)
        var results = await Self.runAll(items, jobs: jobs ?? TestSchedule.defaultJobs, progress: !json)
        if strict { results = results.map(\.underStrict) }

        if json {
            print(try TestReport.json(results))
        } else if ktap {
            print(TestReport.ktap(results), terminator: "")
        } else {
            print(TestReport.table(results), terminator: "")
        }
        if let junit {
            var properties = [("kernel", kernelRelease())]
            if let shard { properties.append(("shard", shard.description)) }
            let suite = shard.map { "nslab test (shard \($0))" } ?? "nslab test"
            let text = TestReport.junit(results, suite: suite, properties: properties)
            do {
                try Data(text.utf8).write(to: junit, options: .atomic)
            } catch {
                throw NslabError("cannot write the JUnit report to \(junit.path): \(error.localizedDescription)")
            }
        }
        let status = TestReport.exitStatus(results, kselftest: ktap)
        if status != 0 { throw ExitCode(status) }
    }

    /// The targets of this run: collected, filtered, then this shard's share of them.
    private func selectTargets(shard: Shard?) throws -> [TestItem] {
        var items = try collect()
        if let filter { items = items.filter { $0.name.contains(filter) } }
        if items.isEmpty { throw NslabError("nothing to test" + (filter.map { " (no name contains \"\($0)\")" } ?? "")) }
        guard let shard else { return items }
        let mine = shard.select(items)
        if mine.isEmpty {
            standardError("nslab: shard \(shard) has none of the \(items.count) selected targets; nothing to run\n")
        }
        return mine
    }

    /// Tests the targets, `jobs` at a time (the serial ones afterwards, alone); a file that did not
    /// load is a failure of its own. The results keep the order of `items`.
    static func runAll(_ items: [TestItem], jobs: Int, progress: Bool) async -> [Result] {
        let results = await TestSchedule.run(count: items.count, jobs: jobs, serial: { i in
            if case .target(let t) = items[i] { return t.scenario?.serial ?? false }
            return false
        }, waits: { i in
            guard case .target(let t) = items[i] else { return 0 }
            return t.scenario.map(Self.timeoutChecks) ?? 0
        }) { i -> Result? in
            switch items[i] {
            case .unloadable(let name, let file, let problem):
                return Result(name: name, source: file, status: .fail, passed: 0, total: 0, reason: problem)
            case .target(let target):
                if progress { standardError("testing \(target.name)…\n") }
                let start = monotonicNow()
                var r = await test(target)
                r.durationMs = milliseconds(monotonicNow() - start)
                return r
            }
        }
        return results.compactMap { $0 }
    }

    /// How many of a scenario's checks may wait for a probe's timeout (a packet that is dropped,
    /// a port that does not answer): what makes a scenario slow, so it starts first.
    static func timeoutChecks(_ s: Scenario) -> Int {
        s.expectations.filter {
            switch $0 {
            case .unreachable: return true
            case .pingSize(_, _, _, let succeeds): return !succeeds
            case .tcp(_, _, _, let open), .tcpConnect(_, _, _, let open): return !open
            default: return false
            }
        }.count
    }

    /// Where `--junit` writes, checked before the run: an existing directory, not a directory itself.
    static func junitDestination(_ path: String) throws -> URL {
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        if path.isEmpty || path.hasSuffix("/") {
            throw NslabError("--junit needs a file name, not \"\(path)\"")
        }
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue {
            throw NslabError("--junit \(path) is a directory; give a file name inside it")
        }
        let parent = url.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue else {
            throw NslabError("cannot write the JUnit report to \(path): the directory \(parent) does not exist")
        }
        guard access(parent, W_OK) == 0 else {
            throw NslabError("cannot write the JUnit report to \(path): the directory \(parent) is not writable")
        }
        return url
    }

    /// `uname -r`.
    private func kernelRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    private func collect() throws -> [TestItem] {
        if targets.isEmpty {
            if !Catalogue.problems.isEmpty {
                throw NslabError("the built-in catalogue is broken: " + Catalogue.problems.joined(separator: "; "))
            }
            return Catalogue.all.map { .target(Target(topology: $0.topology, scenario: $0, source: $0.name)) }
        }
        var out: [TestItem] = []
        for t in targets {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: t, isDirectory: &isDir), isDir.boolValue {
                let files = ((try? FileManager.default.contentsOfDirectory(atPath: t)) ?? [])
                    .filter { ["yaml", "yml", "json"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
                if files.isEmpty { throw NslabError("\(t) has no .yaml, .yml or .json files") }
                for f in files { out.append(Self.load((t as NSString).appendingPathComponent(f))) }
            } else if looksLikeFile(t) {
                out.append(Self.load(t))
            } else {
                out.append(.target(try resolveTarget(t))) // an unknown scenario name stops the run: a typo
            }
        }
        return out
    }

    /// A file to test, or why it does not load (also said on standard error, with every problem).
    static func load(_ file: String) -> TestItem {
        do {
            return .target(try resolveTarget(file))
        } catch {
            let e = error as? NslabError ?? NslabError(describe(error))
            standardError("nslab: error: \(e.message)\n" + (e.hint.map { "  \($0)\n" } ?? ""))
            let name = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
            return .unloadable(name: name, file: file, problem: e.message)
        }
    }

    static func test(_ item: Target) async -> Result {
        let scenario = item.scenario ?? Scenario(name: item.topology.name, topology: item.topology)
        let report = await scenario.test()
        var result = Result(name: item.name, source: item.source, status: .fail, passed: report.passed,
                            total: report.total)
        switch report.status {
        case .pass: result.status = .pass
        case .fail: result.status = .fail
        case .skip: result.status = .skip
        case .built: result.status = .built
        }
        result.buildMs = report.buildSeconds.map(milliseconds)
        result.checkMs = report.checkSeconds.map(milliseconds)
        result.reason = report.reason
        result.failures = report.failures.map { Failure(check: $0.name, observed: $0.observed, explanation: $0.explanation) }
        result.stateDump = report.stateDump
        if !report.steps.isEmpty {
            result.steps = report.steps.map { step in
                let r = step.result
                var within: Double?
                let kind: String, text: String
                switch r.step.action {
                case let .check(e, w):
                    kind = "check"
                    within = Double(w.components.seconds) * 1000 + Double(w.components.attoseconds) / 1e15
                    text = "\(e)"
                case .change(let c):
                    kind = "change"
                    text = "\(c)"
                }
                let outcome: String
                switch r.outcome {
                case .passed: outcome = "passed"
                case .failed: outcome = "failed"
                case .skipped: outcome = "skipped"
                }
                let ms = { (s: Double) in (s * 1e6).rounded() / 1000 }
                return StepResult(step: text, place: step.place, kind: kind, outcome: outcome,
                                  atMs: r.outcome == .skipped ? nil : ms(r.startedAt), withinMs: within,
                                  convergenceMs: r.convergence.map(ms), observed: r.observed)
            }
        }
        if !report.processes.isEmpty {
            result.processes = report.processes.map {
                ProcessResult(process: "\($0.process)", place: $0.place,
                              kind: $0.process.isCommand ? "command (escape hatch)" : "listener",
                              peers: $0.peers, exitStatus: $0.exitStatus)
            }
        }
        return result
    }
}

/// One target of `nslab test`: something to build and check, or a file that did not load.
enum TestItem {
    case target(Target)
    case unloadable(name: String, file: String, problem: String)

    /// What `--filter` matches: the scenario's name, or the file's name without its extension.
    var name: String {
        switch self {
        case .target(let t): return t.name
        case .unloadable(let name, _, _): return name
        }
    }
}

extension TestCommand {
    /// `--kernel`: the same run under every kernel given, one column each. Each kernel's run is
    /// this command again (targets, filter, shard, --strict) with `--json`, inside its VM.
    func runMatrix(junit: URL?) throws {
        // A kernel that cannot run (no such file, no VM tools, no boot) is an error in its own
        // column; the other kernels still run and are reported.
        let kernels = kernel.map(KernelChoice.init)
        let matrix = KernelMatrix(kernels: kernels, vm: vm,
                                  arguments: KernelMatrix.forwardedArguments(Array(CommandLine.arguments.dropFirst(2))))
        let columns = matrix.run(progress: !json && !ktap)
        let summary = matrix.summary(columns)
        // KTAP and JUnit: one test per scenario and kernel, named `scenario [release]`.
        let cells = matrix.cells(columns)
        if json {
            print(try jsonText(summary))
        } else if ktap {
            print(TestReport.ktap(cells), terminator: "")
        } else {
            print(matrix.report(columns), terminator: "")
        }
        if let junit {
            let properties = columns.map { ("kernel", "\($0.kernel) \($0.release ?? "?") (\($0.how))") }
            let text = TestReport.junit(cells, suite: "nslab test (kernel matrix)", properties: properties)
            do {
                try Data(text.utf8).write(to: junit, options: .atomic)
            } catch {
                throw NslabError("cannot write the JUnit report to \(junit.path): \(error.localizedDescription)")
            }
        }
        let status = TestReport.exitStatus(cells, kselftest: ktap)
        if status != 0 { throw ExitCode(status) }
    }
}

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
            scenario requires; a skip is not a pass), BUILT (a file without expectations that built).
            Exits 0 when nothing failed (skips are printed but do not fail the run), 1 otherwise.
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

    struct Failure: Codable {
        var check: String
        var observed: String
    }

    struct Result: Codable {
        var name: String
        var source: String
        var status: String
        var passed: Int
        var total: Int
        var buildMs: Int?
        var checkMs: Int?
        var reason: String?
        var failures: [Failure] = []
        var stateDump: String?
    }

    func run() async throws {
        if !kernel.isEmpty { return try runMatrix() }
        try requirePrivileges("nslab test")
        var items = try collect()
        if let filter { items = items.filter { $0.name.contains(filter) } }
        if items.isEmpty { throw NslabError("nothing to test" + (filter.map { " (no name contains \"\($0)\")" } ?? "")) }
        var results: [Result] = []
        for item in items {
            if !json { standardError("testing \(item.name)…\n") }
            results.append(await Self.test(item))
        }
        if json {
            struct Summary: Codable { var results: [Result]; var passed: Int; var failed: Int; var skipped: Int }
            print(try jsonText(Summary(results: results, passed: results.filter { $0.status == "PASS" || $0.status == "BUILT" }.count,
                                       failed: results.filter { $0.status == "FAIL" }.count,
                                       skipped: results.filter { $0.status == "SKIP" }.count)))
        } else {
            print(Self.report(results), terminator: "")
        }
        if results.contains(where: { $0.status == "FAIL" }) { throw ExitCode(1) }
    }

    private func collect() throws -> [Target] {
        if targets.isEmpty {
            return Catalogue.all.map { Target(topology: $0.topology, scenario: $0, source: $0.name) }
        }
        var out: [Target] = []
        for t in targets {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: t, isDirectory: &isDir), isDir.boolValue {
                let files = ((try? FileManager.default.contentsOfDirectory(atPath: t)) ?? [])
                    .filter { ["yaml", "yml", "json"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
                if files.isEmpty { throw NslabError("\(t) has no .yaml, .yml or .json files") }
                for f in files { out.append(try resolveTarget((t as NSString).appendingPathComponent(f))) }
            } else {
                out.append(try resolveTarget(t))
            }
        }
        return out
    }

    static func test(_ item: Target) async -> Result {
        var result = Result(name: item.name, source: item.source, status: "FAIL", passed: 0,
                            total: (item.scenario?.expectations.count ?? 0) + (item.scenario?.verifications.count ?? 0))
        // A feature the kernel lacks is a skip, found before building when we can probe it.
        for feature in item.scenario?.requires ?? [] {
            if let o = KernelFeatures.shared.probe(feature), !o.supported {
                result.status = "SKIP"
                result.reason = "this kernel has no \(o.feature)" + (o.detail.map { " (\($0))" } ?? "")
                return result
            }
        }
        let lab: Lab
        let start = monotonicNow()
        do {
            lab = try await Lab.up(item.topology)
        } catch let e as BuildError where e.unsupportedFeature != nil {
            result.status = "SKIP"
            result.reason = "this kernel has no \(e.unsupportedFeature!)"
            return result
        } catch {
            result.reason = "build failed: \(describe(error))"
            return result
        }
        result.buildMs = milliseconds(monotonicNow() - start)
        defer { lab.down() }

        for command in item.scenario?.setup ?? [] {
            do {
                let r = try await lab.node(command.node).run(command.argv, stdin: command.stdin.map { Array($0.utf8) }, timeout: 30)
                if r.status != 0 {
                    result.reason = "setup failed: \(command): exit \(r.status): \(r.errorOutput.trimmedText)"
                    result.stateDump = lab.stateDump()
                    return result
                }
            } catch {
                result.reason = "setup failed: \(command): \(describe(error))"
                result.stateDump = lab.stateDump()
                return result
            }
        }

        guard let scenario = item.scenario else {
            result.status = "BUILT"
            return result
        }
        let checkStart = monotonicNow()
        let expectations = await lab.check(scenario.expectations)
        var verifications: [VerificationResult] = []
        for v in scenario.verifications { verifications.append(await v.check(in: lab)) }
        result.checkMs = milliseconds(monotonicNow() - checkStart)
        result.passed = expectations.filter(\.passed).count + verifications.filter(\.passed).count
        result.failures = expectations.filter { !$0.passed }.map { Failure(check: "\($0.expectation)", observed: $0.observed) }
            + verifications.filter { !$0.passed }.map { Failure(check: "\($0.verification)", observed: $0.observed) }
        if result.failures.isEmpty {
            result.status = "PASS"
        } else {
            result.stateDump = lab.stateDump()
        }
        return result
    }

    static func report(_ results: [Result]) -> String {
        var t = TextTable("SCENARIO", "CHECKS", "BUILD", "CHECK", "STATUS")
        for r in results {
            let checks = r.status == "SKIP" || r.status == "BUILT" || r.total == 0 ? "-" : "\(r.passed)/\(r.total)"
            t.add([r.name, checks, r.buildMs.map { "\($0) ms" } ?? "-", r.checkMs.map { "\($0) ms" } ?? "-",
                   r.status + (r.reason.map { " (\($0))" } ?? "")])
        }
        var s = t.text
        for r in results where r.status == "FAIL" {
            s += "\n✘ \(r.name)\n"
            if let reason = r.reason { s += "  \(reason)\n" }
            for f in r.failures { s += "  ✘ \(f.check)\n      observed: \(f.observed)\n" }
            if let dump = r.stateDump { s += "  lab state:\n" + dump.split(separator: "\n").map { "    \($0)\n" }.joined() }
        }
        let failed = results.filter { $0.status == "FAIL" }.count
        let skipped = results.filter { $0.status == "SKIP" }.count
        let ok = results.count - failed - skipped
        s += "\n\(ok) passed, \(failed) failed, \(skipped) skipped\n"
        return s
    }
}

extension TestCommand {
    /// `--kernel`: the same run under every kernel given, one column each.
    func runMatrix() throws {
        // A kernel that cannot run (no such file, no VM tools, no boot) is an error in its own
        // column; the other kernels still run and are reported.
        let kernels = kernel.map(KernelChoice.init)
        let matrix = KernelMatrix(kernels: kernels, vm: vm,
                                  arguments: KernelMatrix.forwardedArguments(Array(CommandLine.arguments.dropFirst(2))),
                                  strict: false)
        let columns = matrix.run(progress: !json)
        let summary = matrix.summary(columns)
        if json {
            print(try jsonText(summary))
        } else {
            print(matrix.report(columns), terminator: "")
        }
        if summary.failed > 0 { throw ExitCode(1) }
    }
}

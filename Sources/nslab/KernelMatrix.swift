import ArgumentParser
import Foundation
import NetnsKit

/// `nslab test --kernel K1 --kernel K2 …`: the same run once per kernel, each in a VM booted
/// with that kernel (`host`: the running kernel, no VM), reported as one scenario × kernel table.
struct KernelMatrix {
    /// One kernel's column.
    struct Column: Codable {
        /// The kernel as given (`host` or a path).
        var kernel: String
        /// `uname -r` where the run happened.
        var release: String?
        /// `host`, `kvm` or `software emulation`.
        var how: String
        /// Why the run produced no results (the VM did not boot, the guest crashed…).
        var error: String?
        var seconds: Double
        var results: [TestCommand.Result]
    }

    struct Summary: Codable {
        var kernels: [Column]
        var passed: Int
        var failed: Int
        var skipped: Int
        /// Cells that built without checks (never counted as passed).
        var built: Int?
    }

    var kernels: [KernelChoice]
    var vm: VMOptions
    /// The `nslab test` arguments to repeat under every kernel (targets, filters, shards…).
    var arguments: [String]

    /// Runs every kernel in turn; a kernel whose run fails is reported, and the others still run.
    func run(progress: Bool) -> [Column] {
        var columns: [Column] = []
        for k in kernels {
            if progress { standardError("== kernel \(k.label)\n") }
            let start = monotonicNow()
            var column = Column(kernel: k.label, release: nil, how: k == .host ? "host" : "vm", error: nil, seconds: 0, results: [])
            do {
                try runOne(k, into: &column, progress: progress)
            } catch {
                column.error = describe(error)
                if progress { standardError("nslab: kernel \(k.label): \(column.error!)\n") }
            }
            column.seconds = monotonicNow() - start
            columns.append(column)
        }
        return columns
    }

    private func runOne(_ kernel: KernelChoice, into column: inout Column, progress: Bool) throws {
        let guest = try NslabRun.run(["test", "--json"] + arguments, on: kernel, vm: vm) {
            if progress { writeAll(2, Array($0)) }
        }
        column.how = guest.how
        column.release = guest.release
        struct Run: Decodable { var results: [TestCommand.Result] }
        guard let run = try? JSONDecoder().decode(Run.self, from: guest.output) else {
            throw NslabError("`nslab test` exited with status \(guest.status) and printed no results"
                + (guest.lastErrorLines.isEmpty ? "" : ": \(guest.lastErrorLines)"))
        }
        column.results = run.results
    }

    /// Whether a cell counts as a failure (`--strict` is passed on, so the guest has already
    /// turned a file without checks into one).
    func failed(_ r: TestCommand.Result) -> Bool { r.status == .fail }

    /// Every cell as one result named `scenario [release]`, for KTAP and JUnit; a kernel that
    /// could not run is one failed result of its own.
    func cells(_ columns: [Column]) -> [TestCommand.Result] {
        columns.flatMap { c -> [TestCommand.Result] in
            let tag = c.release ?? c.kernel
            if let e = c.error {
                return [TestCommand.Result(name: "kernel \(c.kernel)", source: "kernel \(c.kernel)", status: .fail, passed: 0, total: 0,
                                           reason: e)]
            }
            return c.results.map { r in
                var r = r
                // The row's label (its file too), then the kernel; the label is the whole name now.
                r.name = "\(r.label) [\(tag)]"
                r.source = r.name
                return r
            }
        }
    }

    func summary(_ columns: [Column]) -> Summary {
        let cells = columns.flatMap(\.results)
        return Summary(kernels: columns,
                       passed: cells.filter { !failed($0) && $0.status != .skip && $0.status != .built }.count,
                       failed: cells.filter(failed).count + columns.filter { $0.error != nil }.count,
                       skipped: cells.filter { $0.status == .skip }.count,
                       built: cells.filter { !failed($0) && $0.status == .built }.count)
    }

    /// One row per scenario, one column per kernel (its release and how it ran in the header).
    func report(_ columns: [Column]) -> String {
        var names: [String] = []
        for c in columns { for r in c.results where !names.contains(r.name) { names.append(r.name) } }
        let headers = columns.map { c in
            let release = c.release ?? (c.kernel == "host" ? "host" : (try? KernelImage.check(c.kernel).release) ?? nil) ?? c.kernel
            return c.kernel == "host" ? "host \(release)" : "\(release) (\(c.how))"
        }
        var t = TextTable(["SCENARIO"] + headers)
        for name in names {
            t.add([name] + columns.map { c in
                if c.error != nil { return "ERROR" }
                guard let r = c.results.first(where: { $0.name == name }) else { return "-" }
                let checks = r.total > 0 && r.status != .skip ? " \(r.passed)/\(r.total)" : ""
                return r.status.rawValue + checks
            })
        }
        var s = t.text
        for (c, header) in zip(columns, headers) {
            if let e = c.error { s += "\n✘ " + (e.hasPrefix("kernel \(c.kernel)") ? e : "kernel \(c.kernel): \(e)") + "\n" }
            for r in c.results where failed(r) {
                s += "\n✘ \(r.name) on \(header)\n"
                if let reason = r.reason { s += "  \(reason)\n" }
                for f in r.failures { s += "  ✘ \(f.check)\n      observed: \(f.observed)\n" }
            }
            let skips = c.results.filter { $0.status == .skip }
            if !skips.isEmpty {
                s += "\nskipped on \(header): " + skips.map { "\($0.name) (\($0.reason ?? "no reason"))" }.joined(separator: "; ") + "\n"
            }
        }
        let sum = summary(columns)
        s += "\n\(sum.passed) passed, \(sum.failed) failed, \(sum.skipped) skipped"
            + ((sum.built ?? 0) > 0 ? ", \(sum.built!) built without checks" : "") + "\n"
        return s
    }

    /// `nslab test`'s own arguments minus what only the matrix uses (kernels, VM options,
    /// output formats), to run again under every kernel.
    static func forwardedArguments(_ all: [String]) -> [String] {
        let withValue: Set<String> = ["--kernel", "--memory", "--cpus", "--boot-timeout", "--timeout", "--rwdir", "--qemu", "--junit"]
        let flags: Set<String> = ["--json", "--ktap"] // --strict, --shard, --filter and the targets go on
        var out: [String] = []
        var i = 0
        while i < all.count {
            let a = all[i]
            let name = String(a.prefix { $0 != "=" })
            if withValue.contains(name) {
                i += a.contains("=") ? 1 : 2
                continue
            }
            if flags.contains(a) { i += 1; continue }
            out.append(a)
            i += 1
        }
        return out
    }
}

func makeTemporaryDirectory(_ prefix: String) throws -> String {
    var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
    guard let p = mkdtemp(&template) else { throw NslabError("cannot create a directory in /tmp: \(String(cString: strerror(errno)))") }
    return String(cString: p)
}

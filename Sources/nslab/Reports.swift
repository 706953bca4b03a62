import Foundation

// The outputs of `nslab test`: each is a function of the results array alone (plus labels), so
// one run can be rendered as a table, JSON, KTAP and JUnit XML alike.

/// The outcome of one `nslab test` target.
enum TestStatus: String, Codable, Hashable {
    /// Every expectation and verification held.
    case pass = "PASS"
    case fail = "FAIL"
    /// The kernel lacks a feature the target needs; a skip is not a pass.
    case skip = "SKIP"
    /// A topology file without expectations that built (and tore down): nothing was checked.
    case built = "BUILT"
}

extension TestCommand.Result {
    /// The row's name: the scenario's, and the file it came from when it came from one, since
    /// two files may hold scenarios of the same name.
    var label: String { source == name ? name : "\(name) (\(source))" }
}

extension TestReport {
    /// The name of each result in a KTAP or JUnit report: its ``TestCommand/Result/label`` (the
    /// scenario, and the file it came from: `firewall (lab/firewall.yaml)`), made unique by
    /// ` (2)`, ` (3)`… when the same target was given more than once, so a CI system that keys
    /// tests by name keeps every row.
    static func uniqueNames(_ results: [TestCommand.Result]) -> [String] {
        var seen: [String: Int] = [:]
        let labels = results.map(\.label)
        let taken = Set(labels)
        return labels.map { label in
            seen[label, default: 0] += 1
            guard seen[label]! > 1 else { return label }
            var n = seen[label]!
            while taken.contains("\(label) (\(n))") { n += 1 }
            return "\(label) (\(n))"
        }
    }
}

/// A row holds one line: the first line of a text, with `…` when more follows (the details
/// below the table have it all).
private func firstLine(_ text: String) -> String {
    guard let end = text.firstIndex(of: "\n") else { return text }
    return String(text[..<end]) + " …"
}

enum TestReport {
    // MARK: Table and JSON

    /// The table `nslab test` prints, then the details of each failure and a summary line.
    static func table(_ results: [TestCommand.Result]) -> String {
        var t = TextTable("SCENARIO", "CHECKS", "BUILD", "CHECK", "STATUS")
        for r in results {
            let checks = r.status == .skip || r.status == .built || r.total == 0 ? "-" : "\(r.passed)/\(r.total)"
            t.add([r.label, checks, r.buildMs.map { "\($0) ms" } ?? "-", r.checkMs.map { "\($0) ms" } ?? "-",
                   r.status.rawValue + (r.reason.map { " (\(firstLine($0)))" } ?? "")])
        }
        var s = t.text
        for r in results where r.status == .fail {
            s += "\n✘ \(r.label)\n"
            for line in details(r) { s += "  \(line)\n" }
        }
        for r in results {
            guard let steps = r.steps, r.status != .fail else { continue }
            s += "\n⏱ \(r.label): fault timeline\n"
            for step in steps { s += "  \(step.line)\n" }
        }
        for r in results {
            for p in r.processes ?? [] where p.kind != "listener" {
                s += "\n⚠ \(r.name): \(p.place.map { "\($0): " } ?? "")runs a command, the escape hatch: \(p.process)"
            }
        }
        if results.contains(where: { ($0.processes ?? []).contains { $0.kind != "listener" } }) { s += "\n" }
        s += "\n" + counts(results) + "\n"
        return s
    }

    /// `3 passed, 1 failed, 0 skipped, 1 built without checks`: a BUILT target checked nothing and
    /// is never counted as passed.
    static func counts(_ results: [TestCommand.Result]) -> String {
        let passed = results.filter { $0.status == .pass }.count
        let failed = results.filter { $0.status == .fail }.count
        let skipped = results.filter { $0.status == .skip }.count
        let built = results.filter { $0.status == .built }.count
        return "\(passed) passed, \(failed) failed, \(skipped) skipped" + (built > 0 ? ", \(built) built without checks" : "")
    }

    /// `--json`: the results and counts; a BUILT target counts in `built`, not in `passed`.
    static func json(_ results: [TestCommand.Result]) throws -> String {
        struct Summary: Codable {
            var results: [TestCommand.Result]
            var passed: Int
            var failed: Int
            var skipped: Int
            var built: Int
        }
        return try jsonText(Summary(results: results,
                                    passed: results.filter { $0.status == .pass }.count,
                                    failed: results.filter { $0.status == .fail }.count,
                                    skipped: results.filter { $0.status == .skip }.count,
                                    built: results.filter { $0.status == .built }.count))
    }

    /// Why a failed target failed, one line each, indented: the reason, each failed check with
    /// what was observed, then the lab state.
    static func details(_ r: TestCommand.Result) -> [String] {
        var lines: [String] = []
        if let reason = r.reason { lines += reason.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        for f in r.failures {
            lines.append("✘ \(f.check)")
            lines.append("    observed: \(f.observed)")
            if let why = f.explanation { lines += why.split(separator: "\n").map { "    \($0)" } }
        }
        if let steps = r.steps {
            lines.append("fault timeline:")
            lines += steps.map { "  \($0.line)" }
        }
        if let dump = r.stateDump {
            lines.append("lab state:")
            lines += dump.split(separator: "\n").map { "  \($0)" }
        }
        return lines
    }

    // MARK: KTAP

    /// KTAP version 1: the version line, the plan `1..N`, then `ok N name` / `not ok N name` per
    /// target in order (the name says the file too, ``uniqueNames(_:)``); a failure's details come first as `# ` diagnostic lines; a skip is
    /// `ok N name # SKIP reason`, and so is a file without checks (`# SKIP no checks`).
    static func ktap(_ results: [TestCommand.Result]) -> String {
        var s = "KTAP version 1\n1..\(results.count)\n"
        let names = uniqueNames(results)
        for (i, r) in results.enumerated() {
            let n = i + 1, name = ktapName(names[i])
            switch r.status {
            case .pass:
                for step in r.steps ?? [] { s += "# \(oneLine(step.line))\n" }
                s += "ok \(n) \(name)\n"
            case .skip:
                s += "ok \(n) \(name) # SKIP \(oneLine(r.reason ?? "skipped"))\n"
            case .built:
                s += "ok \(n) \(name) # SKIP no checks\n"
            case .fail:
                var lines = details(r)
                if r.reason == nil { lines.insert(failedChecks(r), at: 0) }
                for line in lines.flatMap({ $0.split(separator: "\n", omittingEmptySubsequences: false) }) {
                    s += "# \(line)\n"
                }
                s += "not ok \(n) \(name)\n"
            }
        }
        return s
    }

    /// `2 of 10 checks failed`, and how many did not run (the checks of a fault timeline after
    /// its first failed step): `2 of 10 checks failed, 6 did not run`.
    static func failedChecks(_ r: TestCommand.Result) -> String {
        guard r.steps != nil else { return "\(r.total - r.passed) of \(r.total) checks failed" }
        let failed = r.failures.count, notRun = r.total - r.passed - failed
        return "\(failed) of \(r.total) checks failed" + (notRun > 0 ? ", \(notRun) did not run" : "")
    }

    /// A test name KTAP parsers read back whole: one line, no `#` (which starts a directive).
    static func ktapName(_ name: String) -> String {
        let cleaned = oneLine(name).replacingOccurrences(of: "#", with: "_")
        return cleaned.isEmpty ? "unnamed" : cleaned
    }

    private static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: { $0.isNewline }).joined(separator: " ")
    }

    // MARK: JUnit XML

    /// JUnit XML (the Ant/Jenkins/GitLab/GitHub dialect): one `testsuite` named `suite` with one
    /// `testcase` per target, named as in KTAP (``uniqueNames(_:)``), with a `file` attribute when
    /// it came from a file; a failure has `<failure message=…>` with the details as its text,
    /// a skip (and a file without checks) `<skipped message=…>`; times in seconds.
    ///
    /// - Parameters:
    ///   - properties: name/value pairs recorded in the suite (kernel, shard…).
    static func junit(_ results: [TestCommand.Result], suite: String, properties: [(String, String)] = [],
                      timestamp: Date = Date(), hostname: String = ProcessInfo.processInfo.hostName) -> String {
        let failures = results.filter { $0.status == .fail }.count
        let skipped = results.filter { $0.status == .skip || $0.status == .built }.count
        let time = seconds(results.reduce(0) { $0 + ($1.durationMs ?? 0) })
        let counts = "tests=\"\(results.count)\" failures=\"\(failures)\" errors=\"0\" skipped=\"\(skipped)\" time=\"\(time)\""
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<testsuites name=\"\(xml(suite, attribute: true))\" \(counts)>\n"
        s += "  <testsuite name=\"\(xml(suite, attribute: true))\" \(counts) timestamp=\"\(isoTimestamp(timestamp))\""
            + " hostname=\"\(xml(hostname, attribute: true))\">\n"
        if !properties.isEmpty {
            s += "    <properties>\n"
            for (name, value) in properties {
                s += "      <property name=\"\(xml(name, attribute: true))\" value=\"\(xml(value, attribute: true))\"/>\n"
            }
            s += "    </properties>\n"
        }
        for (r, name) in zip(results, uniqueNames(results)) {
            s += "    <testcase name=\"\(xml(name, attribute: true))\" classname=\"\(xml(suite, attribute: true))\""
                + (r.source == r.name ? "" : " file=\"\(xml(r.source, attribute: true))\"")
                + " time=\"\(seconds(r.durationMs ?? 0))\""
            switch r.status {
            case .pass:
                if let steps = r.steps {
                    // The timeline with each check's convergence time, as the table prints it.
                    s += ">\n      <system-out>" + xml("fault timeline:\n" + steps.map { "  \($0.line)" }.joined(separator: "\n"),
                                                     attribute: false) + "</system-out>\n    </testcase>\n"
                } else {
                    s += "/>\n"
                }
            case .skip:
                s += ">\n      <skipped message=\"\(xml(r.reason ?? "skipped", attribute: true))\"/>\n    </testcase>\n"
            case .built:
                s += ">\n      <skipped message=\"no checks\"/>\n    </testcase>\n"
            case .fail:
                let message = r.reason ?? failedChecks(r)
                s += ">\n      <failure message=\"\(xml(message, attribute: true))\" type=\"FAIL\">"
                    + xml(details(r).joined(separator: "\n"), attribute: false) + "</failure>\n    </testcase>\n"
            }
        }
        s += "  </testsuite>\n</testsuites>\n"
        return s
    }

    /// Milliseconds as seconds with three decimals: `1.234`.
    static func seconds(_ ms: Int) -> String {
        "\(ms / 1000)." + String(repeating: "0", count: 3 - String(ms % 1000).count) + String(ms % 1000)
    }

    /// `2026-12-01T20:35:07` in UTC (the JUnit schema's form, without a zone).
    static func isoTimestamp(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return f.string(from: date)
    }

    /// Escapes text for XML 1.0: the five special characters, line breaks and tabs in attributes
    /// (so they survive attribute normalization), and characters XML cannot carry become U+FFFD.
    static func xml(_ text: String, attribute: Bool) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += attribute ? "&quot;" : "\""
            case "'": out += attribute ? "&apos;" : "'"
            case "\n": out += attribute ? "&#10;" : "\n"
            case "\t": out += attribute ? "&#9;" : "\t"
            case "\r": out += "&#13;"
            default:
                let v = c.value
                let allowed = v >= 0x20 && v != 0xFFFE && v != 0xFFFF
                out.unicodeScalars.append(allowed ? c : "\u{FFFD}")
            }
        }
        return out
    }

    // MARK: Exit status

    /// The exit status of a run. Without `kselftest`: 0 when nothing failed, else 1. With it
    /// (`--ktap`), the kselftest codes: 1 if anything failed, else 4 (KSFT_SKIP) if there were
    /// targets and every one was skipped (a file without checks counts as skipped), else 0.
    static func exitStatus(_ results: [TestCommand.Result], kselftest: Bool) -> Int32 {
        if results.contains(where: { $0.status == .fail }) { return 1 }
        if kselftest && !results.isEmpty && results.allSatisfy({ $0.status == .skip || $0.status == .built }) { return 4 }
        return 0
    }
}

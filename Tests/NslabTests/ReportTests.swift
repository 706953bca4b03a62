import Foundation
import FoundationXML
import Testing

@testable import nslab

// The outputs of `nslab test` (KTAP, JUnit XML, exit codes) and the shard selection, as pure
// functions of results; the CLI tests at the end run the built binary.

/// A result as `nslab test` makes them.
private func result(_ name: String, _ status: TestStatus, reason: String? = nil, passed: Int = 0, total: Int = 0,
                    failures: [TestCommand.Failure] = [], ms: Int = 0) -> TestCommand.Result {
    TestCommand.Result(name: name, source: name, status: status, passed: passed, total: total, buildMs: nil, checkMs: nil,
                       durationMs: ms, reason: reason, failures: failures, stateDump: nil)
}

/// What an XML parser reads back: each element's name and attributes, and the text inside
/// `failure` elements; nil when the document is not well-formed.
private final class XMLReadBack: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var failureText = ""
    private var inFailure = false

    static func parse(_ text: String) -> XMLReadBack? {
        let parser = XMLParser(data: Data(text.utf8))
        let reader = XMLReadBack()
        parser.delegate = reader
        return parser.parse() ? reader : nil
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String]) {
        elements.append((name, attributes))
        if name == "failure" { inFailure = true }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "failure" { inFailure = false }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inFailure { failureText += string }
    }

    func all(_ name: String) -> [[String: String]] { elements.filter { $0.name == name }.map(\.attributes) }
}

@Suite struct ShardTests {
    /// The N shards of any selection are exactly the selection: same items, none twice, in order,
    /// and balanced to within one item.
    @Test(arguments: [1, 2, 3, 4, 5, 7, 13, 20])
    func sharesTogetherAreTheWholeRun(count: Int) {
        for total in [0, 1, 2, 3, 4, 5, 12, 13, 14, 40, 101] {
            let items = (0..<total).map { "t\($0)" }
            let shares = (0..<count).map { Shard(index: $0, count: count).select(items) }
            let union = shares.flatMap { $0 }
            #expect(union.count == items.count, "N=\(count), \(total) targets: \(shares)")
            #expect(Set(union) == Set(items), "N=\(count), \(total) targets: \(shares)")
            #expect(Set(union).count == union.count, "a target in two shards: N=\(count), \(shares)")
            for share in shares {
                // Each share keeps the run's order (a subsequence of it).
                #expect(share == items.filter(share.contains), "N=\(count): \(share) out of order")
            }
            let sizes = shares.map(\.count)
            #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1, "N=\(count), \(total) targets: sizes \(sizes)")
        }
    }

    /// The documented rule: the k-th target goes to shard k % N.
    @Test func roundRobin() {
        let items = Array(0..<10)
        #expect(Shard(index: 0, count: 4).select(items) == [0, 4, 8])
        #expect(Shard(index: 1, count: 4).select(items) == [1, 5, 9])
        #expect(Shard(index: 3, count: 4).select(items) == [3, 7])
        #expect(Shard(index: 0, count: 1).select(items) == items)
    }

    @Test func parsesIndexAndCount() throws {
        #expect(try Shard(parsing: "0/4", environment: [:]) == Shard(index: 0, count: 4))
        #expect(try Shard(parsing: "3/4", environment: [:]) == Shard(index: 3, count: 4))
        #expect(try Shard(parsing: "0/1", environment: [:]) == Shard(index: 0, count: 1))
        // `N` alone: the index comes from JOB_COMPLETION_INDEX.
        #expect(try Shard(parsing: "4", environment: ["JOB_COMPLETION_INDEX": "2"]) == Shard(index: 2, count: 4))
        // I/N wins over the environment.
        #expect(try Shard(parsing: "1/4", environment: ["JOB_COMPLETION_INDEX": "2"]) == Shard(index: 1, count: 4))
    }

    @Test(arguments: [
        ("0/0", [:], "at least 1"),
        ("4/4", [:], "below the number of shards"),
        ("9/4", [:], "below the number of shards"),
        ("x/4", [:], "\"x\" is not a whole number"),
        ("1/x", [:], "expected I/N or N"),
        ("-1/4", [:], "not a whole number"),
        ("1/-4", [:], "expected I/N or N"),
        ("1.0/4", [:], "not a whole number"),
        ("1/2/3", [:], "expected I/N or N"),
        ("", [:], "expected I/N or N"),
        ("/4", [:], "not a whole number"),
        ("1/", [:], "expected I/N or N"),
        ("99999999999/4", [:], "not a whole number"),
        ("4", [:], "JOB_COMPLETION_INDEX, which is not set"),
        ("4", ["JOB_COMPLETION_INDEX": "abc"], "JOB_COMPLETION_INDEX=\"abc\""),
        ("4", ["JOB_COMPLETION_INDEX": "4"], "from JOB_COMPLETION_INDEX"),
        ("0", ["JOB_COMPLETION_INDEX": "0"], "at least 1"),
    ] as [(String, [String: String], String)])
    func rejectsBadValues(text: String, environment: [String: String], mentions: String) {
        do {
            let s = try Shard(parsing: text, environment: environment)
            Issue.record("--shard \"\(text)\" was accepted as \(s)")
        } catch let e as NslabError {
            #expect(e.message.contains(mentions), "\(e.message)")
        } catch {
            Issue.record("not an NslabError: \(error)")
        }
    }
}

@Suite struct KTAPTests {
    @Test func versionPlanAndOneLinePerResult() {
        let text = TestReport.ktap([
            result("two-hosts", .pass, passed: 2, total: 2),
            result("vxlan", .skip, reason: "this kernel has no vxlan (Unknown device type)"),
            result("file", .built),
            result("router", .fail, passed: 1, total: 2,
                   failures: [TestCommand.Failure(check: "h1 reaches 10.0.2.2", observed: "100% loss\nno reply")]),
            result("broken", .fail, reason: "build failed: EEXIST"),
        ])
        #expect(text == """
            KTAP version 1
            1..5
            ok 1 two-hosts
            ok 2 vxlan # SKIP this kernel has no vxlan (Unknown device type)
            ok 3 file # SKIP no checks
            # 1 of 2 checks failed
            # ✘ h1 reaches 10.0.2.2
            #     observed: 100% loss
            # no reply
            not ok 4 router
            # build failed: EEXIST
            not ok 5 broken

            """)
    }

    @Test func strictMakesAFileWithoutChecksNotOk() {
        let text = TestReport.ktap([result("file", .built).underStrict, result("ok", .pass).underStrict])
        #expect(text == "KTAP version 1\n1..2\n# no checks (--strict)\nnot ok 1 file\nok 2 ok\n")
    }

    @Test func emptyRunHasAnEmptyPlan() {
        #expect(TestReport.ktap([]) == "KTAP version 1\n1..0\n")
    }

    /// A name or reason cannot end the line or open a directive of its own.
    @Test func namesAndReasonsStayOnTheirLine() {
        let text = TestReport.ktap([result("a#b\nc", .skip, reason: "two\nlines")])
        #expect(text == "KTAP version 1\n1..1\nok 1 a_b c # SKIP two lines\n")
    }

    @Test func kselftestExitCodes() {
        let pass = result("p", .pass), fail = result("f", .fail), skip = result("s", .skip), built = result("b", .built)
        #expect(TestReport.exitStatus([pass, skip], kselftest: true) == 0)
        #expect(TestReport.exitStatus([pass, fail, skip], kselftest: true) == 1)
        #expect(TestReport.exitStatus([skip, skip], kselftest: true) == 4)
        #expect(TestReport.exitStatus([skip, built], kselftest: true) == 4)
        #expect(TestReport.exitStatus([built.underStrict], kselftest: true) == 1)
        #expect(TestReport.exitStatus([], kselftest: true) == 0)
        // Without --ktap: today's codes.
        #expect(TestReport.exitStatus([skip, skip], kselftest: false) == 0)
        #expect(TestReport.exitStatus([pass, built], kselftest: false) == 0)
        #expect(TestReport.exitStatus([pass, fail], kselftest: false) == 1)
        #expect(TestReport.exitStatus([built.underStrict], kselftest: false) == 1)
    }
}

@Suite struct JUnitTests {
    static let nasty = "a < b && c > \"d\" 'e'\nline 2\ttab \u{1}\u{1B}[0m ]]> <!-- -->"

    /// A report names each row as the table does, and no two alike.
    @Test func namesSayTheFileAndAreUnique() throws {
        var fromFile = result("firewall", .pass), again = result("firewall", .pass)
        fromFile.source = "lab/firewall.yaml"
        again.source = "other/fw.yaml"
        let results = [result("firewall", .pass), fromFile, again, result("firewall", .pass), result("firewall (2)", .pass)]
        #expect(TestReport.uniqueNames(results)
                == ["firewall", "firewall (lab/firewall.yaml)", "firewall (other/fw.yaml)", "firewall (3)", "firewall (2)"])
        let xml = try #require(XMLReadBack.parse(TestReport.junit(results, suite: "s")))
        #expect(xml.all("testcase").map { $0["file"] } == [nil, "lab/firewall.yaml", "other/fw.yaml", nil, nil])
        // A kernel matrix names each cell by the row and the kernel.
        let matrix = KernelMatrix(kernels: [], vm: VMOptions(), arguments: [])
        let cells = matrix.cells([KernelMatrix.Column(kernel: "host", release: "6.18.0", how: "host", error: nil, seconds: 1,
                                                      results: [result("firewall", .pass), fromFile])])
        #expect(TestReport.uniqueNames(cells) == ["firewall [6.18.0]", "firewall (lab/firewall.yaml) [6.18.0]"])
    }

    @Test func wellFormedWithCountsTimesAndEscapedText() throws {
        let results = [
            result("two-hosts", .pass, ms: 1234),
            result("vx & <lan>", .skip, reason: Self.nasty, ms: 5),
            result("file", .built, ms: 20),
            result("router", .fail, passed: 1, total: 3,
                   failures: [TestCommand.Failure(check: "h1 → \"10.0.2.2\"", observed: Self.nasty)], ms: 1000),
            result("broken", .fail, reason: Self.nasty, ms: 0),
        ]
        let text = TestReport.junit(results, suite: "nslab test (shard 1/4)", properties: [("kernel", "6.1 <x>"), ("shard", "1/4")],
                                    timestamp: Date(timeIntervalSince1970: 0), hostname: "h&h")
        let xml = try #require(XMLReadBack.parse(text), "not well-formed XML:\n\(text)")

        let suite = try #require(xml.all("testsuite").first)
        #expect(suite["name"] == "nslab test (shard 1/4)")
        #expect(suite["tests"] == "5" && suite["failures"] == "2" && suite["skipped"] == "2" && suite["errors"] == "0",
                "\(suite)")
        #expect(suite["time"] == "2.259")
        #expect(suite["timestamp"] == "1970-01-01T00:00:00")
        #expect(suite["hostname"] == "h&h")
        #expect(xml.all("testsuites").first?["tests"] == "5")
        #expect(xml.all("property").map { $0["value"] } == ["6.1 <x>", "1/4"])

        let cases = xml.all("testcase")
        #expect(cases.map { $0["name"] } == ["two-hosts", "vx & <lan>", "file", "router", "broken"])
        #expect(cases.map { $0["time"] } == ["1.234", "0.005", "0.020", "1.000", "0.000"])

        // Attributes survive whole: line breaks and tabs too; what XML cannot carry becomes U+FFFD.
        let readable = Self.nasty.replacingOccurrences(of: "\u{1}", with: "\u{FFFD}").replacingOccurrences(of: "\u{1B}", with: "\u{FFFD}")
        #expect(xml.all("skipped").map { $0["message"] } == [readable, "no checks"])
        #expect(xml.all("failure").map { $0["message"] } == ["2 of 3 checks failed", readable])
        #expect(xml.failureText.contains("✘ h1 → \"10.0.2.2\"\n    observed: a < b && c"), "\(xml.failureText)")
    }

    @Test func escaping() {
        #expect(TestReport.xml("<a href=\"x\">&'</a>", attribute: true) == "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;")
        #expect(TestReport.xml("a\nb\tc\rd", attribute: true) == "a&#10;b&#9;c&#13;d")
        #expect(TestReport.xml("a\nb\tc", attribute: false) == "a\nb\tc")
        #expect(TestReport.xml("\u{0}\u{8}\u{FFFE}x", attribute: false) == "\u{FFFD}\u{FFFD}\u{FFFD}x")
    }

    @Test func seconds() {
        #expect(TestReport.seconds(0) == "0.000")
        #expect(TestReport.seconds(7) == "0.007")
        #expect(TestReport.seconds(70) == "0.070")
        #expect(TestReport.seconds(1234) == "1.234")
        #expect(TestReport.seconds(61_000) == "61.000")
    }
}

// MARK: The built binary

/// The test names of a KTAP document, in order, and its plan.
private func ktapNames(_ text: String) -> (plan: Int?, names: [String]) {
    var plan: Int?
    var names: [String] = []
    for line in text.split(separator: "\n").map(String.init) {
        if line.hasPrefix("1..") { plan = Int(line.dropFirst(3)) }
        guard line.hasPrefix("ok ") || line.hasPrefix("not ok ") else { continue }
        let rest = line.drop { $0 != " " }.dropFirst()   // after `ok` / `not`
        let afterOk = line.hasPrefix("not ok ") ? rest.dropFirst(3) : rest
        let afterNumber = afterOk.drop { $0 != " " }.dropFirst()
        let name = afterNumber.components(separatedBy: " # ").first ?? String(afterNumber)
        names.append(name)
    }
    return (plan, names)
}

@Suite(.serialized, .enabled(if: isRoot, "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to build the scenarios"))
struct ShardedRunTests {
    /// Two shards of the catalogue, each in KTAP, are together exactly the unsharded run.
    @Test func twoShardsOfTheCatalogueAreTheWholeRun() throws {
        let whole = try nslab("test", "--ktap")
        #expect(whole.status == 0 || whole.status == 4, "\(whole)")
        let all = ktapNames(whole.stdout)
        #expect(all.names.count == all.plan && all.names.count > 2, "\(whole)")
        var union: [String] = []
        for i in 0..<2 {
            let r = try nslab("test", "--ktap", "--shard", "\(i)/2")
            #expect(r.status == 0 || r.status == 4, "\(r)")
            #expect(r.stdout.hasPrefix("KTAP version 1\n"), "\(r)")
            let share = ktapNames(r.stdout)
            #expect(share.names.count == share.plan, "\(r)")
            #expect(!share.names.isEmpty, "shard \(i)/2 is empty: \(r)")
            union += share.names
        }
        #expect(union.count == all.names.count, "\(union) vs \(all.names)")
        #expect(Set(union).count == union.count, "a scenario ran in both shards: \(union)")
        #expect(Set(union) == Set(all.names), "\(union) vs \(all.names)")
    }

    /// A shard that gets no target (more shards than targets) is an empty run, not an error.
    @Test func emptyShardIsAnEmptyPlan() throws {
        let r = try nslab("test", "two-hosts", "--ktap", "--shard", "1/2")
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "KTAP version 1\n1..0\n", "\(r)")
        #expect(r.stderr.contains("shard 1/2 has none of the 1 selected targets"), "\(r)")
        let first = try nslab("test", "two-hosts", "--ktap", "--shard", "0/2")
        // Its timeline's steps are diagnostics (`# ✔ …`); the plan and the result are the rest.
        let lines = first.stdout.split(separator: "\n").filter { !$0.hasPrefix("# ") }
        #expect(first.status == 0 && lines == ["KTAP version 1", "1..1", "ok 1 two-hosts"], "\(first)")
    }

    @Test func badShardIsOneErrorAndRunsNothing() throws {
        for bad in ["2/2", "0/0", "a/2"] {
            let r = try nslab("test", "--shard", bad)
            #expect(r.status == 1, "\(r)")
            #expect(r.stderr.hasPrefix("nslab: error: invalid shard"), "\(r)")
            #expect(!r.stderr.contains("testing ") && r.stdout.isEmpty, "\(r)")
            #expect(!looksLikeCrash(r), "\(r)")
        }
    }

    /// --junit writes a report next to the table; --strict and --ktap change the verdict on a file without checks.
    @Test func junitStrictAndKTAPOnAFileWithoutChecks() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-junit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("plain.yaml").path
        // The exported scenario without its checks: a plain topology file.
        let export = try nslab("export", "two-hosts", "--format", "yaml")
        let plain = export.stdout.components(separatedBy: "\nexpect:").first ?? ""
        #expect(plain.count < export.stdout.count && !plain.contains("reaches"), "\(export)")
        try plain.write(toFile: file, atomically: true, encoding: .utf8)
        let junit = dir.appendingPathComponent("report.xml").path

        let table = try nslab("test", "two-hosts", file, "--junit", junit)
        #expect(table.status == 0, "\(table)")
        #expect(table.stdout.contains("BUILT") && table.stdout.contains("SCENARIO"), "\(table)")
        #expect(table.stdout.contains("\n1 passed, 0 failed, 0 skipped, 1 built without checks\n"), "\(table)")
        let xml = try #require(XMLReadBack.parse(try String(contentsOfFile: junit, encoding: .utf8)))
        #expect(xml.all("testcase").map { $0["name"] } == ["two-hosts", "two-hosts (\(file))"])
        #expect(xml.all("skipped").map { $0["message"] } == ["no checks"])
        #expect(xml.all("failure").isEmpty)

        let strict = try nslab("test", "two-hosts", file, "--strict", "--junit", junit)
        #expect(strict.status == 1, "\(strict)")
        #expect(strict.stdout.contains("FAIL (no checks (--strict))"), "\(strict)")
        let strictXML = try #require(XMLReadBack.parse(try String(contentsOfFile: junit, encoding: .utf8)))
        #expect(strictXML.all("failure").map { $0["message"] } == ["no checks (--strict)"])

        let ktap = try nslab("test", file, "--ktap")
        #expect(ktap.status == 4, "everything skipped is kselftest's 4: \(ktap)")
        #expect(ktap.stdout == "KTAP version 1\n1..1\nok 1 two-hosts (\(file)) # SKIP no checks\n", "\(ktap)")
        let ktapStrict = try nslab("test", file, "--ktap", "--strict")
        #expect(ktapStrict.status == 1, "\(ktapStrict)")
        #expect(ktapStrict.stdout.hasSuffix("not ok 1 two-hosts (\(file))\n"), "\(ktapStrict)")

        let noDir = try nslab("test", "two-hosts", "--junit", dir.appendingPathComponent("none/r.xml").path)
        #expect(noDir.status == 1 && noDir.stderr.contains("does not exist") && !noDir.stderr.contains("testing "), "\(noDir)")
        let both = try nslab("test", "two-hosts", "--ktap", "--json")
        #expect(both.status == 1 && both.stderr.hasPrefix("nslab: error: --ktap and --json"), "\(both)")
    }

    /// Two files holding scenarios of the same name, a file that does not load, and a catalogue
    /// scenario given twice: every KTAP test and JUnit testcase has a name of its own that says
    /// which file it was.
    @Test func reportNamesSayTheFileAndAreUnique() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-names-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let export = try nslab("export", "two-hosts", "--format", "yaml")
        #expect(export.status == 0, "\(export)")
        for f in ["a.yaml", "b.yaml"] { try export.stdout.write(toFile: dir.appendingPathComponent(f).path, atomically: true, encoding: .utf8) }
        try "name: broken\nnodes: [\n".write(toFile: dir.appendingPathComponent("c.yaml").path, atomically: true, encoding: .utf8)
        let junit = dir.appendingPathComponent("report.xml").path
        let r = try nslab("test", "two-hosts", dir.path, "two-hosts", "--ktap", "--junit", junit)
        #expect(r.status == 1, "c.yaml does not load: \(r)")
        let a = dir.appendingPathComponent("a.yaml").path, b = dir.appendingPathComponent("b.yaml").path
        let c = dir.appendingPathComponent("c.yaml").path
        let expected = ["two-hosts", "two-hosts (\(a))", "two-hosts (\(b))", "c (\(c))", "two-hosts (2)"]
        #expect(ktapNames(r.stdout).names == expected, "\(r)")
        let xml = try #require(XMLReadBack.parse(try String(contentsOfFile: junit, encoding: .utf8)))
        #expect(xml.all("testcase").map { $0["name"] } == expected)
        #expect(xml.all("testcase").map { $0["file"] } == [nil, a, b, c, nil])
    }
}

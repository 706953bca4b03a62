import Foundation
import Testing

// The CLI as people use it: --version, did-you-mean, `exec` without `--`, `inspect`, the shell
// prompt, plain progress in logs, `test DIR`, readable graphs, broken state files and
// `down --all`. Whatever builds or removes labs runs in a private /run/nslab and /run/netns
// (``PrivateState``), so no test can reach a lab of the machine.

@Suite struct UXTests {
    @Test func versionAndCompletion() throws {
        let v = try nslab("--version")
        #expect(v.status == 0, "\(v)")
        let parts = v.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".")
        #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil }, "not a version: \(v)")
        let completion = try nslab("--generate-completion-script", "bash")
        #expect(completion.status == 0 && completion.stdout.contains("_nslab") && completion.stdout.contains("inspect"), "\(completion)")
    }

    @Test func misspelledCommandsAndScenariosGetASuggestion() throws {
        let upp = try nslab("upp", "router")
        #expect(upp.status == 64 && upp.stderr.hasPrefix("nslab: error: unknown command \"upp\"; did you mean \"up\"?"), "\(upp)")
        let ispect = try nslab("ispect", "lab")
        #expect(ispect.status == 64 && ispect.stderr.contains("did you mean \"inspect\"?"), "\(ispect)")
        let nothing = try nslab("zzzzzz")
        #expect(nothing.status == 64 && nothing.stderr.contains("unknown command \"zzzzzz\"")
                && !nothing.stderr.contains("did you mean"), "\(nothing)")
        let scenario = try nslab("plan", "routr")
        #expect(scenario.status != 0 && scenario.stderr.contains("unknown scenario \"routr\" (did you mean \"router\"?)"), "\(scenario)")
        // Commands, options and help still work as before.
        #expect(try nslab("help", "up").status == 0)
        #expect(try nslab("scenarios").status == 0)
    }

    @Test(.enabled(if: isRoot, "needs root to build labs"))
    func labsAndNodesGetASuggestion() throws {
        let env = try PrivateState()
        defer { env.close() }
        #expect(try env.nslab("up", "two-hosts", "--name", "demo1").status == 0)
        let lab = try env.nslab("exec", "demo2", "h1", "true")
        #expect(lab.status != 0 && lab.stderr.contains("no lab named \"demo2\" is up") && lab.stderr.contains("(did you mean \"demo1\"?)"), "\(lab)")
        let node = try env.nslab("exec", "demo1", "h11", "true")
        #expect(node.status != 0 && node.stderr.contains("has no node \"h11\" (did you mean \"h1\"?)"), "\(node)")
        let down = try env.nslab("down", "demo")
        #expect(down.status != 0 && down.stderr.contains("(did you mean \"demo1\"?)"), "\(down)")
        #expect(try env.nslab("down", "demo1").status == 0)
    }

    /// `nslab exec LAB NODE CMD…` as `ip netns exec NS CMD…`: the command's own options are its own.
    @Test(.enabled(if: isRoot, "needs root to build labs"))
    func execWithoutTerminator() throws {
        let help = try nslab("exec", "--help")
        #expect(help.stdout.contains("USAGE: nslab exec [--timeout <seconds>] [--stdin] <lab> <node> [--] <command>"), "\(help)")
        let env = try PrivateState()
        defer { env.close() }
        let lab = "ex"
        #expect(try env.nslab("up", "two-hosts", "--name", lab).status == 0)
        let addr = try env.nslab("exec", lab, "h1", "ip", "-j", "addr", "show", "dev", "eth0")
        #expect(addr.status == 0 && addr.stdout.contains("\"local\":\"10.10.0.1\""), "\(addr)")
        let exit3 = try env.nslab("exec", lab, "h2", "sh", "-c", "exit 3")
        #expect(exit3.status == 3, "\(exit3)")
        // nslab's own options before the lab; `--` still works, and lets a command start with '-'.
        let timed = try env.nslab("exec", "--timeout", "5", lab, "h1", "--", "ping", "-c1", "-W2", "10.10.0.2")
        #expect(timed.status == 0 && timed.stdout.contains("1 received"), "\(timed)")
        let dash = try env.nslab("exec", lab, "h1", "--", "-no-such-command")
        #expect(dash.status == 127 && dash.stderr.contains("cannot run -no-such-command"), "\(dash)")
        let none = try env.nslab("exec", lab, "h1")
        #expect(none.status == 64 && none.stderr.contains("missing the command"), "\(none)")
        #expect(try env.nslab("down", lab).status == 0)
    }

    /// `inspect` reads the kernel now: an address added after `up` shows, and every address
    /// `ip -j addr` lists (other than loopback's and link-local ones) is in its JSON.
    @Test(.enabled(if: isRoot, "needs root to build labs"))
    func inspectReadsTheKernel() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = "insp"
        #expect(try env.nslab("up", "router", "--name", lab).status == 0)
        #expect(try env.exec("/usr/sbin/ip", ["-n", "\(lab)-h1", "addr", "add", "192.0.2.77/32", "dev", "eth0"]).status == 0)
        #expect(try env.exec("/usr/sbin/ip", ["-n", "\(lab)-h2", "link", "set", "eth0", "down"]).status == 0)

        let table = try env.nslab("inspect", lab)
        #expect(table.status == 0 && table.stdout.contains("NODE") && table.stdout.contains("192.0.2.77/32"), "\(table)")
        let h2 = table.stdout.split(separator: "\n").first { $0.hasPrefix("h2 ") }
        #expect(h2?.contains("DOWN") == true, "\(table)")

        let json = try env.nslab("inspect", lab, "--json")
        let views = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]], "\(json)")
        for view in views {
            let node = try #require(view["node"] as? String)
            let ours = Set(((view["interfaces"] as? [[String: Any]]) ?? []).flatMap { ($0["addresses"] as? [String]) ?? [] })
            let ip = try env.exec("/usr/sbin/ip", ["-n", "\(lab)-\(node)", "-j", "addr"])
            let links = try #require(try JSONSerialization.jsonObject(with: Data(ip.stdout.utf8)) as? [[String: Any]])
            var kernel = Set<String>()
            for l in links where l["ifname"] as? String != "lo" {
                for a in (l["addr_info"] as? [[String: Any]]) ?? [] where a["scope"] as? String != "link" {
                    kernel.insert("\(a["local"]!)/\(a["prefixlen"]!)")
                }
            }
            #expect(ours == kernel, "\(node): inspect \(ours), ip \(kernel)")
        }
        let unknown = try env.nslab("inspect", "insq")
        #expect(unknown.status != 0 && unknown.stderr.contains("did you mean \"insp\""), "\(unknown)")
        #expect(try env.nslab("down", lab).status == 0)
    }

    /// `shell` tags bash's prompt with LAB:NODE (after the user's rc files) and sets NSLAB_LAB/NSLAB_NODE.
    @Test(.enabled(if: isRoot, "needs root to build labs"))
    func shellPromptNamesTheNode() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = "sh"
        #expect(try env.nslab("up", "two-hosts", "--name", lab).status == 0)
        let r = try run("/usr/bin/nsenter", ["--target", "\(env.pid)", "--mount", "--", nslabPath, "shell", lab, "h2"],
                        stdin: "echo \"in=$NSLAB_LAB:$NSLAB_NODE\"; ip -br addr show dev eth0\nexit\n",
                        environment: ["SHELL": "/bin/bash"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("[sh:h2] "), "no tagged prompt: \(r)")
        #expect(r.stdout.contains("in=sh:h2") && r.stdout.contains("10.10.0.2/24"), "\(r)")
        #expect(try env.nslab("down", lab).status == 0)
    }

    /// Into a log, progress is one plain line per report: no carriage returns, no escapes.
    @Test(.enabled(if: isRoot, "needs root to build labs"))
    func progressIntoALogIsPlainLines() throws {
        let env = try PrivateState()
        defer { env.close() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-progress-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("star.yaml")
        try """
            name: star
            nodes:
              - {name: sw, kind: switch}
              - repeat: 60
                each: {name: "h{i}", addresses: ["10.99.0.{i}/24"]}
            links:
              - repeat: 60
                each: {a: "h{i}:eth0", b: "sw:p{i}"}
            """.write(to: file, atomically: true, encoding: .utf8)
        let r = try env.nslab("up", file.path, "--name", "prog")
        #expect(r.status == 0, "\(r)")
        #expect(!r.stderr.contains("\r") && !r.stderr.contains("\u{1B}"), "terminal control in a log: \(r.stderr.debugDescription)")
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("building prog: ") }
        #expect(lines.count >= 3 && lines.count <= 60, "\(r.stderr)")
        #expect(lines.allSatisfy { $0.range(of: #"^building prog: .+ \d+/\d+$"#, options: .regularExpression) != nil }, "\(lines)")
        #expect(try env.nslab("down", "prog").status == 0)
    }

    /// `test DIR`: a row per file, named by file; a file that does not load is a FAIL row and the
    /// run goes on.
    @Test(.enabled(if: isRoot, "needs root to build labs"))
    func testDirectoryHasARowPerFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-dir-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = """
            name: same
            nodes: [{name: h1, addresses: [10.98.0.1/24]}, {name: h2, addresses: [10.98.0.2/24]}]
            links: [{a: h1, b: h2}]
            expect: [{from: h1, reaches: 10.98.0.2}]
            """
        try good.write(to: dir.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        try "name: broken\nnodes: [{name: h1\n".write(to: dir.appendingPathComponent("b.yaml"), atomically: true, encoding: .utf8)
        // Two problems, so the reason has two lines: the table keeps one line per row.
        try "name: d\nnodes: [{name: h1}]\nexpect:\n  - {from: h1, reaches: nowhere}\n  - {from: h2, reaches: 10.0.0.1}\n"
            .write(to: dir.appendingPathComponent("d.yaml"), atomically: true, encoding: .utf8)
        try good.write(to: dir.appendingPathComponent("c.yaml"), atomically: true, encoding: .utf8)
        let r = try nslab("test", dir.path)
        #expect(r.status == 1, "\(r)")
        let rows = r.stdout.split(separator: "\n")
        #expect(rows.contains { $0.hasPrefix("same (\(dir.path)/a.yaml)") && $0.hasSuffix("PASS") }, "\(r)")
        #expect(rows.contains { $0.hasPrefix("same (\(dir.path)/c.yaml)") && $0.hasSuffix("PASS") }, "\(r)")
        #expect(rows.contains { $0.hasPrefix("b (\(dir.path)/b.yaml)") && $0.contains("FAIL (cannot load") }, "\(r)")
        #expect(rows.contains { $0.hasPrefix("d (\(dir.path)/d.yaml)") && $0.hasSuffix(" …)") }, "\(r)")
        let table = r.stdout.components(separatedBy: "\n\n")[0].split(separator: "\n")
        #expect(table.count == 5, "a row per file, one line each: \(r)")
        #expect(r.stdout.contains("d.yaml:5: expect[1].from: unknown node \"h2\""), "the details have every problem: \(r)")
        #expect(r.stdout.contains("\n2 passed, 2 failed, 0 skipped\n"), "\(r)")
        #expect(r.stderr.contains("nslab: error: cannot load \(dir.path)/b.yaml"), "\(r)")
    }
}

// MARK: Graphs

extension UXTests {
    static let graphviz = FileManager.default.isExecutableFile(atPath: "/usr/bin/dot")

    /// The text boxes of an SVG that Graphviz drew: x, y of the baseline, anchor, font size, text.
    static func textBoxes(_ svg: String) -> [(x0: Double, x1: Double, y0: Double, y1: Double, text: String)] {
        let pattern = #"<text text-anchor="(\w+)" x="([-\d.]+)" y="([-\d.]+)" font-family="[^"]*"(?: font-weight="\w+")? font-size="([\d.]+)"[^>]*>([^<]*)</text>"#
        let re = try! NSRegularExpression(pattern: pattern)
        return re.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).map { m in
            func g(_ i: Int) -> String { String(svg[Range(m.range(at: i), in: svg)!]) }
            let x = Double(g(2))!, y = Double(g(3))!, size = Double(g(4))!, text = g(5)
            // Helvetica averages about 0.5 em per character.
            let width = Double(text.count) * size * 0.5
            let x0 = g(1) == "middle" ? x - width / 2 : g(1) == "end" ? x - width : x
            return (x0, x0 + width, y - size * 0.75, y + size * 0.2, text)
        }
    }

    /// Every catalogue graph, rendered by Graphviz: no two labels overlap.
    @Test(.enabled(if: graphviz, "needs Graphviz (apt install graphviz)"))
    func catalogueGraphsHaveNoOverlappingLabels() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-graph-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let names = try nslab("scenarios", "--json")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(names.stdout.utf8)) as? [[String: Any]])
        for name in list.compactMap({ $0["name"] as? String }) {
            let file = dir.appendingPathComponent("\(name).svg").path
            let r = try nslab("graph", name, "--output", file)
            #expect(r.status == 0 && r.stdout == "wrote \(file)\n", "\(name): \(r)")
            let boxes = Self.textBoxes(try String(contentsOfFile: file, encoding: .utf8))
            #expect(boxes.count >= 3, "\(name): no labels found")
            for i in boxes.indices {
                for j in boxes.indices where j > i {
                    let (a, b) = (boxes[i], boxes[j])
                    let overlap = a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1
                    #expect(!overlap, "\(name): \"\(a.text)\" overlaps \"\(b.text)\"")
                }
            }
        }
    }

    @Test func graphOutputNeedsAKnownFormatAndGraphviz() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-graph-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let txt = try nslab("graph", "bridge", "--output", dir.appendingPathComponent("g.txt").path)
        #expect(txt.status == 64 && txt.stderr.contains("ending in .svg or .png"), "\(txt)")
        let png = dir.appendingPathComponent("g.png").path
        let noDot = try run(nslabPath, ["graph", "bridge", "--output", png], environment: ["PATH": "/nonexistent"])
        #expect(noDot.status == 1 && noDot.stderr.contains("needs Graphviz's `dot`, which is not installed"), "\(noDot)")
        #expect(access(png, F_OK) != 0)
        if Self.graphviz {
            let r = try nslab("graph", "bridge", "--output", png)
            let magic = FileManager.default.contents(atPath: png)?.prefix(4)
            #expect(r.status == 0 && magic == Data([0x89, 0x50, 0x4E, 0x47]), "\(r)")
        }
    }
}

// MARK: State files and down --all

extension UXTests {
    /// A state file is complete from the moment the name is claimed: `up` paused right after
    /// reserving shows a building lab, never an empty or unreadable file.
    @Test(.enabled(if: isRoot, "needs root to build labs"))
    func reservedStateFileIsComplete() throws {
        let env = try PrivateState()
        defer { env.close() }
        let gate = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-gate-\(UUID().uuidString)").path
        defer { unlink(gate) }
        let up = try env.start(["up", "router", "--name", "resv"], environment: ["NSLAB_DEBUG_RESERVE_GATE": gate])
        try #require(up.waitForStderr("nslab: debug: up paused after reserving"), "up never paused: \(up.wait())")
        let data = try #require(FileManager.default.contents(atPath: env.path("/run/nslab/resv.json")))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect(object?["status"] as? String == "building" && object?["name"] as? String == "resv", "\(data.count) bytes")
        let ls = try env.nslab("ls")
        #expect(ls.stdout.contains("resv") && ls.stdout.contains("building") && !ls.stdout.contains("state file"), "\(ls)")
        kill(up.pid, SIGKILL)
        _ = up.wait()
        // Killed: the file is still whole, the lab abandoned, and sweep removes it.
        let after = try env.nslab("ls")
        #expect(after.stdout.contains("abandoned"), "\(after)")
        let sweep = try env.nslab("sweep")
        #expect(sweep.status == 0 && sweep.stdout.contains("removed state file /run/nslab/resv.json"), "\(sweep)")
        #expect(!env.stateFileExists("resv"))
    }

    /// An empty or garbage state file (an older nslab killed early, a disk full): `ls` says why,
    /// `up` points at the fix, `down` and `sweep` remove it once no process holds the lab.
    @Test(.enabled(if: isRoot, "needs root to build labs"))
    func brokenStateFilesAreRemoved() throws {
        let env = try PrivateState()
        defer { env.close() }
        let dir = env.path("/run/nslab")
        #expect(FileManager.default.createFile(atPath: "\(dir)/empty.json", contents: Data(), attributes: [.posixPermissions: 0o600]))
        #expect(FileManager.default.createFile(atPath: "\(dir)/junk.json", contents: Data("{\"version\": 1, \"na".utf8),
                                               attributes: [.posixPermissions: 0o600]))
        // A temporary file of a writer that is gone, and one of a writer that runs (this test).
        #expect(FileManager.default.createFile(atPath: "\(dir)/junk.json.tmp999999999", contents: Data("{".utf8)))
        #expect(FileManager.default.createFile(atPath: "\(dir)/live.json.tmp\(getpid())", contents: Data("{".utf8)))

        let ls = try env.nslab("ls")
        #expect(ls.stdout.contains("broken state file (it is empty (0 bytes))") && ls.stdout.contains("junk"), "\(ls)")
        let up = try env.nslab("up", "two-hosts", "--name", "empty")
        #expect(up.status != 0 && up.stderr.contains("has a broken state file") && up.stderr.contains("`nslab down empty`"), "\(up)")

        let down = try env.nslab("down", "empty")
        #expect(down.status == 0 && down.stdout.contains("removed the broken state file /run/nslab/empty.json (it is empty"), "\(down)")
        #expect(!down.stderr.contains("DecodingError") && !env.stateFileExists("empty"), "\(down)")
        #expect(try env.nslab("up", "two-hosts", "--name", "empty").status == 0)

        let sweep = try env.nslab("sweep")
        #expect(sweep.status == 0 && sweep.stdout.contains("removed the broken state file /run/nslab/junk.json"), "\(sweep)")
        #expect(sweep.stdout.contains("removed the leftover temporary file /run/nslab/junk.json.tmp999999999"), "\(sweep)")
        #expect(!sweep.stdout.contains("live.json"), "\(sweep)")
        #expect(!env.stateFileExists("junk") && access("\(dir)/junk.json.tmp999999999", F_OK) != 0)
        #expect(access("\(dir)/live.json.tmp\(getpid())", F_OK) == 0)
        // The intact lab is kept.
        #expect(env.stateFileExists("empty") && sweep.stdout.contains("kept empty: intact"), "\(sweep)")
        #expect(try env.nslab("down", "empty").status == 0)
    }

    /// `down --all` lists what it removes; without a terminal it needs --yes.
    @Test(.enabled(if: isRoot, "needs root to build labs"))
    func downAllAsksFirst() throws {
        let env = try PrivateState()
        defer { env.close() }
        #expect(try env.nslab("up", "two-hosts", "--name", "mine").status == 0)
        #expect(try env.nslab("up", "two-hosts", "--name", "theirs").status == 0)
        let refused = try env.nslab("down", "--all")
        #expect(refused.status == 1 && refused.stderr.contains("refusing to remove every lab without confirmation"), "\(refused)")
        #expect(refused.stdout.contains("removes 2 labs:\n  mine  (2 nodes, two-hosts") && refused.stdout.contains("  theirs  ("), "\(refused)")
        #expect(try env.names(withPrefix: "mine").count == 2 && env.names(withPrefix: "theirs").count == 2)
        let yesWithoutAll = try env.nslab("down", "mine", "--yes")
        #expect(yesWithoutAll.status == 64, "\(yesWithoutAll)")

        // On a terminal (`script` gives it one) it asks; anything but y keeps every lab.
        let no = try run("/usr/bin/nsenter", ["--target", "\(env.pid)", "--mount", "--", "/usr/bin/script", "-qec",
                                              "\(nslabPath) down --all", "/dev/null"], stdin: "n\n")
        #expect(no.status == 1 && no.stdout.contains("remove them? [y/N]") && no.stdout.contains("nothing was removed"), "\(no)")
        #expect(try env.names(withPrefix: "mine").count == 2 && env.names(withPrefix: "theirs").count == 2)

        let yes = try env.nslab("down", "--all", "--yes")
        #expect(yes.status == 0 && yes.stdout.contains("lab mine is down (2 namespaces removed)")
                && yes.stdout.contains("lab theirs is down"), "\(yes)")
        #expect(try env.netnsNames().isEmpty)
    }
}

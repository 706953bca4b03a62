import Foundation
import NetnsKit
import Scenarios
import Testing

// `nslab plan --script` builds the lab the builder builds: for every catalogue scenario the
// script runs with `sh` in a private mount namespace (its own tmpfs /run/netns, so its named
// namespaces can never meet anyone else's and all go with that mount namespace), the builder
// builds the same topology as a fixture lab, and both are dumped the same way (`ip -d -j link`,
// `ip -j addr`, routes and rules of both families in every table, `tc -j qdisc`, the sysctls the
// program writes, `nft list ruleset`) and compared after normalising what legitimately differs:
// - ifindexes (`ifindex`, `link_index`): the builder numbers links itself, unique across the lab;
//   the script lets the kernel number them per namespace. Lists are sorted by name instead;
// - `link_netnsid`: the peer namespace's id as this namespace numbers it, assigned lazily;
// - MAC addresses the topology does not declare (veth ends, bridges, macvlans): random, and
//   so is what derives from them, the bridge and port ids (`8000.<mac>`) and the EUI-64
//   link-local IPv6 addresses (`fe80::…` addresses and their local routes);
// - bridge timers (`*_timer`): they count as time passes;
// - `permaddr`: random, on the fallback tunnel devices the kernel adds to every namespace by
//   itself when ip6_gre/ip6_tunnel are loaded (seen under 6.1 in the VM).
// Namespace names (`<lab>-<node>` for the script, anonymous for the builder) appear in no dump.

/// The dumps of one namespace, by section.
private typealias Dump = [String: String]

/// The shell function that dumps one namespace: `dump NODE SYSCTL-KEYS CMD…` runs each reader
/// under `CMD…` (`nsenter --net=PATH`), and repeats the whole dump until two in a row agree
/// (linkwatch gives links their carrier and qdisc just after the build) or 30 tries passed.
private let dumpFunction = #"""
    dump_once() {
        keys=$1; shift
        echo "@@link"; "$@" ip -d -j link show
        echo; echo "@@addr"; "$@" ip -j addr show
        echo; echo "@@route4"; "$@" ip -j -4 route show table all
        echo; echo "@@route6"; "$@" ip -j -6 route show table all
        echo; echo "@@rule4"; "$@" ip -j -4 rule show
        echo; echo "@@rule6"; "$@" ip -j -6 rule show
        echo; echo "@@qdisc"; "$@" tc -j qdisc show
        echo; echo "@@sysctl"
        for k in $keys; do printf '%s=' "$k"; "$@" sysctl -n "$k" 2>&1 || true; done
        echo "@@nft"; "$@" nft list ruleset 2>&1 || true
    }
    dump() {
        node=$1; shift
        prev=''; i=0
        while :; do
            cur=$(dump_once "$@" | sed -E 's/"[a-z_]*_timer":[0-9.]+/"timer":0/g')
            [ "$cur" = "$prev" ] && break
            i=$((i + 1)); [ $i -ge 30 ] && break
            prev=$cur; sleep 0.1
        done
        echo "@@@node $node"; printf '%s\n' "$cur"
    }
    """#

/// Splits the output of `dump` calls into dumps by node.
private func parseDumps(_ text: String) -> [String: Dump] {
    var result: [String: Dump] = [:]
    for chunk in text.components(separatedBy: "@@@node ").dropFirst() {
        let node = String(chunk.prefix { $0 != "\n" })
        var sections: Dump = [:]
        for part in chunk.components(separatedBy: "@@").dropFirst() {
            let name = String(part.prefix { $0 != "\n" })
            sections[name] = String(part.drop { $0 != "\n" }).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        result[node] = sections
    }
    return result
}

/// The sysctl keys the program writes in `node`, as `sysctl -n` reads them.
private func sysctlKeys(_ program: BuildProgram, _ node: String) -> [String] {
    let created = program.namespaces.first { $0.node == node }?.sysctls.map(\.key) ?? []
    let perInterface = program.phases.flatMap(\.batches).filter { $0.node == node }.flatMap(\.steps).compactMap { s -> String? in
        if case .operation(.setInterfaceSysctl(_, let key, _), _) = s.action { return key }
        return nil
    }
    return created + perInterface
}

/// Normalises one dump section (see the top of this file); `declared` are the MACs and
/// link-local addresses the topology sets, which are kept.
private func normalise(_ section: String, _ text: String, declared: Set<String>) -> String {
    guard ["link", "addr", "route4", "route6", "rule4", "rule6", "qdisc"].contains(section) else { return text }
    guard let data = text.data(using: .utf8), let json = try? JSONSerialization.jsonObject(with: data) else { return text }
    // Also unpadded, as bridge ids print them (`8000.2:9a:45:1c:2e:a8`).
    let mac = try! NSRegularExpression(pattern: "(?<![0-9a-f:])[0-9a-f]{1,2}(:[0-9a-f]{1,2}){5}(?![0-9a-f:])")
    func clean(_ v: Any) -> Any {
        if let d = v as? [String: Any] {
            var out: [String: Any] = [:]
            // permaddr: random, given by the kernel to the fallback tunnel devices it adds by itself
            // (ip6gre0, ip6tnl0 under 6.1 with those modules loaded); neither build sets one.
            for (k, x) in d where !["ifindex", "link_index", "link_netnsid", "permaddr"].contains(k) { out[k] = clean(x) }
            return out
        }
        if let a = v as? [Any] { return a.map(clean) }
        if let s = v as? String {
            if s.hasPrefix("fe80::") && s != "fe80::/64" && !declared.contains(s) { return "fe80::<random>" }
            let range = NSRange(s.startIndex..., in: s)
            var result = s
            for m in mac.matches(in: s, range: range).reversed() {
                let r = Range(m.range, in: s)!
                if !declared.contains(String(s[r])) { result.replaceSubrange(r, with: "<mac>") }
            }
            return result
        }
        return v
    }
    func line(_ v: Any) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: v, options: [.sortedKeys]), as: UTF8.self)
    }
    // One entry per line, sorted: the order follows ifindexes, which legitimately differ.
    let entries = (clean(json) as? [Any] ?? [clean(json)]).map(line).sorted()
    return entries.joined(separator: "\n")
}

/// What the topology declares that normalisation keeps: MAC addresses and fe80:: addresses.
private func declaredValues(_ plan: Plan) -> Set<String> {
    var out: Set<String> = []
    for s in plan.steps {
        switch s.operation {
        case .addVeth(let v): out.formUnion([v.mac, v.peerMAC].compactMap { $0?.description })
        case .addBridge(let b): if let m = b.mac { out.insert(m.description) }
        case .addMacvlan(_, _, _, let m): if let m { out.insert(m.description) }
        case .addNeighbor(_, _, let m): out.insert(m.description)
        case .addFDB(let f): out.insert(f.mac.description)
        case .addAddress(_, let p, _, _, _) where p.address.description.hasPrefix("fe80::"):
            out.insert(p.address.description)
        default: break
        }
    }
    return out
}

/// Runs `script` in a private mount namespace with a fresh /run/netns, dumps each node's
/// namespace `<lab>-<node>`, and deletes them; the mount namespace goes with `unshare`.
private func buildWithScript(_ script: String, program: BuildProgram, lab: String) throws -> (status: Int32, dumps: [String: Dump], log: String) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nk-plan-script-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let scriptFile = dir.appendingPathComponent("lab.sh")
    try script.write(to: scriptFile, atomically: true, encoding: .utf8)
    var driver = dumpFunction + "\n"
    driver += """
        mkdir -p -m 0755 /run/netns && mount -t tmpfs -o mode=0755 nkplanscript /run/netns || exit 90
        sh \(scriptFile.path) >&2 || exit 91

        """
    for ns in program.namespaces {
        driver += "dump \(ns.node) '\(sysctlKeys(program, ns.node).joined(separator: " "))' nsenter --net=/run/netns/\(lab)-\(ns.node)\n"
    }
    driver += "for n in \(program.namespaces.map { "\(lab)-\($0.node)" }.joined(separator: " ")); do ip netns del $n; done\n"
    let r = try runProgram("/usr/bin/unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", driver])
    return (r.status, parseDumps(r.stdout), r.stderr)
}

/// Dumps each node of a running lab through its namespace descriptor.
private func dumpLab(_ lab: Lab, program: BuildProgram) throws -> [String: Dump] {
    var driver = dumpFunction + "\n"
    for ns in program.namespaces {
        let fd = try lab.node(ns.node).namespace.fd
        driver += "dump \(ns.node) '\(sysctlKeys(program, ns.node).joined(separator: " "))' nsenter --net=/proc/\(getpid())/fd/\(fd)\n"
    }
    let r = try runProgram("/bin/sh", ["-c", driver])
    return parseDumps(r.stdout)
}

/// The differences between two labs' dumps, after normalising, one line per section that differs.
private func differences(_ a: [String: Dump], _ b: [String: Dump], declared: Set<String>) -> [String] {
    var out: [String] = []
    if Set(a.keys) != Set(b.keys) { out.append("nodes: \(a.keys.sorted()) vs \(b.keys.sorted())") }
    for node in a.keys.sorted() {
        guard let da = a[node], let db = b[node] else { continue }
        for section in Set(da.keys).union(db.keys).sorted() {
            let x = normalise(section, da[section] ?? "<missing>", declared: declared)
            let y = normalise(section, db[section] ?? "<missing>", declared: declared)
            guard x != y else { continue }
            let xl = Set(x.split(separator: "\n").map(String.init)), yl = Set(y.split(separator: "\n").map(String.init))
            out.append("\(node) \(section): " + compactDiff(xl.subtracting(yl).sorted(), yl.subtracting(xl).sorted()))
        }
    }
    return out
}

/// The entries only one side has, paired by interface, device or destination where they
/// match, with only the keys that differ.
private func compactDiff(_ script: [String], _ builder: [String]) -> String {
    func object(_ line: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }
    func identity(_ o: [String: Any]) -> String? {
        for k in ["ifname", "dev", "dst", "priority"] { if let v = o[k] { return "\(k)=\(v)" } }
        return nil
    }
    func text(_ v: Any?) -> String {
        guard let v else { return "nil" }
        if JSONSerialization.isValidJSONObject(v) {
            return String(decoding: try! JSONSerialization.data(withJSONObject: v, options: [.sortedKeys]), as: UTF8.self)
        }
        return "\(v)"
    }
    /// The differing leaves of two objects, as `key.key: script X, builder Y`.
    func paths(_ a: [String: Any], _ b: [String: Any], _ prefix: String = "") -> [String] {
        Set(a.keys).union(b.keys).sorted().flatMap { k -> [String] in
            if let x = a[k] as? [String: Any], let y = b[k] as? [String: Any] { return paths(x, y, prefix + k + ".") }
            return text(a[k]) == text(b[k]) ? [] : ["\(prefix)\(k): script \(text(a[k])), builder \(text(b[k]))"]
        }
    }
    var parts: [String] = []
    var unmatched = builder
    for line in script {
        guard let a = object(line), let id = identity(a),
              let k = unmatched.firstIndex(where: { object($0).flatMap(identity) == id }), let b = object(unmatched[k]) else {
            parts.append("script only: \(line)")
            continue
        }
        unmatched.remove(at: k)
        parts.append("\(id): " + paths(a, b).joined(separator: "; "))
    }
    parts += unmatched.map { "builder only: \($0)" }
    return parts.joined(separator: " | ")
}

private struct ProgramRun { var status: Int32; var stdout: String; var stderr: String }

private func runProgram(_ executable: String, _ args: [String]) throws -> ProgramRun {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    let dir = FileManager.default.temporaryDirectory
    let out = dir.appendingPathComponent("nk-plan-\(UUID().uuidString).out")
    let err = dir.appendingPathComponent("nk-plan-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: err) }
    let o = try FileHandle(forWritingTo: out), e = try FileHandle(forWritingTo: err)
    p.standardOutput = o
    p.standardError = e
    p.standardInput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    try o.close(); try e.close()
    return ProgramRun(status: p.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

/// The catalogue scenarios that catalogue-wide kernel tests run: every one, or only those named
/// in `NETNSKIT_TEST_SCENARIOS` (comma-separated). CI's run under the 6.1 kernel names the
/// scenarios the host kernel cannot build (its SKIPs in the host's catalogue run): the others
/// were already tested on the host.
let scenariosUnderTest: [String] = {
    let all = Catalogue.all.map(\.name)
    guard let list = ProcessInfo.processInfo.environment["NETNSKIT_TEST_SCENARIOS"] else { return all }
    let wanted = Set(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    return all.filter(wanted.contains)
}()

private func uniqueLabName() -> String { "nkps-" + String(UInt32.random(in: 0..<UInt32.max), radix: 36) }

@Suite(.enabled(if: canBuild && getuid() == 0, "needs root (named namespaces in a private mount namespace)"))
struct PlanScriptTests {
    /// The script of every catalogue scenario builds what the builder builds.
    @Test(arguments: scenariosUnderTest)
    func scriptBuildsTheBuildersLab(_ name: String) async throws {
        let scenario = try #require(Catalogue.named(name))
        for feature in scenario.requires {
            if let o = KernelFeatures.shared.probe(feature), !o.supported {
                print("SKIP plan script of \(name): this kernel has no \(o.feature)")
                try Test.cancel(Comment(rawValue: "this kernel has no \(o.feature)" + (o.detail.map { " (\($0))" } ?? "")))
            }
        }
        let plan = try scenario.topology.plan()
        let program = plan.program()
        let lab = uniqueLabName()
        let script = try buildWithScript(program.script(lab: lab), program: program, lab: lab)
        #expect(script.status == 0, "\(name): the script failed: \(script.log)")
        let built = try await Lab.up(scenario.topology)
        defer { built.down() }
        let fromBuilder = try dumpLab(built, program: program)
        #expect(fromBuilder.count == program.namespaces.count && !(fromBuilder.values.first?["link"] ?? "").isEmpty)
        let diff = differences(script.dumps, fromBuilder, declared: declaredValues(plan))
        #expect(diff.isEmpty, "\(name):\n\(diff.joined(separator: "\n"))")
    }

    /// The comparison sees a broken lab: the script without its last phase (the veth peers'
    /// masters and the aliases, what replaying the plan line by line used to miss) differs.
    @Test func theComparisonSeesAPeerOutsideItsBridge() async throws {
        let scenario = try #require(Catalogue.named("bridge"))
        let plan = try scenario.topology.plan()
        let program = plan.program()
        var broken = program
        #expect(broken.phases.last?.name == "bridge ports")
        broken.phases.removeLast()
        let lab = uniqueLabName()
        let script = try buildWithScript(broken.script(lab: lab), program: program, lab: lab)
        #expect(script.status == 0, "\(script.log)")
        let built = try await Lab.up(scenario.topology)
        defer { built.down() }
        let diff = differences(script.dumps, try dumpLab(built, program: program), declared: declaredValues(plan))
        #expect(diff.contains { $0.contains(" link: ") && $0.contains("master: script nil, builder br0") }, "\(diff)")
    }

    /// A script stops at the first failure and removes the namespaces it created, not others.
    @Test func aFailingScriptLeavesNothing() throws {
        let scenario = try #require(Catalogue.named("router"))
        let program = try scenario.topology.plan().program()
        let lab = uniqueLabName()
        let taken = "\(lab)-\(program.namespaces.last!.node)"
        let driver = """
            mkdir -p -m 0755 /run/netns && mount -t tmpfs -o mode=0755 nkplanscript /run/netns || exit 90
            ip netns add \(taken) || exit 92
            sh -c "$0"; echo "status $?"
            ls -A /run/netns | sort | tr '\\n' ' '
            ip netns del \(taken)
            """
        let r = try runProgram("/usr/bin/unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", driver,
                                                     program.script(lab: lab)])
        #expect(!r.stdout.contains("status 0") && r.stdout.contains("status "), "\(r.stdout) \(r.stderr)")
        // Only the namespace that was there before remains.
        #expect(r.stdout.split(separator: "\n").last.map(String.init)?.trimmingCharacters(in: .whitespaces) == taken,
                "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("removed what it had created"), "\(r.stderr)")
    }
}

import Foundation
import Synchronization
import Testing

// `nslab sweep` and `nslab down --all` act on every lab of the machine, so every test of them
// runs in a private /run/nslab and /run/netns (``PrivateState``). The suite trait
// ``LeavesOtherLabsAlone`` proves it: a lab brought up on the machine before the suite is intact
// after it.

/// Brings a lab `nkkeep<pid>s<n>` up in the machine's real `/run/nslab` before the suite and fails
/// the suite unless, afterwards, it is exactly as it was (state file, every namespace by
/// identity); then takes it down.
struct LeavesOtherLabsAlone: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }
    static let suites = Atomic<Int>(0)

    struct Damaged: Error, CustomStringConvertible {
        var description: String
    }

    /// The state file's bytes and each pinned namespace's device and inode.
    static func snapshot(_ lab: String) -> String {
        var out = (try? String(contentsOfFile: "/run/nslab/\(lab).json", encoding: .utf8)) ?? "(no state file)"
        for n in ((try? names(withPrefix: lab)) ?? []).sorted() {
            var st = stat()
            out += stat("/run/netns/\(n)", &st) == 0 ? "\n\(n) \(st.st_dev) \(st.st_ino)" : "\n\(n) (gone)"
        }
        return out
    }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        guard isRoot, testCase == nil else { return try await function() }
        // One per suite that carries the trait (they run at once in one process).
        let lab = "nkkeep\(getpid())s\(Self.suites.add(1, ordering: .relaxed).newValue)"
        let up = try nslab("up", "two-hosts", "--name", lab)
        guard up.status == 0 else { throw Damaged(description: "cannot bring \(lab) up for the suite: \(up)") }
        let before = Self.snapshot(lab)
        var failure: (any Error)?
        do { try await function() } catch { failure = error }
        let after = Self.snapshot(lab)
        let works = try nslab("exec", lab, "h1", "--", "ping", "-c1", "-W2", "10.10.0.2")
        let down = try nslab("down", lab)
        cleanUp(lab)
        if after != before || works.status != 0 {
            throw Damaged(description: "the suite changed lab \(lab), which it did not create:\n--- before\n\(before)\n--- after\n\(after)\n\(works)")
        }
        if down.status != 0 { throw Damaged(description: "cannot take \(lab) down: \(down)") }
        if let failure { throw failure }
    }
}

extension Trait where Self == LeavesOtherLabsAlone {
    /// The suite must leave a lab it did not create exactly as it was.
    static var leavesOtherLabsAlone: Self { LeavesOtherLabsAlone() }
}

extension NslabTests {
    @Test func sweepRemovesOnlyWhatIsProvablyOurs() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = uniqueLab("t-sw")
        #expect(try env.nslab("up", "router", "--name", lab).status == 0)

        // An intact lab is kept without --force.
        let gentle = try env.nslab("sweep")
        #expect(gentle.status == 0 && gentle.stdout.contains("kept \(lab)"), "\(gentle)")
        #expect(try env.names(withPrefix: lab).count == 3)

        // Replace h1 by a namespace nslab did not create, and add an unrelated one with the prefix.
        _ = try env.exec("/usr/sbin/ip", ["netns", "del", "\(lab)-h1"])
        _ = try env.exec("/usr/sbin/ip", ["netns", "add", "\(lab)-h1"])
        _ = try env.exec("/usr/sbin/ip", ["netns", "add", "\(lab)-extra"])

        let dry = try env.nslab("sweep", "--force", "--dry-run")
        #expect(dry.status == 0 && dry.stdout.contains("would remove namespace \(lab)-r1"), "\(dry)")
        #expect(try env.names(withPrefix: lab).count == 4)
        #expect(env.stateFileExists(lab))

        let sweep = try env.nslab("sweep", "--force")
        #expect(sweep.status == 0, "\(sweep)")
        #expect(sweep.stdout.contains("removed namespace \(lab)-r1") && sweep.stdout.contains("removed namespace \(lab)-h2"), "\(sweep)")
        #expect(try env.names(withPrefix: lab) == ["\(lab)-h1", "\(lab)-extra"])
        #expect(!env.stateFileExists(lab))
        #expect(access(env.path("/run/nslab/\(lab).lock"), F_OK) != 0, "the lock file of a removed lab stays")
    }

    @Test func sweepRemovesWhatAKilledUpLeft() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = uniqueLab("t-kill")
        let file = try Self.bigTopologyFile(lab, hosts: 300)
        defer { try? FileManager.default.removeItem(at: file) }
        let (_, killed) = try Self.interruptUp(lab, file: file, signal: SIGKILL, in: env)
        try #require(killed, "up finished before SIGKILL")
        let left = try env.names(withPrefix: lab)
        #expect(!left.isEmpty && env.stateFileExists(lab))
        let ls = try env.nslab("ls")
        #expect(ls.stdout.contains(lab) && ls.stdout.contains("abandoned"), "\(ls)")
        // No --force needed: its `up` is gone (its lock is free) and it never finished.
        let sweep = try env.nslab("sweep")
        #expect(sweep.status == 0, "\(sweep)")
        #expect(try env.names(withPrefix: lab).isEmpty, "\(sweep)")
        #expect(!env.stateFileExists(lab))
    }

    /// `sweep --force LAB…` and `sweep LAB…` act on the named labs only.
    @Test func sweepTakesLabNames() throws {
        let env = try PrivateState()
        defer { env.close() }
        let a = uniqueLab("t-sa"), b = uniqueLab("t-sb")
        #expect(try env.nslab("up", "two-hosts", "--name", a).status == 0)
        #expect(try env.nslab("up", "two-hosts", "--name", b).status == 0)
        let one = try env.nslab("sweep", "--force", a)
        #expect(one.status == 0 && one.stdout.contains("removed namespace \(a)-h1") && !one.stdout.contains(b), "\(one)")
        #expect(try env.names(withPrefix: a).isEmpty && !env.stateFileExists(a))
        #expect(try env.names(withPrefix: b).count == 2 && env.stateFileExists(b))

        let unknown = try env.nslab("sweep", "--force", "no-such-lab")
        #expect(unknown.status != 0 && unknown.stderr.contains("no lab named \"no-such-lab\""), "\(unknown)")
        let bad = try env.nslab("sweep", "Bad_Name")
        #expect(bad.status != 0 && bad.stderr.contains("invalid lab name"), "\(bad)")
        #expect(try env.names(withPrefix: b).count == 2)

        let all = try env.nslab("down", "--all", "--yes")
        #expect(all.status == 0 && all.stdout.contains("lab \(b) is down"), "\(all)")
        #expect(try env.netnsNames().isEmpty)
    }
}

// MARK: Forged and stale state files

extension NslabTests {
    /// Writes `/run/nslab/<lab>.json` (inside `env`) with the topology of a real state and the given records.
    static func forgeState(_ env: PrivateState, lab: String, name: String? = nil, status: String = "up",
                           from template: String, records: [[String: Any]]) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: env.path("/run/nslab/\(template).json")))
        var state = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        state["name"] = name ?? lab
        state["status"] = status
        state["pid"] = 999_999_999 // no such process
        state["namespaces"] = records
        let out = try JSONSerialization.data(withJSONObject: state)
        try out.write(to: URL(fileURLWithPath: env.path("/run/nslab/\(lab).json")))
    }

    static func identity(_ path: String) -> [String: Any] {
        var st = stat()
        guard stat(path, &st) == 0 else { return [:] }
        return ["device": UInt64(st.st_dev), "inode": UInt64(st.st_ino)]
    }

    /// `sweep` and `down` act only on `/run/netns/<LAB>-<node>` with a valid node name, only on
    /// namespaces (nsfs), and on an empty placeholder only when the lab's journal proves nslab made it.
    @Test func forgedStateFilesAreRefused() throws {
        let env = try PrivateState()
        defer { env.close() }
        let real = uniqueLab("t-real")
        #expect(try env.nslab("up", "two-hosts", "--name", real).status == 0)
        let lab = uniqueLab("t-forge")
        let netns = env.path("/run/netns")

        // A namespace nslab did not make, without the lab's prefix, recorded with its identity.
        _ = try env.exec("/usr/sbin/ip", ["netns", "add", "nkvictim"])
        // A regular file where a pin would be, and one elsewhere, each recorded with its identity.
        let regular = "\(netns)/\(lab)-h1"
        try "precious".write(toFile: regular, atomically: false, encoding: .utf8)
        let elsewhere = env.path("/run/nslab/precious.txt")
        try "precious".write(toFile: elsewhere, atomically: false, encoding: .utf8)
        // An empty file where a pin would be: a placeholder only if the journal says nslab made it.
        let empty = "\(netns)/\(lab)-h2"
        #expect(FileManager.default.createFile(atPath: empty, contents: nil, attributes: [.posixPermissions: 0o444]))

        func record(_ node: String, _ name: String, _ path: String, _ id: [String: Any]) -> [String: Any] {
            ["node": node, "name": name, "path": path].merging(id) { a, _ in a }
        }
        try Self.forgeState(env, lab: lab, from: real, records: [
            record("h1", "nkvictim", "/run/netns/nkvictim", Self.identity("\(netns)/nkvictim")),
            record("h1", "\(lab)-h1", "/run/netns/\(lab)-h1", Self.identity(regular)),
            record("x", "\(lab)-x", "/run/nslab/precious.txt", Self.identity(elsewhere)),
            record("../precious.txt", "\(lab)-../precious.txt", "/run/netns/\(lab)-../precious.txt", [:]),
            record("h2", "\(lab)-h2", "/run/netns/\(lab)-h2", [:]),
        ])
        let sweep = try env.nslab("sweep", "--force", lab)
        #expect(sweep.status == 0, "\(sweep)")
        #expect(!sweep.stdout.contains("removed namespace"), "\(sweep)")
        #expect(sweep.stdout.contains("refused"), "\(sweep)")
        #expect(try env.netnsNames().contains("nkvictim"), "\(sweep)")
        #expect(FileManager.default.fileExists(atPath: regular) && FileManager.default.fileExists(atPath: elsewhere), "\(sweep)")
        #expect(FileManager.default.fileExists(atPath: empty), "an empty file without a journal entry was unlinked: \(sweep)")

        // The same through `down`.
        try Self.forgeState(env, lab: lab, from: real, records: [
            record("h1", "nkvictim", "/run/netns/nkvictim", Self.identity("\(netns)/nkvictim")),
            record("h1", "\(lab)-h1", "/run/netns/\(lab)-h1", Self.identity(regular)),
        ])
        let down = try env.nslab("down", lab)
        #expect(down.stderr.contains("refused"), "\(down)")
        #expect(try env.netnsNames().contains("nkvictim") && FileManager.default.fileExists(atPath: regular), "\(down)")

        // A state file that names another lab than its file name: nothing is done with it.
        try Self.forgeState(env, lab: lab, name: real, from: real, records: [])
        let renamed = try env.nslab("down", lab)
        #expect(renamed.status != 0 && renamed.stderr.contains("names lab \(real)"), "\(renamed)")
        #expect(try env.names(withPrefix: real).count == 2 && env.stateFileExists(real), "\(renamed)")
        let swept = try env.nslab("sweep", "--force", lab)
        #expect(swept.stdout.contains("kept") && swept.stdout.contains("names lab \(real)"), "\(swept)")
        #expect(try env.names(withPrefix: real).count == 2 && env.stateFileExists(real), "\(swept)")
        unlink(env.path("/run/nslab/\(lab).json"))

        // A real placeholder of a killed `up`: the journal lists the node, the lab was building.
        try Self.forgeState(env, lab: lab, status: "building", from: real, records: [record("h2", "\(lab)-h2", "/run/netns/\(lab)-h2", [:])])
        try "h2 4 4026530000\n".write(toFile: env.path("/run/nslab/\(lab).pins"), atomically: false, encoding: .utf8)
        let placeholder = try env.nslab("sweep", lab)
        #expect(placeholder.stdout.contains("removed namespace \(lab)-h2 (an unmounted placeholder)"), "\(placeholder)")
        #expect(!FileManager.default.fileExists(atPath: empty), "\(placeholder)")

        #expect(try env.nslab("down", real).status == 0)
    }
}

extension NslabTests {
    /// `nslab bench --pinned` killed mid-build leaves labs that `ls` shows and `sweep` removes
    /// (before, it left /run/netns/nkbench… entries with no state file: "nothing to sweep").
    @Test func killedPinnedBenchIsSwept() throws {
        let env = try PrivateState()
        defer { env.close() }
        let gate = Self.gatePath()
        defer { unlink(gate) }
        let bench = try env.start(["bench", "netns", "--n", "600", "--runs", "1", "--pinned"],
                                  environment: ["NSLAB_DEBUG_UP_GATE": gate])
        let pinned = eventually { ((try? env.netnsNames()) ?? []).contains { $0.hasPrefix("nkbench") } }
        kill(bench.pid, SIGKILL)
        let killed = bench.wait()
        try #require(pinned && killed.status != 0, "the bench finished before it was killed: \(killed)")
        usleep(100_000)
        let left = try env.netnsNames().filter { $0.hasPrefix("nkbench") }
        #expect(!left.isEmpty)
        let ls = try env.nslab("ls")
        #expect(ls.stdout.contains("nkbench\(bench.pid)x0") && ls.stdout.contains("abandoned"), "\(ls)")
        let sweep = try env.nslab("sweep")
        #expect(sweep.status == 0 && sweep.stdout.contains("removed state file /run/nslab/nkbench\(bench.pid)x0.json"), "\(sweep)")
        #expect(try env.netnsNames().isEmpty, "\(sweep)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: env.path("/run/nslab"))) ?? ["?"]).isEmpty)

        // A whole pinned run leaves no state behind either.
        let full = try env.nslab("bench", "star", "--n", "3", "--runs", "2", "--pinned")
        #expect(full.status == 0, "\(full)")
        #expect(try env.netnsNames().isEmpty)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: env.path("/run/nslab"))) ?? ["?"]).isEmpty)
    }
}

extension NslabTests {
    /// No file of the state directory is opened through a symbolic link (a link planted at
    /// `<lab>.pins` used to be followed and appended to), and a state directory that is not
    /// root's with mode 0700 is refused.
    @Test func stateFilesAreNeverOpenedThroughLinks() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = uniqueLab("t-link")
        let victim = try Self.writeTemp("victim", "precious\n")
        defer { unlink(victim) }
        #expect(symlink(victim, env.path("/run/nslab/\(lab).pins")) == 0)
        let up = try env.nslab("up", "router", "--name", lab)
        #expect(up.status == 0, "\(up)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n", "the journal went through the link")
        #expect(try env.nslab("down", lab).status == 0)

        // A state file that is a link is not read.
        #expect(symlink(victim, env.path("/run/nslab/\(lab).json")) == 0)
        let linked = try env.nslab("down", lab)
        #expect(linked.status != 0 && linked.stderr.contains("symbolic link"), "\(linked)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        unlink(env.path("/run/nslab/\(lab).json"))

        // The directory itself: mode and owner.
        chmod(env.path("/run/nslab"), 0o755)
        for args in [["up", "router", "--name", lab], ["ls"], ["sweep"], ["down", "--all"]] {
            let r = try env.nslab(args)
            #expect(r.status != 0 && r.stderr.contains("refusing to use the state directory /run/nslab: its mode is 755"), "\(args): \(r)")
        }
        chmod(env.path("/run/nslab"), 0o700)
        // In a user namespace that maps only root (CI's rootless run), uid 65534 does not exist.
        if chown(env.path("/run/nslab"), 65534, 65534) == 0 {
            let owned = try env.nslab("up", "router", "--name", lab)
            #expect(owned.status != 0 && owned.stderr.contains("belongs to uid 65534"), "\(owned)")
            chown(env.path("/run/nslab"), 0, 0)
        }
        #expect(try env.netnsNames().isEmpty)
    }
}

extension NslabTests {
    /// Where the kernel has namespace cookies, a record with only device and inode (which the
    /// kernel reuses) proves nothing: sweep and down leave the namespace alone.
    @Test func ownershipNeedsTheCookie() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = uniqueLab("t-cookie")
        #expect(try env.nslab("up", "two-hosts", "--name", lab).status == 0)
        let file = env.path("/run/nslab/\(lab).json")
        let original = try Data(contentsOf: URL(fileURLWithPath: file))
        var state = try #require(try JSONSerialization.jsonObject(with: original) as? [String: Any])
        let records = try #require(state["namespaces"] as? [[String: Any]])
        #expect(records.allSatisfy { $0["cookie"] != nil && $0["inode"] != nil }, "\(records)")
        state["namespaces"] = records.map { r in r.filter { $0.key != "cookie" } }
        try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: file))

        let sweep = try env.nslab("sweep", "--force", lab)
        #expect(!sweep.stdout.contains("removed namespace") && sweep.stdout.contains("recorded only its device and inode"), "\(sweep)")
        #expect(try env.names(withPrefix: lab).count == 2, "\(sweep)")

        // The journal of a killed `up` carries the cookie too, so such a lab is still swept.
        let killed = uniqueLab("t-ckill")
        let big = try Self.bigTopologyFile(killed, hosts: 300)
        defer { try? FileManager.default.removeItem(at: big) }
        let (_, wasKilled) = try Self.interruptUp(killed, file: big, signal: SIGKILL, in: env)
        try #require(wasKilled)
        let journal = try String(contentsOfFile: env.path("/run/nslab/\(killed).pins"), encoding: .utf8)
        #expect(journal.split(separator: "\n").allSatisfy { $0.split(separator: " ").count == 4 }, "\(journal)")
        let swept = try env.nslab("sweep", killed)
        #expect(try env.names(withPrefix: killed).isEmpty, "\(swept)")

        try original.write(to: URL(fileURLWithPath: file))
        #expect(try env.nslab("down", lab).status == 0)
        #expect(try env.netnsNames().isEmpty)
    }
}

extension NslabTests {
    /// Two nslab labs whose names collide (lab `X` with node `b-h1`, lab `X-b` with node `h1`):
    /// the error says which lab owns the namespace, not that nslab did not create it.
    @Test func collisionWithAnotherLabNamesThatLab() throws {
        let env = try PrivateState()
        defer { env.close() }
        let a = uniqueLab("t-pre")
        let file = try Self.writeTemp("prefix.yaml", "name: p\nnodes:\n- name: b-h1\n")
        defer { unlink(file) }
        #expect(try env.nslab("up", file, "--name", a).status == 0)
        let clash = try env.nslab("up", "two-hosts", "--name", "\(a)-b")
        #expect(clash.status != 0 && clash.stderr.contains("\(a)-b-h1 (a namespace of lab \(a))")
                && !clash.stderr.contains("not created by nslab"), "\(clash)")
        #expect(try env.nslab("down", a).status == 0)
        #expect(try env.netnsNames().isEmpty)
    }
}

/// Fails the suite unless the host's own network state — links, addresses, routes and rules
/// (IPv4 and IPv6, every table), the nftables ruleset and every `net.*` sysctl — is the same
/// after the suite as before it. Lifetimes and counters that tick by themselves are left out.
struct LeavesTheHostAlone: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    static func command(_ args: [String]) -> String {
        (try? run(args[0], Array(args.dropFirst())).stdout) ?? "(cannot run \(args.joined(separator: " ")))"
    }

    /// Every readable file under /proc/sys/net, `key = value`, except counters.
    static func sysctls() -> [String] {
        var out: [String] = []
        let root = "/proc/sys/net"
        guard let walker = FileManager.default.enumerator(atPath: root) else { return ["(cannot read \(root))"] }
        for case let rel as String in walker {
            if rel.hasSuffix("nf_conntrack_count") { continue }
            let path = "\(root)/\(rel)"
            var st = stat()
            guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_mode & 0o444 != 0 else { continue }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &buf, buf.count)
            close(fd)
            if n >= 0 { out.append("\(rel) = \(String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))") }
        }
        return out.sorted()
    }

    static func snapshot() -> [String] {
        let volatile = try! Regex(#"(valid_lft|preferred_lft|expires) \S+"#)
        var lines: [String] = []
        for args in [["/usr/sbin/ip", "-o", "link", "show"], ["/usr/sbin/ip", "-o", "addr", "show"],
                     ["/usr/sbin/ip", "route", "show", "table", "all"], ["/usr/sbin/ip", "-6", "route", "show", "table", "all"],
                     ["/usr/sbin/ip", "rule", "show"], ["/usr/sbin/ip", "-6", "rule", "show"], ["/usr/sbin/nft", "list", "ruleset"]] {
            let text = command(args).replacing(volatile, with: "")
            lines += text.split(separator: "\n").map { "\(args.dropFirst().joined(separator: " ")): \($0)" }
        }
        return lines + sysctls()
    }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        guard isRoot, testCase == nil else { return try await function() }
        let before = Self.snapshot()
        var failure: (any Error)?
        do { try await function() } catch { failure = error }
        let after = Self.snapshot()
        if before != after {
            let gone = Set(before).subtracting(after).sorted(), added = Set(after).subtracting(before).sorted()
            throw LeavesOtherLabsAlone.Damaged(description: "the suite changed the host's network state:\n"
                + gone.prefix(20).map { "- \($0)" }.joined(separator: "\n") + "\n" + added.prefix(20).map { "+ \($0)" }.joined(separator: "\n"))
        }
        if let failure { throw failure }
    }
}

extension Trait where Self == LeavesTheHostAlone {
    /// The suite must leave the host's links, addresses, routes, rules, nftables and `net.*` sysctls as they were.
    static var leavesTheHostAlone: Self { LeavesTheHostAlone() }
}

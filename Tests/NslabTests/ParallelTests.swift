import Foundation
import Testing

// `nslab test -j N` (scenarios at once, `serial: true` ones alone, the report in run order) and
// `nslab down` after its speed-up (ownership proven in bulk, unpinned in a batch).

extension NslabTests {
    /// Four scenario files whose only check is a command that marks itself running in a shared
    /// directory for a while and records which others were running meanwhile (the nodes share
    /// the filesystem). One of them is `serial: true`.
    static func overlapFiles(_ dir: URL) throws {
        func file(_ name: String, sleep: String, serial: Bool) -> String {
            let d = dir.path
            return """
                name: \(name)
                \(serial ? "serial: true\n" : "")nodes:
                  - {name: h1, addresses: [10.231.0.1/24]}
                  - {name: h2, addresses: [10.231.0.2/24]}
                links:
                  - {a: h1:eth0, b: h2:eth0}
                verifications:
                  - node: h1
                    run: [sh, -c, "touch \(d)/run.\(name); sleep \(sleep); ls \(d) > \(d)/seen.\(name); rm -f \(d)/run.\(name); echo done"]
                    shows: [done]

                """
        }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // The first is the slowest: it finishes last, and still comes first in the report.
        for (name, sleep, serial) in [("pj-a", "2", false), ("pj-b", "1", false), ("pj-c", "1", false), ("pj-z", "1", true)] {
            try file(name, sleep: sleep, serial: serial)
                .write(to: dir.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8)
        }
    }

    /// What each scenario saw running besides itself, by name.
    static func othersSeen(_ dir: URL) -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for name in ["pj-a", "pj-b", "pj-c", "pj-z"] {
            let text = (try? String(contentsOfFile: dir.appendingPathComponent("seen.\(name)").path, encoding: .utf8)) ?? ""
            out[name] = Set(text.split(separator: "\n").filter { $0.hasPrefix("run.") && $0 != "run.\(name)" }
                .map { String($0.dropFirst(4)) })
        }
        return out
    }

    @Test func concurrentTestsKeepTheirOrderAndSerialOnesRunAlone() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueLab("nk-par"))
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.overlapFiles(dir)

        let par = try nslab("test", "-j", "4", "--json", dir.path)
        #expect(par.status == 0, "\(par)")
        let results = try #require(try JSONSerialization.jsonObject(with: Data(par.stdout.utf8)) as? [String: Any])["results"]
            as? [[String: Any]]
        #expect(results?.compactMap { $0["name"] as? String } == ["pj-a", "pj-b", "pj-c", "pj-z"], "\(par)")
        #expect(results?.allSatisfy { $0["status"] as? String == "PASS" } == true, "\(par)")
        let seen = Self.othersSeen(dir)
        // The three others ran at once: the slow first one was running while each other one looked.
        for name in ["pj-b", "pj-c"] {
            #expect((seen[name] ?? []).contains("pj-a"), "\(name) did not run next to pj-a: \(seen)")
        }
        for name in ["pj-a", "pj-b", "pj-c"] {
            #expect(!(seen[name] ?? []).contains("pj-z"), "the serial scenario ran next to \(name): \(seen)")
        }
        #expect(seen["pj-z"] == [], "the serial scenario did not run alone: \(seen)")

        // -j 1: one at a time, nothing overlaps.
        for f in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] where f.hasPrefix("seen.") {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent(f))
        }
        let one = try nslab("test", "-j", "1", "--json", dir.path)
        #expect(one.status == 0, "\(one)")
        let alone = Self.othersSeen(dir)
        #expect(alone.values.allSatisfy { $0.isEmpty }, "\(alone)")

        let zero = try nslab("test", "-j", "0", dir.path)
        #expect(zero.status != 0 && zero.stderr.contains("at least 1"), "\(zero)")
    }

    /// `nslab down` of a lab with more namespaces than one batch: every namespace and file of the
    /// lab is gone, a namespace someone put at one of its paths stays (and is reported), and
    /// another lab is untouched.
    @Test func batchedDownRemovesItsOwnAndNothingElse() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = uniqueLab("t-bdown"), other = uniqueLab("t-bkeep")
        let big = try Self.bigTopologyFile(lab, hosts: 40)
        defer { try? FileManager.default.removeItem(at: big) }
        #expect(try env.nslab("up", big.path, "--name", lab).status == 0)
        #expect(try env.nslab("up", "two-hosts", "--name", other).status == 0)
        #expect(try env.names(withPrefix: lab).count == 41)
        func identities(_ prefix: String) throws -> [String: String] {
            var out: [String: String] = [:]
            for n in try env.names(withPrefix: prefix) {
                var st = stat()
                out[n] = stat(env.path("/run/netns/\(n)"), &st) == 0 ? "\(st.st_dev)/\(st.st_ino)" : "gone"
            }
            return out
        }
        let otherBefore = try identities(other)

        // Someone replaces h7's namespace with one of their own at the same path.
        let foreign = "/run/netns/\(lab)-h7"
        let swap = try env.exec("/bin/sh", ["-c", "umount \(foreign) && unshare --net=\(foreign) true"])
        try #require(swap.status == 0, "\(swap)")

        let down = try env.nslab("down", lab)
        #expect(down.status == 1, "\(down)")
        #expect(down.stdout.contains("40 namespaces removed"), "\(down)")
        #expect(down.stderr.contains("left \(foreign) in place") && down.stderr.contains("cookie"), "\(down)")
        #expect(try env.names(withPrefix: lab) == ["\(lab)-h7"], "\(down)")
        #expect(!env.stateFileExists(lab) && access(env.path("/run/nslab/\(lab).pins"), F_OK) != 0, "\(down)")
        #expect(try identities(other) == otherBefore)
        #expect(try env.exec("/usr/sbin/ip", ["netns", "exec", "\(other)-h1", "ping", "-c1", "-W2", "10.10.0.2"]).status == 0)

        _ = try env.exec("/usr/sbin/ip", ["netns", "del", "\(lab)-h7"])
        #expect(try env.nslab("down", other).status == 0)
        #expect(try env.netnsNames().isEmpty)
    }
}

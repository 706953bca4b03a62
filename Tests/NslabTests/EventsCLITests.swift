import Foundation
import Testing

/// `nslab events` against a pinned lab, and `nslab up` with isolated nodes, each inside a private
/// mount namespace (its own /run/nslab and /run/netns), so nothing reaches anyone else's labs.
@Suite(.serialized, .enabled(if: isRoot, "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to build labs"))
struct EventsCLITests {
    /// The JSON lines of `nslab events --json`, decoded.
    func objects(_ stdout: String) -> [[String: Any]] {
        stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test func eventsStreamsAPinnedLabsChangesUntilInterrupted() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = uniqueLab("t-ev")
        let up = try env.nslab("up", "two-hosts", "--name", lab)
        try #require(up.status == 0, "\(up)")
        defer { _ = try? env.nslab("down", lab) }

        // JSON lines, ended by SIGINT.
        let json = try env.start(["events", lab, "--json"])
        #expect(json.waitForStderr("Ctrl-C ends"), "\(json.stderrSoFar)")
        let ip = "/usr/sbin/ip"
        let changes = [["-n", "\(lab)-h1", "link", "set", "eth0", "mtu", "1400"],
                       ["-n", "\(lab)-h2", "route", "add", "10.99.0.0/24", "via", "10.10.0.1"],
                       ["-n", "\(lab)-h2", "link", "set", "eth0", "down"]]
        for c in changes {
            let r = try env.exec(ip, c)
            try #require(r.status == 0, "\(c): \(r)")
        }
        usleep(300_000)
        kill(json.pid, SIGINT)
        let ended = json.wait()
        #expect(ended.status == 0, "\(ended)")
        let events = objects(ended.stdout)
        // Every line is one JSON object.
        #expect(events.count == ended.stdout.split(separator: "\n").count, "\(ended.stdout)")
        let mtu = events.first { e in
            guard e["node"] as? String == "h1", e["object"] as? String == "link", let l = e["link"] as? [String: Any] else { return false }
            return l["name"] as? String == "eth0" && l["mtu"] as? Int == 1400
        }
        #expect(mtu != nil, "no h1 link event with mtu 1400 in:\n\(ended.stdout)")
        let route = events.first { e in
            e["node"] as? String == "h2" && e["kind"] as? String == "new" && e["object"] as? String == "route"
                && (e["route"] as? [String: Any])?["destination"] as? String == "10.99.0.0/24"
        }
        #expect(route != nil, "no new route 10.99.0.0/24 event in:\n\(ended.stdout)")
        let down = events.first { e in
            guard e["node"] as? String == "h2", let l = e["link"] as? [String: Any] else { return false }
            return l["name"] as? String == "eth0" && l["up"] as? Bool == false
        }
        #expect(down != nil, "no h2 eth0 down event in:\n\(ended.stdout)")
        // The kernel's own consequences are events too: h1's end lost its carrier when h2's went down.
        #expect(events.contains { e in
            guard e["node"] as? String == "h1", let l = e["link"] as? [String: Any] else { return false }
            return l["name"] as? String == "eth0" && l["up"] as? Bool == true && l["carrier"] as? Bool == false
        }, "\(ended.stdout)")
        // Times are seconds since the lab was up: after `up`, a few seconds at most here.
        let times = events.compactMap { $0["at"] as? Double }
        #expect(!times.isEmpty && times.allSatisfy { $0 > 0 && $0 < 600 }, "\(times)")

        // Text lines, ended by SIGTERM, for one node.
        let text = try env.start(["events", lab, "--nodes", "h1"])
        #expect(text.waitForStderr("Ctrl-C ends"), "\(text.stderrSoFar)")
        for c in [["-n", "\(lab)-h1", "addr", "add", "10.10.9.1/24", "dev", "eth0"], ["-n", "\(lab)-h2", "link", "set", "eth0", "up"]] {
            let r = try env.exec(ip, c)
            try #require(r.status == 0, "\(c): \(r)")
        }
        usleep(300_000)
        kill(text.pid, SIGTERM)
        let t = text.wait()
        #expect(t.status == 0, "\(t)")
        #expect(t.stdout.contains("h1: new address inet 10.10.9.1/24 dev eth0 scope global"), "\(t.stdout)")
        #expect(!t.stdout.contains(" h2: "), "only h1 was asked for:\n\(t.stdout)")
    }

    @Test func eventsRefusesAnUnknownLabOrNodeClearly() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = uniqueLab("t-evx")
        let up = try env.nslab("up", "two-hosts", "--name", lab)
        try #require(up.status == 0, "\(up)")
        defer { _ = try? env.nslab("down", lab) }
        let typo = String(lab.dropLast())
        let r = try env.nslab("events", typo)
        #expect(r.status == 1 && r.stderr.contains("no lab named \"\(typo)\" is up") && r.stderr.contains("did you mean \"\(lab)\""), "\(r)")
        #expect(!looksLikeCrash(r))
        let n = try env.nslab("events", lab, "--nodes", "h3")
        #expect(n.status == 1 && n.stderr.contains("has no node \"h3\""), "\(n)")
    }

    @Test func upHoldsIsolatedNodesAndExecEntersThem() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = uniqueLab("t-iso")
        let file = NSTemporaryDirectory() + "\(lab).yaml"
        try """
            name: iso
            nodes:
              - {name: r1, isolation: full, addresses: [10.20.0.1/24]}
              - {name: h2, addresses: [10.20.0.2/24]}
            links:
              - {a: r1:eth0, b: h2:eth0}
            """.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let up = try env.nslab("up", file, "--name", lab)
        try #require(up.status == 0, "\(up)")
        var downDone = false
        defer { if !downDone { _ = try? env.nslab("down", lab) } }
        #expect(FileManager.default.fileExists(atPath: env.path("/run/nslab/\(lab)/r1.mnt")))
        #expect(!FileManager.default.fileExists(atPath: env.path("/run/nslab/\(lab)/h2.mnt")))

        // A later process (nslab up has exited) enters the node's own hostname and files.
        let host = try env.nslab("exec", lab, "r1", "--", "hostname")
        #expect(host.status == 0 && host.stdout == "r1\n", "\(host)")
        let hosts = try env.nslab("exec", lab, "r1", "--", "cat", "/etc/hosts")
        #expect(hosts.stdout.contains("10.20.0.1\tr1") && hosts.stdout.contains("10.20.0.2\th2"), "\(hosts)")
        let write = try env.nslab("exec", lab, "r1", "--", "sh", "-c", "echo kept > /tmp/nk-iso-probe")
        #expect(write.status == 0, "\(write)")
        let read = try env.nslab("exec", lab, "r1", "--", "cat", "/tmp/nk-iso-probe")
        #expect(read.stdout == "kept\n", "the node's /tmp lives as long as the lab: \(read)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/nk-iso-probe"))
        // The node that is not isolated has the host's hostname; the network is the lab's.
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count)
        let plain = try env.nslab("exec", lab, "h2", "--", "hostname")
        #expect(plain.stdout == String(cString: buf) + "\n", "\(plain)")
        let ping = try env.nslab("exec", lab, "r1", "--", "ip", "-br", "addr", "show", "eth0")
        #expect(ping.stdout.contains("10.20.0.1/24"), "\(ping)")

        let down = try env.nslab("down", lab)
        downDone = true
        #expect(down.status == 0, "\(down)")
        #expect(!FileManager.default.fileExists(atPath: env.path("/run/nslab/\(lab)")), "the pins' directory stays")
        #expect(try env.names(withPrefix: lab).isEmpty)
    }
}

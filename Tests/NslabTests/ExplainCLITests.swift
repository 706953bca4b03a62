import Foundation
import Testing

@Suite(.serialized, .enabled(if: isRoot, "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to build labs"), .leavesOtherLabsAlone, .leavesTheHostAlone)
struct ExplainCLITests {
    @Test func explainsAPinnedLab() throws {
        let lab = uniqueLab("t-why")
        defer { cleanUp(lab) }
        let up = try nslab("up", "firewall", "--name", lab)
        try #require(up.status == 0, "\(up)")

        let works = try nslab("explain", lab, "h1", "10.21.2.2")
        #expect(works.status == 0, "\(works)")
        #expect(works.stdout.contains("h1 → 10.21.2.2 (icmp, from 10.21.1.2)"), "\(works)")
        #expect(works.stdout.contains("r1   in eth0 → route 10.21.2.0/24 dev eth1 (table main); forwarding on"), "\(works)")
        // The firewall's chain is traced and lets ICMP through.
        #expect(works.stdout.contains("nftables inet nslab_fw forward: policy accept"), "\(works)")
        #expect(works.stdout.contains("✔ works"), "\(works)")

        // TCP to 22 dies in r1's forward chain, at the rule that drops it.
        let ssh = try nslab("explain", lab, "h1", "10.21.2.2", "--tcp", "22", "--json")
        #expect(ssh.status == 1, "\(ssh)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(ssh.stdout.utf8)) as? [String: Any], "\(ssh)")
        #expect(json["failedNode"] as? String == "r1" && json["failedReason"] as? String == "nftables", "\(ssh)")
        let hops = try #require(json["hops"] as? [[String: Any]])
        // Named by its handle (which depends on the rules before it) and its text.
        let last = hops.last?["text"] as? String ?? ""
        #expect(last.contains(#/forward: rule \d+ "tcp dport 22 drop" \(verdict drop\)/#), "\(ssh)")

        // The kernel's state is as before: the tracing table is gone.
        let tables = try run("/usr/sbin/ip", ["netns", "exec", "\(lab)-r1", "nft", "list", "tables"])
        #expect(tables.stdout == "table inet nslab_fw\n", "\(tables)")

        for (args, words) in [(["explain", lab, "h1", "10.21.2.2", "--tcp", "1", "--udp", "2"], "not both"),
                              (["explain", lab, "h1", "10.21.2.999"], "not an IP address"),
                              (["explain", lab, "h9", "10.21.2.2"], "has no node \"h9\""),
                              (["explain", "no-such-lab-nk", "h1", "10.21.2.2"], "no-such-lab-nk")] {
            let r = try nslab(args)
            #expect(r.status != 0 && r.stderr.hasPrefix("nslab: error: ") && r.stderr.contains(words) && !looksLikeCrash(r), "\(r)")
        }
        #expect(try nslab("down", lab).status == 0)
    }

    /// A failed reachability check in `nslab test` shows the path before the lab state.
    @Test func aFailedScenarioCheckIsExplained() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nk-why-\(UInt32.random(in: 0..<UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("noforward.yaml")
        try """
            name: noforward
            nodes:
              - {name: h1, addresses: [10.31.1.2/24], routes: [{to: default, via: 10.31.1.1}]}
              - {name: r1, kind: router, sysctls: {net.ipv4.ip_forward: "0"}}
              - {name: h2, addresses: [10.31.2.2/24], routes: [{to: default, via: 10.31.2.1}]}
            links:
              - {a: h1:eth0, b: {endpoint: r1:eth0, addresses: [10.31.1.1/24]}}
              - {a: {endpoint: r1:eth1, addresses: [10.31.2.1/24]}, b: h2:eth0}
            expect:
              - {from: h1, reaches: 10.31.2.2}
            """.write(to: file, atomically: true, encoding: .utf8)
        let r = try nslab("test", file.path)
        #expect(r.status != 0, "\(r)")
        let why = try #require(r.stdout.range(of: "r1   in eth0 → dropped: forwarding is off") ?? r.stderr.range(of: "r1   in eth0 → dropped: forwarding is off"), "\(r)")
        let text = r.stdout.range(of: "r1   in eth0") != nil ? r.stdout : r.stderr
        let state = try #require(text.range(of: "lab state:"), "\(r)")
        #expect(why.lowerBound < state.lowerBound)
    }
}

import Foundation
import Testing

/// `nslab bench --file` and the fixture workload's percentiles, through the built binary.
@Suite(.serialized, .enabled(if: isRoot, "needs root to build labs"))
struct BenchCLITests {
    /// A three-node file: a host, a router and a host, as a user would write it.
    static let routedFile = """
        name: bench-file
        nodes:
          - {name: a, addresses: [10.61.1.2/24], routes: [{to: default, via: 10.61.1.1}]}
          - {name: r, kind: router}
          - {name: b, addresses: [10.61.2.2/24], routes: [{to: default, via: 10.61.2.1}]}
        links:
          - {a: a:eth0, b: {endpoint: r:eth0, addresses: [10.61.1.1/24]}}
          - {a: {endpoint: r:eth1, addresses: [10.61.2.1/24]}, b: b:eth0}
        """

    static func write(_ text: String, name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nkbench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    static func objects(_ r: Run) throws -> [[String: Any]] {
        try r.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "\($0)")
        }
    }

    /// The distribution fields of one stats object, in order: min ≤ p50 ≤ p99 ≤ max, all > 0.
    static func checkStats(_ o: [String: Any], _ key: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let s = try #require(o[key] as? [String: Double], "\(key) in \(o)", sourceLocation: sourceLocation)
        let min = s["min"] ?? -1, p50 = s["p50"] ?? -1, p99 = s["p99"] ?? -1, max = s["max"] ?? -1, median = s["median"] ?? -1
        #expect(min > 0 && min <= p50 && p50 <= p99 && p99 <= max && min <= median && median <= max,
                "\(key): \(s)", sourceLocation: sourceLocation)
    }

    /// `--file` builds and tears down the file's topology, in fixture and in pinned mode, and
    /// prints the same JSON as the other workloads; nothing is left behind.
    @Test func fileIsBuiltAndTornDown() throws {
        let path = try Self.write(Self.routedFile, name: "routed.yaml")
        let r = try nslab("bench", "--file", path, "--runs", "2", "--json")
        #expect(r.status == 0, "\(r)")
        let objects = try Self.objects(r)
        try #require(objects.count == 1, "\(r)")
        let o = objects[0]
        #expect(o["workload"] as? String == "file" && o["file"] as? String == path, "\(o)")
        #expect(o["n"] as? Int == 3 && o["runs"] as? Int == 2 && o["mode"] as? String == "fixture", "\(o)")
        for key in ["create", "teardown", "gone", "total"] { try Self.checkStats(o, key) }
        #expect((o["opsPerSecond"] as? Int ?? 0) > 0 && (o["peakRSSBytes"] as? Int ?? 0) > 0, "\(o)")

        // Pinned, inside a private /run/netns: the labs are pinned while they exist (state files
        // and journals as `nslab up` writes them), and all of it is gone afterwards.
        let env = try PrivateState()
        defer { env.close() }
        let pinned = try env.nslab("bench", "--file", path, "--runs", "1", "--pinned", "--json")
        #expect(pinned.status == 0, "\(pinned)")
        let p = try #require(try Self.objects(pinned).first)
        #expect(p["mode"] as? String == "pinned" && p["workload"] as? String == "file", "\(p)")
        try Self.checkStats(p, "gone")
        #expect(try env.netnsNames().isEmpty)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: env.path("/run/nslab"))) ?? []).filter { $0.hasSuffix(".json") }.isEmpty)

        // Text output names the file.
        let text = try nslab("bench", "--file", path, "--runs", "1")
        #expect(text.status == 0 && text.stdout.contains("file routed.yaml"), "\(text)")
    }

    /// The file is what gets built: a file whose build fails in the kernel fails the bench with
    /// the builder's error, and a file that does not validate fails before anything is built.
    @Test func aBadFileIsAClearError() throws {
        // A dummy device: this kernel has none (KERNEL-NOTES), so the build fails and is rolled back.
        let kernelless = try Self.write("""
            name: bench-bad
            nodes:
              - {name: a, dummies: [d0]}
            """, name: "dummy.yaml")
        let doctor = try nslab("doctor", "--json")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(doctor.stdout.utf8)) as? [String: Any], "\(doctor)")
        let kinds = report["linkKinds"] as? [[String: Any]] ?? []
        let dummy = try #require(kinds.first { $0["feature"] as? String == "dummy" }, "doctor does not report dummy: \(doctor)")
        if dummy["supported"] as? Bool == false {
            let r = try nslab("bench", "--file", kernelless, "--runs", "1")
            #expect(r.status != 0 && r.stderr.contains("bench --file \(kernelless)") && r.stderr.contains("dummy"), "\(r)")
        }
        let invalid = try Self.write("name: bench-bad\nnodes:\n  - {name: a}\nlinks:\n  - {a: a:eth0, b: nosuch:eth0}\n", name: "invalid.yaml")
        let v = try nslab("bench", "--file", invalid)
        #expect(v.status != 0 && v.stderr.contains("nosuch") && v.stdout.isEmpty, "\(v)")
        for (args, text) in [(["bench", "--file", "/nonexistent/nk.yaml"], "no such file"),
                             (["bench", "--file", invalid, "--compare", "ip-batch"], "--compare ip-batch needs a workload"),
                             (["bench", "--file", invalid, "--n", "3"], "--n sizes the workloads")] {
            let bad = try nslab(args)
            #expect(bad.status != 0 && bad.stderr.contains(text), "\(args): \(bad)")
        }
    }

    /// `fixture` reports the distribution per cycle: p50, p99 and max of create, teardown and
    /// their total, over N cycles, and labs per second.
    @Test func fixtureReportsPercentilesPerCycle() throws {
        let r = try nslab("bench", "fixture", "--n", "60", "--json")
        #expect(r.status == 0, "\(r)")
        let o = try #require(try Self.objects(r).first)
        #expect(o["workload"] as? String == "fixture" && o["n"] as? Int == 60 && o["runs"] as? Int == 1, "\(o)")
        #expect(o["cycles"] as? Int == 60, "\(o)")
        for key in ["create", "teardown", "total"] { try Self.checkStats(o, key) }
        // A cycle's total is its create plus its teardown, so the totals' extremes bound theirs.
        let c = try #require(o["create"] as? [String: Double]), t = try #require(o["total"] as? [String: Double])
        #expect(t["max"]! >= c["max"]! && t["min"]! >= c["min"]!, "\(o)")
        // The cycles do not wait for the kernel's release, so no release time is claimed.
        #expect(o["gone"] == nil, "\(o)")
        let labs = o["labsPerSecond"] as? Double ?? 0
        #expect(labs > 0 && labs <= 1 / c["min"]!, "\(o)")
        let text = try nslab("bench", "fixture", "--n", "20")
        #expect(text.status == 0 && text.stdout.contains("per cycle over 20 cycles: create p50"), "\(text)")
    }
}

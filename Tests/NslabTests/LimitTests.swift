import Foundation
import Testing

// Size limits and inputs that are not topology files: refused before anything is read in full,
// planned or built.

extension NslabTests {
    static func writeTemp(_ name: String, _ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString)-\(name)")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// A node with `routes` blackhole routes (no links needed).
    static func manyRoutes(_ routes: Int) -> String {
        var y = "name: routes\nnodes:\n- name: h1\n  routes:\n"
        for i in 0..<routes { y += "  - {to: 10.\(64 + i / 65536).\(i / 256 % 256).\(i % 256)/32, type: blackhole}\n" }
        return y
    }

    @Test func oversizedTopologiesAreRefusedBeforeAnythingIsCreated() throws {
        let env = try PrivateState()
        defer { env.close() }
        let nodes = try Self.writeTemp("nodes.yaml", "name: big\nnodes:\n" + (0...5_000).map { "- name: n\($0)\n" }.joined())
        defer { unlink(nodes) }
        let t0 = Date()
        let big = try env.nslab("up", nodes, "--name", "t-big")
        #expect(big.status == 1 && big.stderr.contains("5001 nodes (the limit is 5000)") && big.stderr.contains("nothing was created")
                && big.stderr.contains("--allow-large"), "\(big)")
        #expect(Date().timeIntervalSince(t0) < 20)
        #expect(try env.netnsNames().isEmpty && !env.stateFileExists("t-big"))

        let routes = try Self.writeTemp("routes.yaml", Self.manyRoutes(20_001))
        defer { unlink(routes) }
        let refused = try env.nslab("up", routes, "--name", "t-routes")
        #expect(refused.status == 1 && refused.stderr.contains("20001 routes on node h1 (the limit is 20000 per node)"), "\(refused)")
        #expect(try env.netnsNames().isEmpty && !env.stateFileExists("t-routes"))

        // Overridden: built, after saying what it costs.
        let allowed = try env.nslab("up", routes, "--name", "t-routes", "--allow-large")
        #expect(allowed.status == 0 && allowed.stderr.contains("1 namespaces, 0 links, 0 addresses, 20001 routes")
                && allowed.stderr.contains("estimated"), "\(allowed)")
        let count = try env.exec("/usr/sbin/ip", ["-n", "t-routes-h1", "route", "show", "type", "blackhole"])
        #expect(count.stdout.split(separator: "\n").count == 20_001)
        #expect(try env.nslab("down", "t-routes").status == 0)
    }

    @Test func filesThatAreNotTopologyFilesAreRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-dir-\(UUID().uuidString).yaml").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { rmdir(dir) }
        let fifo = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-fifo-\(UUID().uuidString).yaml").path
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        let huge = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-huge-\(UUID().uuidString).yaml").path
        #expect(FileManager.default.createFile(atPath: huge, contents: nil))
        #expect(truncate(huge, 17 << 20) == 0)
        defer { unlink(huge) }
        for (file, text) in [(dir, "is a directory"), (fifo, "is not a regular file"), ("/dev/zero", "is a device"),
                             (huge, "is 17 MiB, more than the 16 MiB a topology file may have")] {
            for command in ["plan", "up"] {
                // A FIFO or a device used to block or read forever: bounded here.
                let p = try Background([nslabPath, command, file], environment: [:])
                let deadline = Date().addingTimeInterval(15)
                while p.process.isRunning && Date() < deadline { usleep(20_000) }
                if p.process.isRunning { kill(p.pid, SIGKILL) }
                let r = p.wait()
                #expect(r.status == 1 && r.stderr.hasPrefix("nslab: error: cannot load \(file): \(text)"), "\(command) \(file): \(r)")
                #expect(!looksLikeCrash(r))
            }
        }
    }
}

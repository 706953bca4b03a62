import Foundation
import NetnsKit
import Testing

/// True when `pid` is gone or a zombie (dead, waiting to be reaped by whoever inherited it).
func processIsDead(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    // "pid (comm) S …": the state follows the last ')'.
    guard let close = stat.lastIndex(of: ")") else { return true }
    return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
}

@Suite(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct BackgroundProcessTests {
    static let pair = Topology("bg") {
        Host("h1") { Address("10.31.0.1/24") }
        Host("h2") { Address("10.31.0.2/24") }
        Link("h1", "h2")
    }

    @Test func runsInTheNodeKeepsItsOutputAndStops() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        let p = try lab["h1"].start(["sh", "-c", "readlink /proc/self/ns/net; echo ready; echo note >&2; exec sleep 30"])
        #expect(p.waitForOutput(containing: "ready", timeout: 5), "output: \(p.output) \(p.errorOutput)")
        // In h1's namespace, not ours.
        let inode = try lab["h1"].namespace.inode
        #expect(p.output.hasPrefix("net:[\(inode)]\n"), "\(p.output)")
        #expect(p.waitForOutput(containing: "note", timeout: 5) && p.errorOutput == "note\n")
        // A failure report shows it with its output.
        let dump = lab.stateDump()
        #expect(dump.contains("── processes\n") && dump.contains("(pid \(p.pid), in h1): running"), "\(dump)")
        #expect(dump.contains("    stderr:\n      note\n"), "\(dump)")
        #expect(p.isRunning && p.exitStatus == nil)
        #expect(!processIsDead(p.pid))
        // SIGTERM to the group: sleep (exec'd in place of sh) ends with 128 + 15.
        #expect(p.stop() == 143)
        #expect(!p.isRunning && p.exitStatus == 143)
        #expect(p.stop() == 143) // idempotent
        #expect(processIsDead(p.pid))
    }

    @Test func exitStatusAndErrors() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        let p = try lab["h2"].start(["sh", "-c", "echo oops >&2; exit 3"], environment: ["NK_BG=1"])
        #expect(p.waitForExit(timeout: 5) == 3)
        #expect(p.errorOutput == "oops\n" && p.output.isEmpty)
        let env = try lab["h2"].start(["sh", "-c", "echo $NK_BG"], environment: ["NK_BG=42"])
        #expect(env.waitForExit(timeout: 5) == 0 && env.output == "42\n")
        // A command that does not exist, or cannot be executed: an error, no process.
        let missing = #expect(throws: SystemCallError.self) { try lab["h2"].start(["no-such-command-nk"]) }
        #expect(missing?.errno == .noSuchFileOrDirectory)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("nk-noexec-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: file, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o644]))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let notExecutable = #expect(throws: SystemCallError.self) { try lab["h2"].start([file]) }
        #expect(notExecutable?.errno == .permissionDenied)
        // An unknown node says so.
        #expect(throws: LabError.self) { try lab["nope"].start(["true"]) }
    }

    /// A descriptor of this process without close-on-exec reaches neither a command run to
    /// completion nor a background one.
    @Test func onlyStandardDescriptorsReachCommands() throws {
        let lab = try Lab.up(Self.pair)
        defer { lab.down() }
        let fd = open("/dev/null", O_RDONLY) // deliberately without O_CLOEXEC
        try #require(fd > 2)
        defer { close(fd) }
        let probe = "if [ -e /proc/self/fd/\(fd) ]; then echo leaked; else echo clean; fi"
        let r = try lab["h1"].runBlocking(["sh", "-c", probe])
        #expect(r.output == "clean\n", "\(r.output)")
        let p = try lab["h1"].start(["sh", "-c", probe])
        #expect(p.waitForExit(timeout: 5) == 0 && p.output == "clean\n", "\(p.output)")
    }

    /// `down()` stops what the nodes still run: SIGTERM, then SIGKILL for a process that ignores it,
    /// and the whole process group with it.
    @Test func labDownStopsEverything() throws {
        let lab = try Lab.up(Self.pair)
        let polite = try lab["h1"].start(["sleep", "300"])
        let stubborn = try lab["h2"].start(["sh", "-c", "trap '' TERM; sleep 300 & echo child $!; wait"])
        #expect(stubborn.waitForOutput(containing: "child ", timeout: 5))
        let child = Int32(stubborn.output.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "") ?? 0
        #expect(child > 0 && !processIsDead(child))
        let t0 = Date()
        lab.down()
        #expect(Date().timeIntervalSince(t0) < 10)
        #expect(polite.exitStatus == 143 && stubborn.exitStatus == 137)
        #expect(processIsDead(polite.pid) && processIsDead(stubborn.pid))
        var childGone = false
        for _ in 0..<500 where !childGone { childGone = processIsDead(child); if !childGone { usleep(10_000) } }
        #expect(childGone, "the stubborn process's child \(child) survived")
    }
}

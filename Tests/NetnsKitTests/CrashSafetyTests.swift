import Foundation
import NetnsBench
import NetnsKit
import NetnsTesting
import Testing

/// The child half of the crash tests: runs only when the parent test starts this test binary
/// with NK_CRASH_CHILD set. It builds labs whose every namespace carries a sentinel veth whose
/// peer sits in the parent's watch namespace, and waits to be killed.
@Test func crashChild() throws {
    let env = ProcessInfo.processInfo.environment
    guard let mode = env["NK_CRASH_CHILD"], let watchPath = env["NK_WATCH"], let tag = env["NK_TAG"] else { return }
    let watch = try NetworkNamespace.open(path: watchPath, label: "parent-watch")
    let counter = Counter()
    var options = LabOptions()
    options.onNamespaceCreated = { _, ns in
        counter.set(counter.value + 1)
        FileHandle.standardOutput.write(Data("NS \(ns.inode)\n".utf8))
        let peer = "\(tag)\(counter.value)"
        try? ns.socket.execute(.newLink(LinkSpec(name: "crashsentinel", index: 60000,
                                                 kind: .veth(peer: VethPeer(name: peer, namespaceFD: watch.fd)))))
    }
    let deadline = monotonicNow() + 30
    FileHandle.standardOutput.write(Data("STARTED\n".utf8))
    while monotonicNow() < deadline {
        let lab = try Lab.up(BenchWorkload.star.topology(n: 60), options: options)
        FileHandle.standardOutput.write(Data("BUILT\n".utf8))
        if mode == "test" {
            // In the middle of a test: a probe run, a daemon running in a node, then killed while sleeping.
            _ = try lab["h0"].runBlocking(["true"])
            let daemon = try lab["h1"].start(["sleep", "300"])
            FileHandle.standardOutput.write(Data("BG \(daemon.pid)\n".utf8))
            usleep(30_000_000)
        }
        lab.down()
    }
}

@Suite(.netnsPrivileges, .serialized) struct CrashSafetyTests {
    /// SIGKILL during a build and during a test: every namespace of the child is released by the
    /// kernel, and no mount, /run/netns entry or file of it remains.
    @Test(arguments: ["build", "test"]) func killedChildLeavesNothingBehind(_ mode: String) throws {
        let watch = try NetworkNamespace.create(label: "crash-watch")
        defer { watch.close() }
        let tag = "ck" + String(UInt16.random(in: 0...UInt16.max), radix: 36)

        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--testing-library", "swift-testing", "--filter", "crashChild"]
        var env = ProcessInfo.processInfo.environment
        env["NK_CRASH_CHILD"] = mode
        env["NK_WATCH"] = "/proc/\(getpid())/fd/\(watch.fd)"
        env["NK_TAG"] = tag
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait for the child to be building (or built, for a kill mid-test).
        let wanted = mode == "build" ? "STARTED" : "BG "
        var seen = ""
        let deadline = Date().addingTimeInterval(60)
        while !seen.contains(wanted) && Date() < deadline && p.isRunning {
            seen += String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        }
        #expect(seen.contains(wanted), "the child never reported \(wanted): \(seen.suffix(500))")
        // The sentinels prove the child's namespaces exist before the kill (so the test can fail).
        let need = mode == "build" ? 1 : 61
        var present = 0
        let seenBy = monotonicNow() + 10
        repeat {
            present = try watch.socket.links().filter { $0.name.hasPrefix(tag) }.count
            if present >= need { break }
            usleep(1000)
        } while monotonicNow() < seenBy
        #expect(present >= need, "only \(present) child namespaces appeared")
        if mode == "build" { usleep(UInt32.random(in: 1_000...60_000)) } // somewhere inside a build
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        // What the child wrote before it died, without waiting for an end of file that a
        // surviving process holding the pipe would delay.
        let fd = out.fileHandleForReading.fileDescriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            seen += String(decoding: chunk[0..<n], as: UTF8.self)
        }
        let inodes = seen.split(separator: "\n").filter { $0.hasPrefix("NS ") }.map { String($0.dropFirst(3)) }
        #expect(!inodes.isEmpty)
        // A process started in a node dies with the test process (the kernel's parent-death
        // signal); alive, it would hold the node's namespace.
        let daemons = seen.split(separator: "\n").filter { $0.hasPrefix("BG ") }.compactMap { Int32($0.dropFirst(3)) }
        #expect(mode == "build" || daemons.count == 1, "\(seen.suffix(300))")
        for pid in daemons {
            var dead = processIsDead(pid)
            for _ in 0..<500 where !dead { usleep(10_000); dead = processIsDead(pid) }
            #expect(dead, "the daemon \(pid) started in the killed child's lab is still running")
        }

        // Every namespace the child made had a sentinel whose peer is in `watch`.
        var left: [String] = []
        let until = monotonicNow() + 10
        repeat {
            left = try watch.socket.links().map(\.name).filter { $0.hasPrefix(tag) }
            if left.isEmpty { break }
            usleep(5000)
        } while monotonicNow() < until
        #expect(left.isEmpty, "namespaces of the killed child still exist: \(left)")
        // No mount of any of its namespaces (a pinned namespace is an nsfs mount showing net:[inode]).
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        let leaked = inodes.filter { mounts.contains("net:[\($0)]") }
        #expect(leaked.isEmpty, "mounts of the killed child's namespaces remain: \(leaked)")
    }
}

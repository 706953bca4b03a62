import Foundation
import Testing

// Races between `nslab up` and the commands that remove labs, made deterministic: a debug build
// of nslab pauses at the racing step when an environment variable asks (NSLAB_DEBUG_UP_GATE:
// `up` stops after pinning its first namespace until a file exists; NSLAB_DEBUG_DELAY_SWEEP_MS:
// `sweep` waits between reading the state files and acting on them). All of it runs in a
// private /run/nslab and /run/netns.

extension NslabTests {
    /// A gate file path for `NSLAB_DEBUG_UP_GATE` (not created yet).
    static func gatePath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("nslab-gate-\(UUID().uuidString)").path
    }

    static func open(gate: String) { FileManager.default.createFile(atPath: gate, contents: nil) }

    /// `up` is paused mid-build while `sweep` reads the state files; `up` then finishes and
    /// exits before `sweep` acts. Sweep must see that the lab is up and keep it (before the lock
    /// it acted on its stale "building" snapshot, found the pid gone, and removed the lab).
    @Test func sweepNeverRemovesALabThatUpIsBuilding() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = uniqueLab("t-race")
        let gate = Self.gatePath()
        defer { unlink(gate) }
        let up = try env.start(["up", "router", "--name", lab], environment: ["NSLAB_DEBUG_UP_GATE": gate])
        try #require(up.waitForStderr("nslab: debug: up paused"), "up never paused: \(up.wait())")
        try #require(env.stateFileExists(lab))

        let sweep = try env.start(["sweep"], environment: ["NSLAB_DEBUG_DELAY_SWEEP_MS": "3000"])
        try #require(sweep.waitForStderr("nslab: debug: sweep paused"), "sweep never paused: \(sweep.wait())")
        Self.open(gate: gate)
        let upRun = up.wait()
        #expect(upRun.status == 0 && upRun.stdout.contains("lab \(lab) is up"), "\(upRun)")
        let sweepRun = sweep.wait()
        #expect(sweepRun.status == 0, "\(sweepRun)")
        #expect(!sweepRun.stdout.contains("removed"), "\(sweepRun)")

        // The lab is whole: every namespace, its state file, `ls` says up.
        #expect(try env.names(withPrefix: lab) == ["\(lab)-h1", "\(lab)-r1", "\(lab)-h2"], "\(sweepRun)")
        #expect(env.stateFileExists(lab))
        let ls = try env.nslab("ls")
        #expect(ls.stdout.contains(lab) && ls.stdout.contains(" up "), "\(ls)")
        let down = try env.nslab("down", lab)
        #expect(down.status == 0 && down.stdout.contains("3 namespaces removed"), "\(down)")
    }

    /// A sweep that runs while `up` is building keeps the lab, even with --force, and says who holds it.
    @Test func sweepAndDownRefuseALabWhoseUpIsRunning() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = uniqueLab("t-busy")
        let gate = Self.gatePath()
        defer { unlink(gate) }
        let up = try env.start(["up", "router", "--name", lab], environment: ["NSLAB_DEBUG_UP_GATE": gate])
        try #require(up.waitForStderr("nslab: debug: up paused"), "up never paused: \(up.wait())")

        let down = try env.nslab("down", lab)
        #expect(down.status != 0 && down.stderr.contains("is still being brought up") && down.stderr.contains("pid \(up.pid)"),
                "\(down)")
        let downAll = try env.nslab("down", "--all", "--yes")
        #expect(downAll.status != 0 && downAll.stderr.contains("is still being brought up"), "\(downAll)")
        let sweep = try env.nslab("sweep", "--force")
        #expect(sweep.status == 0 && sweep.stdout.contains("kept \(lab)") && !sweep.stdout.contains("removed"), "\(sweep)")

        Self.open(gate: gate)
        let upRun = up.wait()
        #expect(upRun.status == 0 && upRun.stdout.contains("lab \(lab) is up"), "\(upRun)")
        #expect(try env.names(withPrefix: lab).count == 3)
        #expect(try env.nslab("down", lab).status == 0)
        #expect(try env.names(withPrefix: lab).isEmpty)
        #expect(!env.stateFileExists(lab))
    }

    /// Something outside nslab removes a namespace while `up` builds: `up` must not report a
    /// lab it no longer has; it tears down the rest and fails.
    @Test func upNeverReportsALabItNoLongerHas() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = uniqueLab("t-gone")
        let gate = Self.gatePath()
        defer { unlink(gate) }
        let up = try env.start(["up", "router", "--name", lab], environment: ["NSLAB_DEBUG_UP_GATE": gate])
        try #require(up.waitForStderr("nslab: debug: up paused"), "up never paused: \(up.wait())")
        let pinned = try env.names(withPrefix: lab)
        try #require(!pinned.isEmpty)
        for n in pinned { _ = try env.exec("/usr/sbin/ip", ["netns", "del", n]) }
        Self.open(gate: gate)
        let upRun = up.wait()
        #expect(upRun.status != 0 && !upRun.stdout.contains("is up"), "\(upRun)")
        #expect(upRun.stderr.contains("vanished"), "\(upRun)")
        #expect(try env.names(withPrefix: lab).isEmpty, "\(upRun)")
        #expect(!env.stateFileExists(lab))
    }
}

extension NslabTests {
    /// A signal during the build stops it at the next batch and rolls back at once: the build
    /// never reaches its link phases (before, `up` noticed the signal only once all was built).
    /// SIGHUP (a closed terminal) is handled like SIGINT and SIGTERM (before, it killed `up`
    /// mid-build and left the lab behind).
    @Test(arguments: [SIGINT, SIGTERM, SIGHUP])
    func signalDuringTheBuildRollsBackAtOnce(_ signal: Int32) throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = uniqueLab("t-sig")
        let file = try Self.bigTopologyFile(lab, hosts: 300)
        defer { try? FileManager.default.removeItem(at: file) }
        let gate = Self.gatePath()
        defer { unlink(gate) }
        let up = try env.start(["up", file.path, "--name", lab], environment: ["NSLAB_DEBUG_UP_GATE": gate])
        try #require(up.waitForStderr("nslab: debug: up paused"), "up never paused: \(up.wait())")
        kill(up.pid, signal)
        usleep(50_000)
        Self.open(gate: gate)
        let r = up.wait()
        #expect(r.status == 130, "\(r)")
        #expect(r.stderr.contains("interrupted") && r.stderr.contains("nothing was left behind"), "\(r)")
        #expect(!r.stderr.contains(": links "), "the build went on after the signal: \(r)")
        #expect(try env.names(withPrefix: lab).isEmpty, "\(r)")
        #expect(!env.stateFileExists(lab))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: env.path("/run/nslab"))) ?? ["?"]).isEmpty)
    }
}

extension NslabTests {
    /// The pids of the processes inside a lab's node (`ip netns pids`).
    static func pids(_ env: PrivateState, _ netns: String) throws -> [String] {
        try env.exec("/usr/sbin/ip", ["netns", "pids", netns]).stdout.split(separator: "\n").map(String.init)
    }

    /// `nslab exec` passes SIGINT, SIGTERM and SIGHUP sent to it on to the command and exits with
    /// the command's status; killed with SIGKILL, it takes the command with it (before, the
    /// command stayed behind, running in the lab).
    @Test func execForwardsSignalsAndTakesItsCommandAlong() throws {
        let env = try PrivateState()
        defer { env.close() }
        let lab = uniqueLab("t-exec")
        #expect(try env.nslab("up", "two-hosts", "--name", lab).status == 0)
        defer { _ = try? env.nslab("down", lab) }
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGKILL] {
            let exec = try env.start(["exec", lab, "h1", "--", "sleep", "60"])
            let running = eventually(10) { ((try? Self.pids(env, "\(lab)-h1")) ?? []).count == 1 }
            try #require(running, "the command never started")
            kill(exec.pid, signal)
            let r = exec.wait()
            if signal == SIGKILL {
                #expect(exec.process.terminationReason == .uncaughtSignal)
            } else {
                #expect(r.status == 128 + signal, "signal \(signal): \(r)")
            }
            let gone = eventually(5) { ((try? Self.pids(env, "\(lab)-h1")) ?? ["?"]).isEmpty }
            let left = (try? Self.pids(env, "\(lab)-h1")) ?? []
            #expect(gone, "signal \(signal): the command outlived nslab exec: \(left)")
            // Clean up after a failure: nothing may keep running in the lab.
            for p in (try? Self.pids(env, "\(lab)-h1")) ?? [] { if let n = Int32(p) { kill(n, SIGKILL) } }
        }
    }
}

import ArgumentParser
import Foundation
import NetnsKit
import Scenarios
import Synchronization

// MARK: up

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring a scenario or a topology file up as a named lab.",
        discussion: """
            Builds the topology as pinned namespaces /run/netns/<LAB>-<node>, records the lab in \
            /run/nslab/<LAB>.json, runs the scenario's setup commands and prints the nodes, \
            interfaces and addresses. The lab stays until `nslab down <LAB>`.
            A name already in use (a state file, or a /run/netns/<LAB>-* namespace nslab does not own) \
            is refused and nothing is created. Ctrl-C, SIGTERM or SIGHUP during `up` stops the build \
            at its next batch, tears down what was built and exits 130. \
            Nodes with `isolation: full` get their private mount and UTS namespaces pinned under \
            /run/nslab/<LAB>/ (<node>.mnt, <node>.uts): `nslab exec` and `nslab shell` enter them, \
            `ip netns exec` does not.
            """)

    @Argument(help: "A scenario name (see `nslab scenarios`) or a .yaml/.yml/.json topology file.")
    var target: String

    @Option(name: .long, help: "The lab name: a-z, 0-9 and '-', at most 24 characters (default: the scenario or topology name).")
    var name: String?

    @Flag(help: "Print the lab's state record as JSON instead of a table.")
    var json = false

    @Flag(help: "Build a topology beyond the size limits (\(TopologySize.maxNodes) nodes, \(TopologySize.maxLinks) links, \(TopologySize.maxRoutesPerNode) routes per node, \(TopologySize.maxRoutes) routes, a \(Topology.maxFileBytes >> 20) MiB file).")
    var allowLarge = false

    func run() throws {
        let target = try resolveTarget(self.target, maxFileBytes: allowLarge ? Int.max : Topology.maxFileBytes)
        let lab = name ?? target.name
        try validateLabName(lab)
        try refuseOversized(target.topology, lab: lab, allowLarge: allowLarge)
        try requirePrivileges("nslab up")
        let plan = try target.topology.plan() // every validation problem before anything is touched
        announceLarge(target.topology, steps: plan.steps.count, lab: lab)

        // The lab's lock, held until this process ends: no `down` or `sweep` acts on the lab while
        // it is being built and set up.
        guard let lock = try LabLock.acquire(lab, wait: 2) else { throw labBusy(lab, doing: "nothing was changed") }
        // Refuse names that collide with anything we do not own, before creating anything.
        do {
            try checkNameIsFree(lab, nodes: target.topology.nodes.map(\.name))
        } catch {
            if !StateStore.exists(lab) { lock.releaseRemovingFile(lab) }
            throw error
        }

        var state = LabState(name: lab, source: target.source, status: .building, pid: getpid(),
                             created: Date().timeIntervalSince1970, topology: target.topology,
                             namespaces: target.topology.nodes.map {
                                 NamespaceRecord(node: $0.name, name: "\(lab)-\($0.name)",
                                                 path: "\(NetworkNamespace.runDirectory)/\(lab)-\($0.name)")
                             })
        catchInterrupts()
        defer { restoreInterrupts() }
        do {
            try StateStore.reserve(state)
        } catch {
            if !StateStore.exists(lab) { lock.releaseRemovingFile(lab) }
            throw error
        }

        // Record each namespace's device/inode as soon as it exists, before it is pinned, so a
        // `kill -9` at any moment of the build leaves a state file that proves what `sweep` may remove.
        let recorder = PinRecorder(state: state)
        let terminal = isatty(STDERR_FILENO) == 1
        var options = LabOptions(mode: .pinned(prefix: lab)) { phase, done, total in
            if total > 200 && recorder.shouldReport(phase: phase, done: done, total: total, terminal: terminal) {
                standardError(progressLine(lab: lab, phase: phase, done: done, total: total, terminal: terminal))
            }
        }
        options.onNamespaceCreated = { node, ns in recorder.namespaceCreated(node: node, device: ns.device, inode: ns.inode, cookie: ns.cookie) }
        // A signal stops the build at the next batch, which rolls everything back at once.
        options.shouldCancel = { receivedSignal != 0 }
        let built: Lab
        do {
            built = try Lab.up(target.topology, options: options)
        } catch {
            StateStore.remove(lab)
            lock.releaseRemovingFile(lab)
            if receivedSignal != 0 { throw NslabError("interrupted; nothing was left behind", code: 130) }
            throw NslabError("cannot bring \(lab) up: \(describe(error))", hint: "nothing was left behind")
        }

        func abandon(_ why: String, code: Int32) -> NslabError {
            let report = built.down(waitUntilGone: 2)
            StateStore.remove(lab)
            lock.releaseRemovingFile(lab)
            return NslabError(why + (report.ok ? "; the lab was torn down" : "; teardown: \(report)"), code: code)
        }
        if receivedSignal != 0 { throw abandon("interrupted (signal \(receivedSignal))", code: 130) }

        state = recorder.state
        state.namespaces = built.nodes.map { node in
            let ns = try? node.namespace
            let path = ns?.pinnedPath ?? "\(NetworkNamespace.runDirectory)/\(lab)-\(node.name)"
            let id = fileIdentity(path)
            return NamespaceRecord(node: node.name, name: "\(lab)-\(node.name)", path: path, cookie: ns?.cookie,
                                   device: id?.device, inode: id?.inode)
        }
        state.status = .up
        do { try StateStore.write(state) } catch { throw abandon("cannot record the lab: \(describe(error))", code: 1) }
        StateStore.removePins(lab)

        if let processes = target.scenario?.processes, !processes.isEmpty {
            // Listeners are threads of the process that runs the test; a pinned lab outlives nslab.
            standardError("nslab: note: the \(processes.count) process(es) of \(target.name) run under `nslab test` only; "
                          + "start what you need with `nslab exec \(lab) NODE -- …`\n")
        }
        for command in target.scenario?.setup ?? [] {
            if receivedSignal != 0 { throw abandon("interrupted (signal \(receivedSignal))", code: 130) }
            do {
                let r = try built.node(command.node).runBlocking(command.argv, stdin: command.stdin.map { Array($0.utf8) },
                                                                 timeout: 30)
                if r.status != 0 {
                    throw abandon("setup step failed (\(command)): exit \(r.status): \(r.errorOutput.trimmedText)", code: 1)
                }
            } catch let e as NslabError {
                throw e
            } catch {
                throw abandon("setup step failed (\(command)): \(describe(error))", code: 1)
            }
        }
        if receivedSignal != 0 { throw abandon("interrupted (signal \(receivedSignal))", code: 130) }

        // Never report a lab that is no longer whole: something outside nslab (`ip netns del`, a
        // hand-removed state file) may have taken part of it away while it was built.
        let vanished = state.namespaces.filter { ownership(of: $0, in: state, journaled: []) != .matches }.map(\.name)
        if !vanished.isEmpty {
            throw abandon("namespace\(vanished.count == 1 ? "" : "s") \(vanished.joined(separator: ", ")) vanished while "
                          + "the lab was being built (removed by something other than this nslab up)", code: 1)
        }
        if !StateStore.exists(lab) {
            throw abandon("\(StateStore.path(lab)) vanished while the lab was being built", code: 1)
        }

        if json {
            print(try jsonText(state))
        } else {
            print("lab \(lab) is up (\(built.nodes.count) nodes, built in \(milliseconds(built.buildSeconds)) ms)")
            print(labTable(built), terminator: "")
            if !Rootless.isActive {
                print("try: nslab exec \(lab) \(built.nodes.first?.name ?? "NODE") -- ip addr   ·   nslab down \(lab)")
            }
        }
        if Rootless.isActive { try holdRootlessLab(built, lab, lock) }
    }

    /// Rootless, the lab lives in this process's own user, network and mount namespaces: it
    /// cannot outlive the process and is not visible to the host's `ip netns`. Stay in the
    /// foreground until Ctrl-C (or SIGTERM), then tear it down.
    private func holdRootlessLab(_ built: Lab, _ lab: String, _ lock: LabLock) throws {
        let first = built.nodes.first?.name ?? "NODE"
        // What was printed must reach a pipe or file now, not when the lab is torn down.
        fflush(nil)
        standardError("""
            rootless: the lab lives as long as this process (pid \(getpid())); Ctrl-C tears it down.
            enter a node from another terminal:
              nsenter --preserve-credentials -U -m -t \(getpid()) ip netns exec \(lab)-\(first) $SHELL

            """)
        while receivedSignal == 0 { usleep(100_000) }
        let report = built.down(waitUntilGone: 2)
        StateStore.remove(lab)
        lock.releaseRemovingFile(lab)
        standardError(report.ok ? "lab \(lab) torn down\n" : "teardown: \(report)\n")
    }

    /// Fails when the lab's state file exists or a `/run/netns/<lab>-*` entry is not recorded by some nslab lab.
    private func checkNameIsFree(_ lab: String, nodes: [String]) throws {
        if let reason = StateStore.brokenReason(lab) {
            throw NslabError("lab \(lab) has a broken state file \(StateStore.path(lab)) (\(reason)), left by an nslab up that was killed",
                             hint: "`nslab down \(lab)` or `nslab sweep` removes it")
        }
        if StateStore.exists(lab) {
            throw NslabError("lab \(lab) is already up (\(StateStore.path(lab)) exists)",
                             hint: "use another --name, or `nslab down \(lab)` first")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: NetworkNamespace.runDirectory)) ?? []
        var owner: [String: String] = [:]
        for s in StateStore.all().states { for r in s.namespaces { owner[r.name] = s.name } }
        let ours = Set(nodes.map { "\(lab)-\($0)" })
        let clashes = entries.filter { $0.hasPrefix("\(lab)-") && (owner[$0] == nil || ours.contains($0)) }.sorted()
        if !clashes.isEmpty {
            let listed = clashes.prefix(10).map { n in owner[n].map { "\(n) (a namespace of lab \($0))" } ?? n }
            let more = clashes.count > 10 ? ", … and \(clashes.count - 10) more" : ""
            let foreign = clashes.contains { owner[$0] == nil }
            throw NslabError("lab name \(lab) collides with existing namespaces: \(listed.joined(separator: ", "))\(more)"
                             + (foreign ? " (namespaces without a lab were not created by nslab)" : ""),
                             hint: foreign ? "use another --name; nslab never removes namespaces it did not create"
                                           : "use another --name: the names of two labs' namespaces may not overlap")
        }
    }
}

/// Collects device/inode of namespaces as the builder pins them, and rewrites the state file.
final class PinRecorder: @unchecked Sendable {
    private let lock = Mutex(())
    private var current: LabState

    init(state: LabState) { current = state }

    var state: LabState { lock.withLock { _ in current } }

    private var journaled = 0
    private var lastPhase = ""
    private var lastReported = 0

    /// True on a phase change, every 2 % of the steps (every 10 % into a log), and at the end (so
    /// progress stays readable).
    func shouldReport(phase: String, done: Int, total: Int, terminal: Bool) -> Bool {
        lock.withLock { _ in
            let due = phase != lastPhase || done == total || done - lastReported >= max(1, total / (terminal ? 50 : 10))
            if due { lastPhase = phase; lastReported = done }
            return due
        }
    }

    /// Appends a new namespace's identity (device, inode and cookie) to the lab's pin journal, before it is pinned.
    func namespaceCreated(node: String, device: UInt64, inode: UInt64, cookie: UInt64?) {
        lock.withLock { _ in
            if let i = current.namespaces.firstIndex(where: { $0.node == node }) {
                current.namespaces[i].device = device
                current.namespaces[i].inode = inode
                current.namespaces[i].cookie = cookie
            }
            StateStore.appendPins(current.name, "\(node) \(device) \(inode)" + (cookie.map { " \($0)" } ?? "") + "\n")
            journaled += 1
            #if DEBUG
            DebugPause.upGate(namespacesCreated: journaled)
            #endif
        }
    }
}

/// One progress report of `up`: on a terminal it rewrites its line (`\r`, erase to the end);
/// into a file or pipe it is a plain line of its own, so a log reads as a list of phases.
func progressLine(lab: String, phase: String, done: Int, total: Int, terminal: Bool) -> String {
    let text = "building \(lab): \(phase) \(done)/\(total)"
    return terminal ? "\r\u{1B}[K" + text + (done == total ? "\n" : "") : text + "\n"
}

extension String {
    var trimmedText: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

// MARK: down

struct Down: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tear a lab down: remove its namespaces and its state file.",
        discussion: """
            Only namespaces whose identity matches the state file are removed; anything else \
            found under the same name is left alone and reported. A lab whose `nslab up` is still \
            running (it holds the lab's lock) is refused: wait for it, or stop it with SIGTERM, \
            which rolls it back.
            """)

    @Argument(help: "The lab to tear down.")
    var lab: String?

    @Flag(help: "Tear down every lab that has a state file (on a shared machine: everyone's); asks first.")
    var all = false

    @Flag(name: [.customShort("y"), .long], help: "With --all: do not ask (needed when standard input is not a terminal).")
    var yes = false

    func validate() throws {
        if all == (lab != nil) {
            throw ArgumentParser.ValidationError("give either a lab name or --all")
        }
        if yes && !all { throw ArgumentParser.ValidationError("--yes goes with --all") }
    }

    func run() throws {
        try requirePrivileges("nslab down")
        try StateStore.checkDirectory()
        let names: [String]
        if all {
            names = StateStore.labNames()
            if names.isEmpty { print("no labs are up"); return }
            try confirmRemoving(names)
        } else {
            try validateLabName(lab!)
            names = [lab!]
        }
        var failed = false
        for name in names {
            // Under the lab's lock: no `nslab up` is building it, and nothing else changes it meanwhile.
            guard let lock = try LabLock.acquire(name, wait: 0.5) else {
                let busy = labBusy(name, doing: "nslab down left it alone")
                if !all { throw busy }
                standardError("nslab: error: \(busy.message)\n" + (busy.hint.map { "  \($0)\n" } ?? ""))
                failed = true
                continue
            }
            guard StateStore.exists(name) else {
                lock.releaseRemovingFile(name)
                if !all { _ = try StateStore.read(name) } // the "no lab named" error
                continue
            }
            if let reason = StateStore.brokenReason(name, topology: false) {
                for line in StateStore.removeBroken(name, reason: reason, lock: lock) { print(line) }
                continue
            }
            let state = try StateStore.read(name, topology: false)
            let (removed, kept) = removeNamespaces(of: state, dryRun: false)
            StateStore.remove(name)
            lock.releaseRemovingFile(name)
            print("lab \(name) is down (\(removed.count) namespace\(removed.count == 1 ? "" : "s") removed)")
            for k in kept { standardError("nslab: warning: \(k)\n"); failed = true }
        }
        if failed { throw ExitCode(1) }
    }
}

extension Down {
    /// Lists the labs `--all` would remove and asks on a terminal; without one, `--yes` is required,
    /// since a script that meant one lab must not remove everyone's.
    func confirmRemoving(_ names: [String]) throws {
        let states = StateStore.all().states
        print("nslab down --all removes \(names.count) lab\(names.count == 1 ? "" : "s"):")
        for n in names {
            let s = states.first { $0.name == n }
            print("  \(n)" + (s.map { "  (\($0.namespaces.count) nodes, \($0.source), started by pid \($0.pid), \(ageText(Date().timeIntervalSince1970 - $0.created)) ago)" } ?? "  (broken state file)"))
        }
        if yes { return }
        guard isatty(STDIN_FILENO) == 1 else {
            throw NslabError("refusing to remove every lab without confirmation: standard input is not a terminal",
                             hint: "add --yes to remove them all, or name the lab: nslab down LAB")
        }
        print("remove them? [y/N] ", terminator: "")
        fflush(nil)
        let answer = readLine()?.trimmedText.lowercased() ?? ""
        guard answer == "y" || answer == "yes" else { throw NslabError("nothing was removed", code: 1) }
    }
}

/// Removes the namespaces of a lab that provably belong to it: ownership proven in bulk
/// (``ownerships(of:journaled:)``), then every proven one unmounted and unlinked in a batch on
/// two threads. The kernel frees the namespaces asynchronously, after this returns (as after
/// `ip netns del`).
/// - Returns: the removed names, and a message per namespace left in place.
func removeNamespaces(of state: LabState, dryRun: Bool) -> (removed: [String], kept: [String]) {
    var removed: [String] = [], kept: [String] = []
    let journaled = StateStore.journaledNodes(state.name)
    let owned = ownerships(of: state, journaled: journaled)
    var mounted: [NamespaceRecord] = []
    for (r, o) in zip(state.namespaces, owned) {
        switch o {
        case .gone:
            continue
        case .matches:
            mounted.append(r)
        case .differs(let why):
            kept.append("left \(r.path) in place: it is not the namespace lab \(state.name) created (\(why))")
        case .unproven:
            kept.append("left \(r.path) in place: lab \(state.name) never recorded its identity (remove it with `ip netns del \(r.name)` if it is yours)")
        case .refused(let why):
            kept.append("refused \(r.path): \(why)")
        case .placeholder:
            if dryRun || unlink(r.path) == 0 { removed.append("\(r.name) (an unmounted placeholder)") } else {
                kept.append("could not remove \(r.path): \(String(cString: strerror(errno)))")
            }
        }
    }
    let failures = dryRun ? [Int32](repeating: 0, count: mounted.count) : NetworkNamespace.unpin(paths: mounted.map(\.path))
    for (r, e) in zip(mounted, failures) {
        if e == 0 { removed.append(r.name) } else { kept.append("could not remove \(r.path): \(String(cString: strerror(e)))") }
    }
    return (removed, kept)
}

// MARK: ls

struct Ls: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the labs that are up.")

    @Flag(help: "Print JSON.")
    var json = false

    struct Entry: Encodable {
        var name: String
        var source: String
        var status: String
        var nodes: Int
        var ageSeconds: Int
        var pid: Int32
        var missingNamespaces: [String]
    }

    func run() throws {
        try StateStore.checkDirectory()
        let (states, unreadable) = StateStore.all()
        let now = Date().timeIntervalSince1970
        let entries = states.map { s -> Entry in
            let missing = s.namespaces.filter { access($0.path, F_OK) != 0 }.map(\.name)
            var status = s.status.rawValue
            // `up` holds the lab's lock until it exits: a "building" lab without it was abandoned.
            if s.status == .building && !LabLock.isHeld(s.name) { status = "abandoned" }
            if s.status == .up && !missing.isEmpty { status = "broken" }
            return Entry(name: s.name, source: s.source, status: status, nodes: s.namespaces.count,
                         ageSeconds: Int(now - s.created), pid: s.pid, missingNamespaces: missing)
        }
        if json {
            print(try jsonText(entries))
            return
        }
        if entries.isEmpty && unreadable.isEmpty { print("no labs are up"); return }
        var t = TextTable("LAB", "NODES", "AGE", "STATUS", "SOURCE")
        for e in entries { t.add([e.name, "\(e.nodes)", ageText(Double(e.ageSeconds)), e.status, e.source]) }
        for u in unreadable {
            let why = StateStore.brokenReason(u).map { "broken state file (\($0))" } ?? "unreadable state file"
            t.add([u, "?", "?", why, StateStore.path(u)])
        }
        print(t.text, terminator: "")
    }
}

// MARK: exec and shell

/// Opens a node's namespace of a lab that is up.
func openNode(lab: String, node: String) throws -> NetworkNamespace {
    try validateLabName(lab)
    let state = try StateStore.read(lab)
    guard let record = state.namespaces.first(where: { $0.node == node }) else {
        throw NslabError("lab \(lab) has no node \"\(node)\"\(didYouMean(node, among: state.nodeNames)) "
                         + "(it has: \(state.nodeNames.joined(separator: ", ")))")
    }
    if let why = refusal(of: record, lab: lab) {
        throw NslabError("refused to enter \(record.path): \(why)", hint: "\(StateStore.path(lab)) is not one nslab wrote")
    }
    let ns: NetworkNamespace
    do {
        ns = try NetworkNamespace.open(path: record.path, label: record.name)
    } catch {
        throw NslabError("cannot enter \(record.path): \(describe(error))", hint: "is the lab intact? see `nslab ls`")
    }
    // A node declared with `isolation: full`: its mount and UTS namespaces are pinned beside the state file.
    do {
        ns.hostNamespaces = try HostNamespaces.openPinned(directory: Lab.isolationPinDirectory(lab: lab), node: node)
    } catch {
        ns.close()
        throw NslabError("cannot enter the mount and UTS namespaces of \(lab)-\(node): \(describe(error))",
                         hint: "is the lab intact? see `nslab ls`")
    }
    return ns
}

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command inside a node of a lab.",
        // The generated usage would put nslab's options after the node, where they belong to the command.
        usage: "nslab exec [--timeout <seconds>] [--stdin] <lab> <node> [--] <command> [<argument> ...]",
        discussion: """
            Example: nslab exec LAB h1 ping -c 1 10.0.2.2 (as `ip netns exec`; options of nslab exec go \
            before LAB, and `--` before a command that starts with '-').
            The command writes straight to nslab's standard output and error, as it runs, and \
            its exit status becomes nslab's (128 + N when signal N ended it). Ctrl-C reaches the \
            command; SIGINT, SIGTERM or SIGHUP sent to nslab are passed on to it; nslab waits for \
            it and passes its status on. If nslab is killed, the kernel kills the command. Standard input is /dev/null \
            unless --stdin (e.g. nslab exec --stdin LAB r1 -- nft -f - < rules.nft).
            """)

    @Argument(help: "The lab.") var lab: String
    @Argument(help: "The node.") var node: String
    @Option(help: "Seconds before the command is killed (default: no limit); nslab then exits with 124.")
    var timeout: Double?
    @Flag(help: "Give nslab's standard input to the command (otherwise it reads /dev/null).")
    var stdin = false
    // Everything after the node is the command, options included (`nslab exec LAB h1 ip -j addr`),
    // as with `ip netns exec`; a `--` before it is dropped, so a command may start with a dash.
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (`--` first if the command starts with '-').")
    var command: [String] = []

    mutating func validate() throws {
        if command.first == "--" { command.removeFirst() }
        if command.isEmpty { throw ArgumentParser.ValidationError("missing the command: nslab exec LAB NODE CMD [ARGS…]") }
        if let t = timeout, !(t > 0) { throw ArgumentParser.ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() throws {
        try requirePrivileges("nslab exec")
        let ns = try openNode(lab: lab, node: node)
        defer { ns.close() }
        // The terminal's Ctrl-C and Ctrl-\ go to the whole foreground process group: the command
        // gets them itself. SIGINT, SIGTERM and SIGHUP sent to nslab alone (`kill`) are passed on
        // to the command; nslab waits for it and reports its status. If nslab is killed outright,
        // the kernel kills the command (it is tethered).
        forwardSignalsToChild()
        let r: (status: Int32, timedOut: Bool)
        do {
            r = try Spawner.runAttached(command, in: ns, passStandardInput: stdin, timeout: timeout,
                                        started: { childStarted($0) })
        } catch let e as SystemCallError where e.errno == .noSuchFileOrDirectory {
            throw NslabError("cannot run \(command[0]) in \(lab)-\(node): command not found", code: 127)
        } catch {
            throw NslabError("cannot run \(command[0]) in \(lab)-\(node): \(describe(error))", code: 126)
        }
        if r.timedOut {
            standardError("nslab: error: \(command[0]) was killed after \(timeout ?? 0) s\n")
            throw ExitCode(124)
        }
        throw ExitCode(r.status)
    }
}

struct Shell: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open an interactive shell inside a node of a lab ($SHELL, else /bin/bash).",
        discussion: """
            Equivalent to `ip netns exec <LAB>-<node> $SHELL`; exit the shell to leave the node. \
            The prompt starts with [LAB:NODE] (bash after reading your ~/.bashrc; other shells \
            through PS1), and the shell has NSLAB_LAB and NSLAB_NODE set, for prompts and scripts \
            of your own (e.g. PS1='[$NSLAB_LAB:$NSLAB_NODE] \\w\\$ ' in ~/.bashrc). \
            A node with `isolation: full` is entered with `nsenter` (network, mount and UTS namespaces), \
            so the shell sees its own hostname, /etc/hosts, /run and /tmp.
            """)

    @Argument(help: "The lab.") var lab: String
    @Argument(help: "The node.") var node: String

    func run() throws {
        try requirePrivileges("nslab shell")
        let ns = try openNode(lab: lab, node: node) // checks lab and node
        let isolated = ns.hostNamespaces != nil
        ns.close()
        let shell = ProcessInfo.processInfo.environment["SHELL"].flatMap { $0.isEmpty ? nil : $0 } ?? "/bin/bash"
        setenv("NSLAB_LAB", lab, 1)
        setenv("NSLAB_NODE", node, 1)
        var argv = ["ip", "netns", "exec", "\(lab)-\(node)", shell]
        if isolated {
            // `isolation: full`: `ip netns exec` would enter the network namespace only (and needs
            // /run/netns, which the node's own /run hides); nsenter opens all three, then enters them.
            let pins = HostNamespaces.pinPaths(directory: Lab.isolationPinDirectory(lab: lab), node: node)
            argv = ["nsenter", "--net=\(NetworkNamespace.runDirectory)/\(lab)-\(node)", "--mount=\(pins.mount)",
                    "--uts=\(pins.uts)", "--", shell]
        }
        let tag = "[\(lab):\(node)]"
        if (shell as NSString).lastPathComponent == "bash" {
            // bash sets PS1 in its rc files, so a PS1 in the environment would be overwritten: an rc
            // file of our own reads the usual ones, then puts the tag in front (and removes itself).
            // An isolated node has its own /tmp: the file is handed over as an open descriptor.
            argv += ["--rcfile", isolated ? try bashRCDescriptor(tag: tag) : try bashRC(tag: tag), "-i"]
        } else {
            let current = ProcessInfo.processInfo.environment["PS1"] ?? (geteuid() == 0 ? "# " : "$ ")
            setenv("PS1", "\(tag) \(current)", 1)
        }
        var cargv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cargv.append(nil)
        execvp(argv[0], cargv)
        throw NslabError("cannot execute \(argv[0]): \(String(cString: strerror(errno)))",
                         hint: isolated ? "nslab shell needs util-linux's `nsenter` for a node with isolation: full"
                                        : "nslab shell needs iproute2's `ip`")
    }

    /// The rc file of ``bashRC(tag:)`` as `/dev/fd/N`: opened, unlinked at once, and left open
    /// across the exec (the shell reads it through the descriptor, whatever its /tmp is).
    private func bashRCDescriptor(tag: String) throws -> String {
        let path = try bashRC(tag: tag)
        let fd = open(path, O_RDONLY)
        unlink(path)
        guard fd >= 0 else { throw NslabError("cannot reopen \(path): \(String(cString: strerror(errno)))") }
        return "/dev/fd/\(fd)"
    }

    /// A temporary bash rc file that reads the system's and the user's, then tags the prompt.
    private func bashRC(tag: String) throws -> String {
        var template = Array("/tmp/nslab-shell-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw NslabError("cannot create a temporary file: \(String(cString: strerror(errno)))") }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let text = """
            [ -f /etc/bash.bashrc ] && . /etc/bash.bashrc
            [ -f ~/.bashrc ] && . ~/.bashrc
            PS1='\(tag) '"$PS1"
            rm -f -- '\(path)'

            """
        writeAll(fd, Array(text.utf8))
        close(fd)
        return path
    }
}

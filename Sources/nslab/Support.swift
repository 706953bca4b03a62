import Foundation
import NetnsKit
import Scenarios

/// A user-facing failure: one line of message, an optional hint, an exit code.
struct NslabError: Error, CustomStringConvertible {
    var message: String
    var hint: String?
    var code: Int32 = 1

    init(_ message: String, hint: String? = nil, code: Int32 = 1) {
        self.message = message
        self.hint = hint
        self.code = code
    }

    var description: String { message }
}

/// Writes text to standard error, unbuffered.
func standardError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

/// Writes bytes to a file descriptor, retrying short writes.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return }
        offset += n
    }
}

/// The text of an error as the library words it.
func describe(_ error: any Error) -> String {
    switch error {
    case let e as NslabError: return e.message
    case let e as NetnsModel.ValidationError: return "\(e)"
    case let e as TopologyFileError: return "\(e)"
    case let e as FileProblems: return "\(e)"
    case let e as CustomStringConvertible: return e.description
    default: return "\(error)"
    }
}

// MARK: Targets: a scenario name or a topology file

/// What a `<scenario|file>` argument named.
struct Target {
    var topology: Topology
    var scenario: Scenario?
    /// The argument as given.
    var source: String

    /// The scenario's name, or the topology's.
    var name: String { scenario?.name ?? topology.name }
}

func looksLikeFile(_ arg: String) -> Bool {
    let lower = arg.lowercased()
    return arg.contains("/") || lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") || lower.hasSuffix(".json")
        || FileManager.default.fileExists(atPath: arg)
}

/// Resolves a built-in scenario name or a YAML/JSON scenario (or topology) file, validated.
func resolveTarget(_ arg: String, maxFileBytes: Int = Topology.maxFileBytes) throws -> Target {
    if looksLikeFile(arg) {
        do {
            let s = try Scenario.load(path: arg, maxBytes: maxFileBytes)
            return Target(topology: s.topology, scenario: s, source: arg)
        } catch {
            let one = error.problems.count == 1 ? error.problems[0] : nil
            let text = one.map { $0.place == arg ? $0.message : "\($0)" } ?? "\(error)"
            throw NslabError("cannot load \(arg): \(text)",
                             hint: text.contains("a topology file may have") ? "`nslab up --allow-large` reads larger files" : nil)
        }
    }
    if !Catalogue.problems.isEmpty {
        throw NslabError("the built-in catalogue is broken: " + Catalogue.problems.joined(separator: "; "))
    }
    guard let s = Catalogue.named(arg) else { throw unknownScenario(arg) }
    return Target(topology: s.topology, scenario: s, source: arg)
}

func unknownScenario(_ name: String) -> NslabError {
    NslabError("unknown scenario \"\(name)\"\(didYouMean(name, among: Catalogue.names)); known scenarios: \(Catalogue.names.joined(separator: ", "))",
               hint: "a topology file needs a path ending in .yaml, .yml or .json; `nslab scenarios` lists the scenarios")
}

// MARK: Lab names

/// Checks a lab name: `[a-z0-9-]`, starting with a letter or digit, at most 24 characters.
func validateLabName(_ name: String) throws {
    let ok = !name.isEmpty && name.count <= 24
        && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
        && name.first != "-"
    if !ok {
        throw NslabError("invalid lab name \"\(name)\": use 1–24 characters from a-z, 0-9 and '-', not starting with '-'",
                         hint: "pick one with --name")
    }
}

// MARK: Privileges

/// Fails with instructions unless this process may build namespaces.
func requirePrivileges(_ what: String) throws {
    let missing = Capabilities.missing()
    guard !missing.isEmpty else { return }
    let names = missing.map(\.rawValue).joined(separator: " and ")
    throw NslabError("\(what) needs \(names), which this process lacks",
                     hint: "run as root (sudo nslab …), give a container --cap-add NET_ADMIN --cap-add SYS_ADMIN, or see `nslab doctor`")
}

// MARK: Output

/// A plain text table with left-aligned columns.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []

    init(_ header: String...) { self.header = header }
    init(_ header: [String]) { self.header = header }

    mutating func add(_ row: [String]) { rows.append(row) }

    var text: String {
        let all = [header] + rows
        let widths = header.indices.map { i in all.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

/// Pretty JSON with sorted keys.
func jsonText<T: Encodable>(_ value: T) throws -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try e.encode(value), as: UTF8.self)
}

/// `1.2 s`, `3 min`, `2 h 5 min`, `4 d`.
func ageText(_ seconds: Double) -> String {
    let s = max(0, Int(seconds))
    if s < 60 { return "\(s) s" }
    if s < 3600 { return "\(s / 60) min" }
    if s < 86400 { return "\(s / 3600) h \(s % 3600 / 60) min" }
    return "\(s / 86400) d"
}

func milliseconds(_ seconds: Double) -> Int { Int((seconds * 1000).rounded()) }

/// True when a process with this pid exists.
func processAlive(_ pid: Int32) -> Bool {
    guard pid > 0 else { return false }
    return kill(pid, 0) == 0 || errno == EPERM
}

// MARK: Signals

/// The signal that interrupted a long operation (0: none).
nonisolated(unsafe) var receivedSignal: sig_atomic_t = 0

/// The signals that interrupt a long operation: Ctrl-C, `kill`, and a closed terminal.
let interruptSignals = [SIGINT, SIGTERM, SIGHUP]

/// Makes SIGINT, SIGTERM and SIGHUP set ``receivedSignal`` instead of killing the process.
func catchInterrupts() {
    for s in interruptSignals { signal(s) { receivedSignal = $0 } }
    // A parent may have started us with them blocked (the mask is inherited): unblock them.
    var set = sigset_t()
    sigemptyset(&set)
    for s in interruptSignals { sigaddset(&set, s) }
    sigprocmask(SIG_UNBLOCK, &set, nil)
}

/// Restores the default actions of SIGINT, SIGTERM and SIGHUP.
func restoreInterrupts() {
    for s in interruptSignals { signal(s, SIG_DFL) }
}


// MARK: Forwarding signals to a command (nslab exec)

/// The command `nslab exec` runs (0 until it has started).
nonisolated(unsafe) var forwardTarget: pid_t = 0
/// A signal that arrived before the command started.
nonisolated(unsafe) var pendingForward: sig_atomic_t = 0

/// Passes SIGINT, SIGTERM and SIGHUP that someone sent to nslab (`kill`, `timeout`, a
/// supervisor) on to the command. Those the terminal sends (Ctrl-C, a hangup) already reach the
/// whole foreground process group, the command included, and are not sent twice; SIGQUIT
/// (Ctrl-\) is ignored, the command gets its own.
func forwardSignalsToChild() {
    var action = sigaction()
    action.sa_flags = SA_SIGINFO | SA_RESTART
    sigemptyset(&action.sa_mask)
    action.__sigaction_handler.sa_sigaction = { signo, info, _ in
        // SI_USER, SI_QUEUE, SI_TKILL (<= 0): sent by a process. SI_KERNEL: the terminal.
        if let info, info.pointee.si_code > 0 { return }
        if forwardTarget > 0 { kill(forwardTarget, signo) } else { pendingForward = signo }
    }
    for s in interruptSignals { sigaction(s, &action, nil) }
    signal(SIGQUIT, SIG_IGN)
    var set = sigset_t()
    sigemptyset(&set)
    for s in interruptSignals { sigaddset(&set, s) }
    sigprocmask(SIG_UNBLOCK, &set, nil)
}

/// Records the command's pid and passes on a signal that came before it.
func childStarted(_ pid: pid_t) {
    forwardTarget = pid
    if pendingForward != 0 { kill(pid, pendingForward) }
}

// MARK: Debug-build pauses for the race tests

#if DEBUG
/// Pauses that make races deterministic in tests. Compiled into debug builds only; a release
/// build has no way to be slowed down from outside.
enum DebugPause {
    /// `NSLAB_DEBUG_UP_GATE=PATH`: `up` stops once its first namespace is pinned (the state file
    /// says "building"), says so on standard error, and waits until PATH exists (at most 60 s).
    static func upGate(namespacesCreated: Int) {
        guard namespacesCreated == 2, let gate = getenv("NSLAB_DEBUG_UP_GATE").map({ String(cString: $0) }) else { return }
        standardError("nslab: debug: up paused (waiting for \(gate))\n")
        for _ in 0..<6000 where access(gate, F_OK) != 0 { usleep(10_000) }
    }

    /// `NSLAB_DEBUG_RESERVE_GATE=PATH`: `up` stops right after it has claimed the lab's name (its
    /// state file exists), says so on standard error, and waits until PATH exists (at most 60 s).
    static func reserveGate() {
        guard let gate = getenv("NSLAB_DEBUG_RESERVE_GATE").map({ String(cString: $0) }) else { return }
        standardError("nslab: debug: up paused after reserving (waiting for \(gate))\n")
        for _ in 0..<6000 where access(gate, F_OK) != 0 { usleep(10_000) }
    }

    /// `NSLAB_DEBUG_DELAY_SWEEP_MS=N`: `sweep` waits N ms between reading the state files and acting.
    static func sweepDelay() {
        guard let ms = getenv("NSLAB_DEBUG_DELAY_SWEEP_MS").flatMap({ UInt32(String(cString: $0)) }) else { return }
        standardError("nslab: debug: sweep paused for \(ms) ms\n")
        usleep(ms * 1000)
    }
}
#endif

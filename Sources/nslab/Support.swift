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
func resolveTarget(_ arg: String) throws -> Target {
    if looksLikeFile(arg) {
        do {
            let s = try Scenario.load(path: arg)
            return Target(topology: s.topology, scenario: s, source: arg)
        } catch {
            throw NslabError("cannot load \(arg): \(error)")
        }
    }
    if !Catalogue.problems.isEmpty {
        throw NslabError("the built-in catalogue is broken: " + Catalogue.problems.joined(separator: "; "))
    }
    guard let s = Catalogue.named(arg) else { throw unknownScenario(arg) }
    return Target(topology: s.topology, scenario: s, source: arg)
}

func unknownScenario(_ name: String) -> NslabError {
    NslabError("unknown scenario \"\(name)\"; known scenarios: \(Catalogue.names.joined(separator: ", "))",
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

/// Makes SIGINT and SIGTERM set ``receivedSignal`` instead of killing the process.
func catchInterrupts() {
    signal(SIGINT) { receivedSignal = $0 }
    signal(SIGTERM) { receivedSignal = $0 }
    // A parent may have started us with them blocked (the mask is inherited): unblock them.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    sigprocmask(SIG_UNBLOCK, &set, nil)
}

/// Restores the default actions of SIGINT and SIGTERM.
func restoreInterrupts() {
    signal(SIGINT, SIG_DFL)
    signal(SIGTERM, SIG_DFL)
}


import Foundation
import Synchronization
import NetnsKit

// `LabState` and `NamespaceRecord` live in NetnsKit (`LabStateFiles`), which a kept failed test
// uses too.

/// Reads and writes state files under `/run/nslab`.
enum StateStore {
    static let directory = LabStateFiles.directory

    static func path(_ lab: String) -> String { LabStateFiles.path(lab) }

    /// Creates `/run/nslab` (mode 0700) if needed, and checks it.
    static func prepare() throws {
        do { try LabStateFiles.prepare() } catch { throw NslabError(error.message, hint: error.hint) }
    }

    /// Refuses a state directory that another user could have written to (see
    /// `LabStateFiles.checkDirectory`). A missing one is fine (no labs).
    static func checkDirectory() throws {
        do { try LabStateFiles.checkDirectory() } catch { throw NslabError(error.message, hint: error.hint) }
    }

    /// Opens a file of the state directory without following a symbolic link.
    static func openFile(_ path: String, _ flags: Int32, _ mode: mode_t = 0o600) -> Int32 {
        LabStateFiles.openFile(path, flags, mode)
    }

    /// Claims a lab name with a complete state file: written under a temporary name, then linked
    /// into place with `link(2)`, which fails when the name is taken (so two `up`s cannot both
    /// win), and never leaves an empty or half-written state file, whenever `up` is killed.
    static func reserve(_ state: LabState) throws {
        let claimed: Bool
        do { claimed = try LabStateFiles.claim(state) } catch { throw NslabError(error.message, hint: error.hint) }
        guard claimed else {
            throw NslabError("lab \(state.name) is already up (\(path(state.name)) exists)",
                             hint: "use another --name, or `nslab down \(state.name)` first")
        }
        #if DEBUG
        DebugPause.reserveGate()
        #endif
        // A fresh journal: whatever was at its path before (a stale journal, a planted link) goes.
        unlink(pinsPath(state.name))
        let journal = openFile(pinsPath(state.name), O_WRONLY | O_CREAT | O_EXCL)
        if journal < 0 {
            let e = errno
            unlink(path(state.name))
            throw NslabError("cannot create \(pinsPath(state.name)): \(String(cString: strerror(e)))")
        }
        close(journal)
    }

    /// Replaces the state file atomically (mode 0600).
    static func write(_ state: LabState) throws {
        do { try LabStateFiles.replace(state) } catch { throw NslabError(error.message, hint: error.hint) }
    }

    /// The temporary files state files are written to: `<LAB>.json.tmp<pid>`.
    static func temporaryPath(_ lab: String) -> String { LabStateFiles.temporaryPath(lab) }

    /// Leftover temporary files (`<LAB>.json.tmp<pid>`) whose writer is gone, as paths.
    static func staleTemporaryFiles() -> [String] {
        guard (try? checkDirectory()) != nil else { return [] }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.sorted().compactMap { f in
            guard let r = f.range(of: ".json.tmp") else { return nil }
            // A writer that is still running will rename or remove its own file.
            if let pid = Int32(f[r.upperBound...]), pid > 0, processAlive(pid) { return nil }
            return "\(directory)/\(f)"
        }
    }

    static func remove(_ lab: String) {
        unlink(path(lab))
        removePins(lab)
        // The pinned mount and UTS namespaces of its `isolation: full` nodes, if any.
        HostNamespaces.removePinDirectory(Lab.isolationPinDirectory(lab: lab))
    }

    /// The pin journal: `node device inode cookie` lines appended while `up` pins namespaces, so a
    /// state file left by a killed `up` still proves which namespaces were nslab's.
    static func pinsPath(_ lab: String) -> String { "\(directory)/\(lab).pins" }

    static func appendPins(_ lab: String, _ lines: String) {
        // Created by `reserve`; never through a symbolic link.
        let fd = openFile(pinsPath(lab), O_WRONLY | O_APPEND)
        guard fd >= 0 else { return }
        writeAll(fd, Array(lines.utf8))
        close(fd)
    }

    static func removePins(_ lab: String) { unlink(pinsPath(lab)) }

    /// The journal's text (never through a symbolic link), or nil.
    static func readJournal(_ lab: String) -> String? {
        let fd = openFile(pinsPath(lab), O_RDONLY)
        guard fd >= 0 else { return nil }
        let data = FileHandle(fileDescriptor: fd, closeOnDealloc: true).readDataToEndOfFile()
        return String(data: data, encoding: .utf8)
    }

    /// The nodes the pin journal lists: namespaces `up` created and was about to pin.
    static func journaledNodes(_ lab: String) -> Set<String> {
        guard let text = readJournal(lab) else { return [] }
        return Set(text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
    }

    /// Fills identities missing from a state with those in its pin journal.
    static func mergePins(_ state: inout LabState) {
        guard state.namespaces.contains(where: { $0.inode == nil && $0.cookie == nil }),
              let text = readJournal(state.name) else { return }
        var ids: [String: (UInt64, UInt64, UInt64?)] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 3 || f.count == 4, let d = UInt64(f[1]), let i = UInt64(f[2]) {
                ids[String(f[0])] = (d, i, f.count == 4 ? UInt64(f[3]) : nil)
            }
        }
        for i in state.namespaces.indices where state.namespaces[i].inode == nil && state.namespaces[i].cookie == nil {
            if let (d, ino, cookie) = ids[state.namespaces[i].node] {
                state.namespaces[i].device = d
                state.namespaces[i].inode = ino
                state.namespaces[i].cookie = cookie
            }
        }
    }

    static func exists(_ lab: String) -> Bool { access(path(lab), F_OK) == 0 }

    /// Reads one lab's state.
    /// - Parameter topology: false to leave the lab's topology undecoded (an empty topology named
    ///   like the lab): what `down` and `sweep` do, which need only the namespace records.
    static func read(_ lab: String, topology: Bool = true) throws -> LabState {
        let p = path(lab)
        try checkDirectory()
        let fd = openFile(p, O_RDONLY)
        guard fd >= 0 else {
            if errno == ELOOP { throw NslabError("\(p) is a symbolic link: nslab does not follow it") }
            throw NslabError("no lab named \"\(lab)\" is up (no \(p))\(didYouMean(lab, among: labNames()))",
                             hint: knownLabsHint())
        }
        let data = FileHandle(fileDescriptor: fd, closeOnDealloc: true).readDataToEndOfFile()
        var state: LabState
        do {
            state = try decode(data, topology: topology)
        } catch {
            throw NslabError("\(p) is not a readable nslab state file: \(decodingProblem(error, data: data))")
        }
        // A copied or restored file: whatever it records, nslab does not act on it.
        guard state.name == lab else {
            throw NslabError("\(p) names lab \(state.name), not \(lab): nslab does nothing with it",
                             hint: "a copied or restored state file proves nothing; remove it by hand")
        }
        mergePins(&state)
        return state
    }

    /// Why a lab's state file does not decode (it is empty, not JSON, lacks a field), or nil when
    /// it is missing, not a regular file (a symbolic link is refused elsewhere) or decodes.
    static func brokenReason(_ lab: String, topology: Bool = true) -> String? {
        let fd = openFile(path(lab), O_RDONLY)
        guard fd >= 0 else { return nil }
        let file = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        let data = file.readDataToEndOfFile()
        do {
            _ = try decode(data, topology: topology)
            return nil
        } catch {
            return decodingProblem(error, data: data)
        }
    }

    /// The last state file decoded, by its bytes: `down` and `sweep` look whether a state file
    /// decodes (``brokenReason(_:topology:)``) and then read it (``read(_:topology:)``).
    private static let lastDecoded = Mutex<(data: Data, topology: Bool, state: LabState)?>(nil)

    /// Decodes a state file's bytes, once for the same bytes.
    ///
    /// A lab's state holds its whole topology (for chain 100, 9,702 routes, 0.5 MB), and decoding
    /// it was most of `down`'s time. With `topology: false` the topology must be there, but is
    /// not decoded: the state has an empty topology named like the lab.
    static func decode(_ data: Data, topology: Bool = true) throws -> LabState {
        if let last = lastDecoded.withLock({ $0 }), last.topology == topology, last.data == data { return last.state }
        let state: LabState
        if topology {
            state = try JSONDecoder().decode(LabState.self, from: data)
        } else {
            let t = try JSONDecoder().decode(TeardownState.self, from: data)
            state = LabState(name: t.name, source: t.source, status: t.status, pid: t.pid, created: t.created,
                             topology: Topology(name: t.name), namespaces: t.namespaces)
        }
        lastDecoded.withLock { $0 = (data, topology, state) }
        return state
    }

    /// A state file's fields but its topology, which only has to be there.
    private struct TeardownState: Decodable {
        /// Any JSON value, not decoded.
        struct Present: Decodable { init(from decoder: any Decoder) throws {} }
        var version: Int
        var name: String
        var source: String
        var status: LabState.Status
        var pid: Int32
        var created: Double
        var topology: Present
        var namespaces: [NamespaceRecord]
    }

    /// A decoding error in a person's words, instead of Swift's `DecodingError` dump.
    static func decodingProblem(_ error: any Error, data: Data) -> String {
        if data.isEmpty { return "it is empty (0 bytes)" }
        guard let e = error as? DecodingError else { return "\(error)" }
        func at(_ path: [any CodingKey]) -> String {
            path.isEmpty ? "" : " at " + path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch e {
        case .dataCorrupted(let c) where c.codingPath.isEmpty: return "it is not JSON (\(data.count) bytes)"
        case .dataCorrupted(let c): return "a value is invalid\(at(c.codingPath))"
        case .keyNotFound(let k, let c): return "it lacks \"\(k.stringValue)\"\(at(c.codingPath))"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "a value has the wrong type\(at(c.codingPath))"
        @unknown default: return "\(error)"
        }
    }

    /// Removes a broken state file and its journal. Only with the lab's lock held: then no `nslab
    /// up` wrote it or is still writing it.
    /// - Returns: the lines to print: what was removed, and the namespaces left in place.
    static func removeBroken(_ lab: String, reason: String, lock: LabLock, verb: String = "removed") -> [String] {
        var lines = ["\(verb) the broken state file \(path(lab)) (\(reason); the nslab up that wrote it is gone)"]
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: NetworkNamespace.runDirectory)) ?? [])
            .filter { $0.hasPrefix("\(lab)-") }.sorted()
        if !left.isEmpty {
            lines.append("left in place: \(left.joined(separator: ", ")): without a state file nothing proves they are nslab's "
                         + "(`ip netns del NAME` removes one that is yours)")
        }
        if verb == "removed" {
            remove(lab)
            lock.releaseRemovingFile(lab)
        }
        return lines
    }

    /// The names of every lab with a state file, sorted.
    static func labNames() -> [String] {
        guard (try? checkDirectory()) != nil else { return [] }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// Every readable state, and the names of unreadable state files.
    static func all() -> (states: [LabState], unreadable: [String]) {
        var states: [LabState] = [], bad: [String] = []
        for n in labNames() {
            if let s = try? read(n) { states.append(s) } else { bad.append(n) }
        }
        return (states, bad)
    }

    static func knownLabsHint() -> String {
        let names = labNames()
        return names.isEmpty ? "no labs are up (`nslab ls`)" : "labs that are up: \(names.joined(separator: ", "))"
    }
}

// MARK: Identity of pinned namespaces

/// Device and inode of a path, if it exists.
func fileIdentity(_ path: String) -> (device: UInt64, inode: UInt64)? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return (UInt64(st.st_dev), UInt64(st.st_ino))
}

/// Whether a pinned namespace path is the namespace a record describes.
enum Ownership: Equatable {
    /// The path does not exist.
    case gone
    /// Its identity matches the record (by cookie, else by device and inode).
    case matches
    /// Something else is there now.
    case differs(String)
    /// The record has no identity to compare with.
    case unproven
    /// An empty file that is not a namespace: what `pin` creates just before its bind mount,
    /// left when `up` was killed between the two (proven by the lab's journal).
    case placeholder
    /// nslab will not act on it, for this reason.
    case refused(String)
}

/// Why nslab must not act on a record at all, or nil: only `/run/netns/<LAB>-<node>`, with a
/// valid node name, is ever a lab's namespace, whatever a state file says.
func refusal(of r: NamespaceRecord, lab: String) -> String? {
    if let problem = Topology.nodeNameProblem(r.node) { return "its node name \"\(r.node)\" \(problem)" }
    let name = "\(lab)-\(r.node)"
    if r.name != name { return "it is recorded as \(r.name), but lab \(lab)'s node \(r.node) can only be \(name)" }
    let path = "\(NetworkNamespace.runDirectory)/\(name)"
    if r.path != path { return "its path is \(r.path), but lab \(lab)'s node \(r.node) can only be \(path)" }
    return nil
}

/// Whether a record's path holds the namespace it describes.
///
/// Only a namespace (a file on nsfs, the device `/proc/self/ns/net` is on) can match. An empty
/// regular file is the placeholder a killed `up` left only when the lab was still building,
/// its journal lists the node (so `up` created that namespace and was pinning it), and the
/// file looks like the ones `pin` makes (owned by us, mode 0444, changed after the lab started).
/// Anything else — a symlink, a directory, a file with data — is refused.
func ownership(of record: NamespaceRecord, in state: LabState, journaled: Set<String>) -> Ownership {
    if let why = refusal(of: record, lab: state.name) { return .refused(why) }
    var st = stat()
    guard lstat(record.path, &st) == 0 else { return .gone }
    let nsfs = fileIdentity("/proc/self/ns/net")?.device
    if UInt64(st.st_dev) != nsfs {
        let type = st.st_mode & S_IFMT
        if type == S_IFREG && st.st_size == 0 {
            guard state.status == .building, journaled.contains(record.node) else {
                return .refused("an empty file, but nothing proves nslab made it (lab \(state.name) "
                                + (state.status == .building ? "has no journal entry for node \(record.node))" : "is not a killed build)"))
            }
            guard st.st_uid == geteuid(), st.st_mode & 0o777 == 0o444,
                  Double(st.st_ctim.tv_sec) >= state.created.rounded(.down) - 1 else {
                return .refused("an empty file that nslab's pin did not make (owner, mode or age differ)")
            }
            return .placeholder
        }
        let what = type == S_IFLNK ? "a symbolic link" : type == S_IFDIR ? "a directory" : type == S_IFREG ? "a regular file" : "not a regular file"
        return .refused("it is not a namespace (\(what)); nslab removes only the namespaces it pinned")
    }
    if let cookie = record.cookie {
        guard let ns = try? NetworkNamespace.open(path: record.path, label: record.name) else {
            return .differs("\(record.path) is not a network namespace")
        }
        defer { ns.close() }
        guard let now = ns.cookie else { return .differs("cannot read the namespace cookie of \(record.path)") }
        return now == cookie ? .matches : .differs("cookie \(now), recorded \(cookie)")
    }
    if let dev = record.device, let ino = record.inode {
        // Device and inode alone prove little: the kernel reuses a namespace's inode number soon
        // after the namespace is gone. Where the kernel has cookies, nslab recorded one; a record
        // without it is not enough.
        if let ns = try? NetworkNamespace.open(path: record.path, label: record.name) {
            let kernelHasCookies = ns.cookie != nil
            ns.close()
            if kernelHasCookies {
                return .refused("lab \(state.name) recorded only its device and inode, which a newer namespace can reuse; "
                                + "this kernel has namespace cookies and nslab records one for every namespace it makes")
            }
        }
        let id = (UInt64(st.st_dev), UInt64(st.st_ino))
        return (dev, ino) == id ? .matches : .differs("device/inode \(id.0)/\(id.1), recorded \(dev)/\(ino)")
    }
    return .unproven
}

/// The ownership of each of a lab's records, as ``ownership(of:in:journaled:)`` decides it, but
/// proven in bulk: each pinned path is opened once (never through a symbolic link), checked to
/// be on nsfs, and the cookies of all of them are read in one trip per namespace worker (both
/// at once), instead of an rtnetlink socket opened in each namespace on a thread handoff per
/// namespace. A record this cannot decide (no cookie recorded, not a namespace, a refusal, an
/// unreadable cookie) is decided one by one as before.
func ownerships(of state: LabState, journaled: Set<String>) -> [Ownership] {
    let records = state.namespaces
    var decided = [Ownership?](repeating: nil, count: records.count)
    let nsfs = fileIdentity("/proc/self/ns/net")?.device
    var fds: [Int32] = [], which: [Int] = []
    for (i, r) in records.enumerated() {
        guard r.cookie != nil, refusal(of: r, lab: state.name) == nil else { continue }
        let fd = open(r.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { continue }
        var st = stat()
        guard fstat(fd, &st) == 0, UInt64(st.st_dev) == nsfs else { close(fd); continue }
        fds.append(fd)
        which.append(i)
    }
    let cookies = NetworkNamespace.cookies(of: fds)
    for (k, i) in which.enumerated() {
        close(fds[k])
        guard let now = cookies[k], let recorded = records[i].cookie else { continue }
        decided[i] = now == recorded ? .matches : .differs("cookie \(now), recorded \(recorded)")
    }
    return records.indices.map { decided[$0] ?? ownership(of: records[$0], in: state, journaled: journaled) }
}

// MARK: The lab lock

/// An exclusive `flock` on `/run/nslab/<LAB>.lock`, so that no two nslab processes change one lab
/// at once.
///
/// `nslab up` takes it before it reserves the name and holds it while it builds and runs the
/// setup, until it exits (the kernel drops it when the process ends, however it ends). `down`
/// and `sweep` take it, without waiting long, before they read a state file they act on: while
/// they hold it no `up` is building that lab, and what they read stays true until they are done.
/// A lab that is removed has its lock file removed by the holder, under the lock; whoever
/// opened the old file before that sees, once it holds its lock, that the path now names
/// another file (or none) and starts over.
final class LabLock: @unchecked Sendable {
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    static func path(_ lab: String) -> String { "\(StateStore.directory)/\(lab).lock" }

    /// Takes the lock, waiting at most `wait` seconds.
    /// - Returns: the lock, or nil when another process holds it all that time.
    static func acquire(_ lab: String, wait: Double) throws -> LabLock? {
        try StateStore.prepare()
        let p = path(lab)
        let deadline = Date().addingTimeInterval(wait)
        while true {
            let fd = StateStore.openFile(p, O_RDWR | O_CREAT)
            guard fd >= 0 else { throw NslabError("cannot open \(p): \(String(cString: strerror(errno)))") }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                // Still the file the path names (not one removed by a holder that finished)?
                var held = stat(), named = stat()
                if fstat(fd, &held) == 0 && lstat(p, &named) == 0 && held.st_dev == named.st_dev && held.st_ino == named.st_ino {
                    return LabLock(fd: fd)
                }
                close(fd)
                continue
            }
            let e = errno
            close(fd)
            guard e == EWOULDBLOCK || e == EINTR else {
                throw NslabError("cannot lock \(p): \(String(cString: strerror(e)))")
            }
            if Date() >= deadline { return nil }
            usleep(10_000)
        }
    }

    /// Whether some process holds the lab's lock right now (without taking it for longer than a
    /// probe: a shared lock, released at once).
    static func isHeld(_ lab: String) -> Bool {
        let fd = StateStore.openFile(path(lab), O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 { flock(fd, LOCK_UN); return false }
        return errno == EWOULDBLOCK
    }

    /// Removes the lock file (the lab is gone), then releases the lock.
    func releaseRemovingFile(_ lab: String) {
        guard fd >= 0 else { return }
        unlink(Self.path(lab))
        release()
    }

    /// Releases the lock, leaving the file for the lab that still exists.
    func release() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    deinit { release() }
}

/// The error for a lab whose lock another nslab process holds.
func labBusy(_ lab: String, doing what: String) -> NslabError {
    if let s = try? StateStore.read(lab), processAlive(s.pid) {
        return NslabError("lab \(lab) is still being brought up by `nslab up` (pid \(s.pid)); \(what)",
                          hint: "wait until it is up, or stop it with `kill -TERM \(s.pid)` (it rolls back)")
    }
    return NslabError("lab \(lab) is busy: another nslab process holds \(LabLock.path(lab)); \(what)",
                      hint: "try again once it has finished")
}

import Foundation
import NetnsKit

/// What `nslab up` records in `/run/nslab/<LAB>.json`: enough to tear the lab down and to
/// prove, later, that a namespace under `/run/netns` is the one nslab created.
struct LabState: Codable {
    enum Status: String, Codable {
        /// `nslab up` reserved the name and is building (or was killed while building).
        case building
        /// Built and set up.
        case up
    }

    var version = 1
    var name: String
    /// The scenario name or topology file given to `nslab up`.
    var source: String
    var status: Status
    /// The pid of the `nslab up` process.
    var pid: Int32
    /// Seconds since 1970 when the lab was started.
    var created: Double
    var topology: Topology
    var namespaces: [NamespaceRecord]

    var nodeNames: [String] { topology.nodes.map(\.name) }
}

/// One pinned namespace of a lab and its identity.
struct NamespaceRecord: Codable, Equatable {
    var node: String
    /// The `ip netns` name, `<LAB>-<node>`.
    var name: String
    var path: String
    /// `SO_NETNS_COOKIE`: never reused while the system runs.
    var cookie: UInt64?
    /// Device and inode of the nsfs file (reused only after the namespace is gone).
    var device: UInt64?
    var inode: UInt64?
}

/// Reads and writes state files under `/run/nslab`.
enum StateStore {
    static let directory = "/run/nslab"

    static func path(_ lab: String) -> String { "\(directory)/\(lab).json" }

    /// Creates `/run/nslab` (mode 0700) if needed, and checks it.
    static func prepare() throws {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw NslabError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        try checkDirectory()
    }

    /// Refuses a state directory that another user could have written to: it must be a real
    /// directory (not a symbolic link), ours (root's), mode 0700. A missing one is fine (no labs).
    static func checkDirectory() throws {
        var st = stat()
        guard lstat(directory, &st) == 0 else {
            if errno == ENOENT { return }
            throw NslabError("cannot read \(directory): \(String(cString: strerror(errno)))")
        }
        var problem: String?
        if st.st_mode & S_IFMT == S_IFLNK {
            problem = "it is a symbolic link"
        } else if st.st_mode & S_IFMT != S_IFDIR {
            problem = "it is not a directory"
        } else if st.st_uid != geteuid() {
            problem = "it belongs to uid \(st.st_uid), not \(geteuid() == 0 ? "root" : "uid \(geteuid())")"
        } else if st.st_mode & 0o777 != 0o700 {
            problem = "its mode is \(String(st.st_mode & 0o777, radix: 8)), not 700"
        }
        if let problem {
            throw NslabError("refusing to use the state directory \(directory): \(problem), so its files prove nothing",
                             hint: "check who made it; `chown root:root \(directory) && chmod 700 \(directory)` if it is nslab's")
        }
    }

    /// Opens a file of the state directory without following a symbolic link.
    static func openFile(_ path: String, _ flags: Int32, _ mode: mode_t = 0o600) -> Int32 {
        open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode)
    }

    /// Claims a lab name by creating its state file exclusively (so two `up`s cannot both win).
    static func reserve(_ state: LabState) throws {
        try prepare()
        let p = path(state.name)
        let fd = openFile(p, O_WRONLY | O_CREAT | O_EXCL)
        if fd < 0 {
            if errno == EEXIST {
                throw NslabError("lab \(state.name) is already up (\(p) exists)",
                                 hint: "use another --name, or `nslab down \(state.name)` first")
            }
            throw NslabError("cannot create \(p): \(String(cString: strerror(errno)))")
        }
        close(fd)
        // A fresh journal: whatever was at its path before (a stale journal, a planted link) goes.
        unlink(pinsPath(state.name))
        let journal = openFile(pinsPath(state.name), O_WRONLY | O_CREAT | O_EXCL)
        if journal < 0 {
            let e = errno
            unlink(p)
            throw NslabError("cannot create \(pinsPath(state.name)): \(String(cString: strerror(e)))")
        }
        close(journal)
        do { try write(state) } catch { unlink(p); removePins(state.name); throw error }
    }

    /// Replaces the state file atomically (mode 0600).
    static func write(_ state: LabState) throws {
        let p = path(state.name)
        let tmp = p + ".tmp\(getpid())"
        let data = Data(try jsonText(state).utf8)
        unlink(tmp)
        let fd = openFile(tmp, O_WRONLY | O_CREAT | O_EXCL)
        guard fd >= 0 else { throw NslabError("cannot write \(tmp): \(String(cString: strerror(errno)))") }
        writeAll(fd, [UInt8](data))
        fsync(fd)
        close(fd)
        guard rename(tmp, p) == 0 else {
            let e = errno
            unlink(tmp)
            throw NslabError("cannot write \(p): \(String(cString: strerror(e)))")
        }
    }

    static func remove(_ lab: String) {
        unlink(path(lab))
        removePins(lab)
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
    static func read(_ lab: String) throws -> LabState {
        let p = path(lab)
        try checkDirectory()
        let fd = openFile(p, O_RDONLY)
        guard fd >= 0 else {
            if errno == ELOOP { throw NslabError("\(p) is a symbolic link: nslab does not follow it") }
            throw NslabError("no lab named \"\(lab)\" is up (no \(p))", hint: knownLabsHint())
        }
        let data = FileHandle(fileDescriptor: fd, closeOnDealloc: true).readDataToEndOfFile()
        var state: LabState
        do {
            state = try JSONDecoder().decode(LabState.self, from: data)
        } catch {
            throw NslabError("\(p) is not a readable nslab state file: \(error)")
        }
        // A copied or restored file: whatever it records, nslab does not act on it.
        guard state.name == lab else {
            throw NslabError("\(p) names lab \(state.name), not \(lab): nslab does nothing with it",
                             hint: "a copied or restored state file proves nothing; remove it by hand")
        }
        mergePins(&state)
        return state
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

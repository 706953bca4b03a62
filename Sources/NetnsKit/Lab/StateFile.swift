import Foundation
import Namespaces
import Netlink
import NetnsModel

/// What `nslab up` (or a kept failed test) records in `/run/nslab/<LAB>.json`: enough to tear
/// the lab down and to prove, later, that a namespace under `/run/netns` is the one recorded.
///
/// Shared by nslab and the test helpers so that a lab a failed test kept is one `nslab ls`
/// lists and `nslab down` removes, with the same checks.
package struct LabState: Codable, Sendable {
    package enum Status: String, Codable, Sendable {
        /// `nslab up` reserved the name and is building (or was killed while building).
        case building
        /// Built and set up.
        case up
    }

    package var version = 1
    package var name: String
    /// The scenario name or topology file given to `nslab up`, or the test that kept the lab.
    package var source: String
    package var status: Status
    /// The pid of the process that made the lab.
    package var pid: Int32
    /// Seconds since 1970 when the lab was started.
    package var created: Double
    package var topology: Topology
    package var namespaces: [NamespaceRecord]

    package var nodeNames: [String] { topology.nodes.map(\.name) }

    package init(name: String, source: String, status: Status, pid: Int32, created: Double,
                 topology: Topology, namespaces: [NamespaceRecord]) {
        self.name = name
        self.source = source
        self.status = status
        self.pid = pid
        self.created = created
        self.topology = topology
        self.namespaces = namespaces
    }
}

/// One pinned namespace of a lab and its identity.
package struct NamespaceRecord: Codable, Equatable, Sendable {
    package var node: String
    /// The `ip netns` name, `<LAB>-<node>`.
    package var name: String
    package var path: String
    /// `SO_NETNS_COOKIE`: never reused while the system runs.
    package var cookie: UInt64?
    /// Device and inode of the nsfs file (reused only after the namespace is gone).
    package var device: UInt64?
    package var inode: UInt64?

    package init(node: String, name: String, path: String, cookie: UInt64? = nil,
                 device: UInt64? = nil, inode: UInt64? = nil) {
        self.node = node
        self.name = name
        self.path = path
        self.cookie = cookie
        self.device = device
        self.inode = inode
    }
}

/// A state file that could not be read or written, in nslab's words.
package struct LabStateFileError: Error, CustomStringConvertible {
    package var message: String
    package var hint: String?
    package var description: String { message }
}

/// The state directory `/run/nslab` and the atomic writing of its state files.
package enum LabStateFiles {
    package static let directory = "/run/nslab"

    package static func path(_ lab: String) -> String { "\(directory)/\(lab).json" }

    /// The temporary files state files are written to: `<LAB>.json.tmp<pid>`.
    package static func temporaryPath(_ lab: String) -> String { path(lab) + ".tmp\(ProcessFacts.processID)" }

    /// Creates `/run/nslab` (mode 0700) if needed, and checks it.
    package static func prepare() throws(LabStateFileError) {
        do { try PrivateFiles.makeDirectory(directory, mode: 0o700) } catch {
            throw LabStateFileError(message: "cannot create \(directory): \(ErrnoNames.text(error.errno))")
        }
        try checkDirectory()
    }

    /// Refuses a state directory that another user could have written to: it must be a real
    /// directory (not a symbolic link), ours (root's), mode 0700. A missing one is fine (no labs).
    package static func checkDirectory() throws(LabStateFileError) {
        let problem: String?
        do { problem = try PrivateFiles.untrustedDirectoryProblem(directory, mode: 0o700) } catch {
            throw LabStateFileError(message: "cannot read \(directory): \(ErrnoNames.text(error.errno))")
        }
        if let problem {
            throw LabStateFileError(
                message: "refusing to use the state directory \(directory): \(problem), so its files prove nothing",
                hint: "check who made it; `chown root:root \(directory) && chmod 700 \(directory)` if it is nslab's")
        }
    }

    /// Opens a file of the state directory without following a symbolic link (`flags`: the C
    /// library's `O_*`); -1 with errno set on failure, as `open(2)`.
    package static func openFile(_ path: String, _ flags: Int32, _ mode: UInt32 = 0o600) -> Int32 {
        PrivateFiles.open(path, flags, mode)
    }

    /// Claims a lab name with a complete state file: written under a temporary name, then
    /// linked into place with `link(2)`, which fails when the name is taken, so two writers
    /// cannot both win and no empty or half-written state file is ever seen.
    /// - Returns: false when the name is taken.
    package static func claim(_ state: LabState) throws(LabStateFileError) -> Bool {
        try prepare()
        let p = path(state.name)
        let tmp = try writeTemporary(state)
        defer { PrivateFiles.remove(tmp) }
        do { return try PrivateFiles.link(tmp, to: p) } catch {
            throw LabStateFileError(message: "cannot create \(p): \(ErrnoNames.text(error.errno))")
        }
    }

    /// Replaces the state file atomically (mode 0600).
    package static func replace(_ state: LabState) throws(LabStateFileError) {
        let p = path(state.name)
        let tmp = try writeTemporary(state)
        do { try PrivateFiles.rename(tmp, to: p) } catch {
            PrivateFiles.remove(tmp)
            throw LabStateFileError(message: "cannot write \(p): \(ErrnoNames.text(error.errno))")
        }
    }

    /// Writes a state to its temporary file, synced, and returns the file's path.
    private static func writeTemporary(_ state: LabState) throws(LabStateFileError) -> String {
        let tmp = temporaryPath(state.name)
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes: [UInt8]
        do { bytes = Array(try e.encode(state)) } catch {
            throw LabStateFileError(message: "cannot encode the state of lab \(state.name): \(error)")
        }
        PrivateFiles.remove(tmp)
        do { try PrivateFiles.writeNew(tmp, bytes) } catch {
            PrivateFiles.remove(tmp)
            throw LabStateFileError(message: "cannot write \(tmp): \(ErrnoNames.text(error.errno))")
        }
        return tmp
    }
}

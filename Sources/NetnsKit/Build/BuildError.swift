import Namespaces
import Netlink
import NetnsModel

/// A build that failed; everything it had created was rolled back.
///
/// It names the declaration that failed (with its source location or file path),
/// the equivalent `ip` command, and the kernel's answer.
public struct BuildError: Error, Sendable, CustomStringConvertible {
    /// The declaration the failing step came from, e.g. `link h1:eth0 <-> r1:eth0 (Topo.swift:12)`.
    public var declaration: String
    /// The failing step as an `ip` command.
    public var command: String
    /// The underlying error (a `NetlinkError`, a `SystemCallError`, …).
    public var underlying: any Error
    /// Set when the kernel lacks a feature (a link kind, a qdisc, VLAN filtering): tests skip on this.
    public var unsupportedFeature: String?
    /// Problems met while rolling back, if any.
    public var rollbackProblems: [String] = []

    /// The declaration and step that failed, the kernel's answer and any rollback problems.
    public var description: String {
        var s = "building failed at \(declaration)\n  step: \(command)\n  "
        if let f = unsupportedFeature { s += "this kernel has no \(f) support: " }
        s += "\(underlying)"
        if !rollbackProblems.isEmpty { s += "\n  rollback problems: " + rollbackProblems.joined(separator: "; ") }
        return s
    }

    /// The netlink error, if the kernel refused a request.
    public var netlinkError: NetlinkError? { underlying as? NetlinkError }
}

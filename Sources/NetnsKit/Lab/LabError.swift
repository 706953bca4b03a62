/// Errors of a running lab, with the names the user wrote.
public enum LabError: Error, Sendable, CustomStringConvertible, Equatable {
    /// No node has this name; `known` lists the lab's nodes.
    case unknownNode(String, known: [String])
    /// The node has no interface with this name; `known` lists its interfaces.
    case unknownInterface(String, node: String, known: [String])
    /// The lab (named by the associated value) was already torn down.
    case alreadyTornDown(String)
    /// A pinned lab cannot use this name, and why (its namespace path already exists).
    case nameTaken(String, reason: String)

    /// What went wrong, naming the node or interface and, for an unknown name, the known ones.
    public var description: String {
        switch self {
        case let .unknownNode(n, known):
            return "unknown node \"\(n)\"" + (known.isEmpty ? "" : " (the lab has: \(known.joined(separator: ", ")))")
        case let .unknownInterface(i, node, known):
            return "node \(node) has no interface \"\(i)\"" + (known.isEmpty ? "" : " (it has: \(known.joined(separator: ", ")))")
        case let .alreadyTornDown(l):
            return "lab \(l) was already torn down"
        case let .nameTaken(n, reason):
            return "lab name \"\(n)\" cannot be used: \(reason)"
        }
    }
}

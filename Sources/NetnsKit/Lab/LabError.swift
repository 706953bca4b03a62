/// Errors of a running lab, with the names the user wrote.
public enum LabError: Error, Sendable, CustomStringConvertible, Equatable {
    case unknownNode(String, known: [String])
    case unknownInterface(String, node: String, known: [String])
    case alreadyTornDown(String)
    case nameTaken(String, reason: String)

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

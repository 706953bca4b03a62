/// How much of the host a node shares besides its network namespace.
public enum Isolation: String, Sendable, Hashable, Codable, CaseIterable {
    /// Only a network namespace of its own (the default): the node sees the host's files and hostname.
    case network
    /// Also private mount and UTS namespaces, for daemons: the node's name as hostname, its own
    /// `/etc/hosts` (the lab's nodes and addresses) and `/etc/resolv.conf`, writable private
    /// `/run` and `/tmp`. The host's files are not changed.
    case full
}

/// A sysctl key that belongs to one interface, like `net.ipv4.conf.eth0.rp_filter`.
///
/// The kernel creates such a file with its interface, so it can only be written once the
/// interface exists (a node's other sysctls are written when its namespace is created). The
/// interface is everything between the family's directory and the last dot, so a VLAN
/// `eth0.10` may be written as is or as `sysctl(8)` writes it, `eth0/10`.
struct InterfaceSysctlKey: Hashable {
    /// `net.ipv4.conf`, `net.ipv6.conf`, `net.ipv4.neigh` or `net.ipv6.neigh`.
    var directory: String
    /// The interface, or `all`/`default`.
    var interface: String
    var leaf: String

    static let directories = ["net.ipv4.conf", "net.ipv6.conf", "net.ipv4.neigh", "net.ipv6.neigh"]

    init?(_ key: String) {
        guard let directory = Self.directories.first(where: { key.hasPrefix($0 + ".") }) else { return nil }
        let rest = key.dropFirst(directory.count + 1)
        guard let dot = rest.lastIndex(of: "."), dot != rest.startIndex else { return nil }
        self.directory = directory
        interface = String(rest[..<dot].map { $0 == "/" ? "." : $0 })
        leaf = String(rest[rest.index(after: dot)...])
    }

    /// The names that stand for no single interface: `all` and `default` (`neigh` has only `default`).
    var generalNames: [String] { directory.hasSuffix(".neigh") ? ["default"] : ["all", "default"] }

    /// True when the key names one interface rather than `all` or `default`.
    var isPerInterface: Bool { !generalNames.contains(interface) }

    /// The key as the builder writes it, dots in the interface name written as `/`.
    var pathKey: String { "\(directory).\(String(interface.map { $0 == "." ? "/" : $0 })).\(leaf)" }
}

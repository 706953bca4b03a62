import Namespaces
import Netlink
import NetnsModel

/// A node declared with `isolation: .full` could not get its mount and UTS namespaces.
public struct IsolationError: Error, Sendable, CustomStringConvertible {
    /// The node's name.
    public var node: String
    /// Why the namespaces could not be created (the failed call and its errno).
    public var reason: String
    /// The node and the reason.
    public var description: String { "node \(node) (isolation: full): \(reason)" }
}

extension Lab {
    /// Gives every node declared with `isolation: .full` its private mount and UTS namespaces,
    /// once the network is built (so `/etc/hosts` can list the addresses the kernel has).
    func isolateNodes() throws {
        let full = topology.nodes.filter { $0.isolation == .full }
        guard !full.isEmpty else { return }
        // A pinned lab outlives this process: its nodes' mount and UTS namespaces are pinned
        // under /run/nslab/<LAB>/ (see `HostNamespaces.pin`), where `nslab exec` and `nslab shell` find them.
        var pinDirectory: String? = nil
        if case .pinned(let prefix) = mode {
            let dir = Self.isolationPinDirectory(lab: prefix)
            do {
                try LabStateFiles.prepare()
                try HostNamespaces.preparePinDirectory(dir)
            } catch {
                throw IsolationError(node: full[0].name, reason: "cannot prepare \(dir) to pin its mount and UTS namespaces: \(error)")
            }
            onDown("removing the pinned mount and UTS namespaces in \(dir)") { HostNamespaces.removePinDirectory(dir) }
            pinDirectory = dir
        }
        let hosts = hostsFile()
        for declared in full {
            let node = try self.node(declared.name)
            let resolv = "# written by NetnsKit for node \(declared.name) of lab \(name): only the node's own resolver\n"
                + "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
            do {
                let host = pinDirectory == nil
                    ? try HostNamespaces.create(hostname: declared.name, hosts: hosts, resolvConf: resolv)
                    : try HostNamespaces.createPinnable(hostname: declared.name, hosts: hosts, resolvConf: resolv)
                try node.namespace.hostNamespaces = host
                if let pinDirectory { try host.pin(directory: pinDirectory, node: declared.name) }
            } catch {
                throw IsolationError(node: declared.name, reason: "\(error)")
            }
        }
    }

    /// Where a pinned lab's isolated nodes have their mount and UTS namespaces pinned: `/run/nslab/<LAB>`.
    package static func isolationPinDirectory(lab: String) -> String { "\(LabStateFiles.directory)/\(lab)" }

    /// The `/etc/hosts` that isolated nodes see: localhost, then every address of every node
    /// (as the kernel has them, link-local ones left out) under the node's name.
    public func hostsFile() -> String {
        var out = "# written by NetnsKit for lab \(name)\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        for node in nodes {
            let addresses = (try? node.addresses()) ?? []
            for a in addresses where a.scope == RouteScope.universe.rawValue {
                out += "\(a.prefix.address)\t\(node.name)\n"
            }
        }
        return out
    }
}

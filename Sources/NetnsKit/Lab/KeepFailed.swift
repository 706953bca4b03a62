import Namespaces
import NetnsModel

/// A failed test's lab that was kept: pinned under `/run/netns` and recorded in `/run/nslab`,
/// so `ip netns`, `nslab ls`, `nslab shell` and `nslab down` see it as a lab `nslab up` made.
package struct KeptLab: Sendable {
    /// The lab name nslab knows it by (`kf-<test>-<n>`).
    package var name: String
    /// The lab's nodes, in declaration order.
    package var nodes: [String]

    /// The line that tells a person how to enter and remove the lab.
    package var message: String {
        let node = nodes.first ?? "NODE"
        return "── NetnsKit: kept the failed lab \(name): nslab shell \(name) \(node), or ip netns exec \(name)-\(node) …; "
            + "remove it with nslab down \(name)"
    }
}

/// Why a failed test's lab could not be kept (it was torn down instead).
package struct KeepError: Error, CustomStringConvertible {
    package var description: String
}

extension Lab {
    /// Keeps the lab after its test failed instead of removing it: stops the processes started
    /// in its nodes and runs the other teardown steps as ``down(waitUntilGone:)`` does, but pins
    /// every namespace as `/run/netns/<name>-<node>` (as `ip netns add` would) and records the
    /// lab in `/run/nslab/<name>.json` with each namespace's cookie, device and inode, as
    /// `nslab up` does. The namespaces then outlive the process.
    ///
    /// On any failure the pins and the state file made so far are removed, the lab is torn down
    /// as usual, and the error says why.
    /// - Parameter test: the test's name; the lab name is `kf-<test>-<n>`, valid for nslab.
    /// - Important: needs CAP_SYS_ADMIN (the bind mounts) and write access to `/run/nslab`.
    package func keepFailed(test: String) throws(KeepError) -> KeptLab {
        guard mode == .fixture else {
            down()
            throw KeepError(description: "lab \(name) is a pinned lab (not a fixture), so it was torn down as usual")
        }
        let namespaces: [(node: String, ns: NetworkNamespace)]
        do { namespaces = try nodes.map { ($0.name, try $0.namespace) } } catch {
            down()
            throw KeepError(description: "lab \(name) has a node without a namespace (\(error)), so it was torn down")
        }
        let (kept, state) = try claimName(test: test)
        var pinned: [NetworkNamespace] = []
        func abandon(_ why: String) -> KeepError {
            for ns in pinned { ns.unpin() }
            PrivateFiles.remove(LabStateFiles.path(kept))
            down()
            return KeepError(description: "could not keep lab \(name) as \(kept): \(why); it was torn down")
        }
        var final = state
        for (node, ns) in namespaces {
            guard let i = final.namespaces.firstIndex(where: { $0.node == node }) else {
                throw abandon("node \(node) is not in the topology")
            }
            do { try ns.pin(name: "\(kept)-\(node)") } catch { throw abandon("\(error)") }
            pinned.append(ns)
            final.namespaces[i].cookie = ns.cookie
            final.namespaces[i].device = ns.device
            final.namespaces[i].inode = ns.inode
        }
        // Isolated nodes: their mount and UTS namespaces are pinned too, as `nslab up` pins them,
        // so that `nslab exec` and `nslab shell` enter them after this process is gone.
        let isolated = namespaces.compactMap { n in n.ns.hostNamespaces.map { (n.node, $0) } }
        if !isolated.isEmpty {
            let dir = Self.isolationPinDirectory(lab: kept)
            do {
                try HostNamespaces.preparePinDirectory(dir)
                for (node, host) in isolated { try host.pin(directory: dir, node: node) }
            } catch {
                HostNamespaces.removePinDirectory(dir)
                throw abandon("\(error)")
            }
        }
        final.status = .up
        do { try LabStateFiles.replace(final) } catch { throw abandon(error.message) }
        let report = tearDown(waitUntilGone: 0, keepingPins: true)
        if !report.ok { print("── NetnsKit: stopping lab \(name) before keeping it: \(report)") }
        return KeptLab(name: kept, nodes: namespaces.map(\.node))
    }

    /// Claims the first free name `kf-<test>-<n>` with a complete state file (status building,
    /// no identities yet), whose `/run/netns/<name>-<node>` paths are all free.
    private func claimName(test: String) throws(KeepError) -> (String, LabState) {
        let base = Self.keptNameBase(test: test)
        for n in 1...999 {
            let candidate = "\(base)-\(n)"
            let records = topology.nodes.map {
                NamespaceRecord(node: $0.name, name: "\(candidate)-\($0.name)",
                                path: "\(NetworkNamespace.runDirectory)/\(candidate)-\($0.name)")
            }
            if records.contains(where: { PrivateFiles.exists($0.path) }) { continue }
            let state = LabState(name: candidate, source: "kept failed test \(test)", status: .building, pid: ProcessFacts.processID,
                                 created: ProcessFacts.wallClockSeconds, topology: topology, namespaces: records)
            do {
                if try LabStateFiles.claim(state) { return (candidate, state) }
            } catch {
                down()
                throw KeepError(description: "could not keep lab \(name): \(error.message); it was torn down")
            }
        }
        down()
        throw KeepError(description: "could not keep lab \(name): every name \(base)-1…999 is taken; it was torn down")
    }

    /// `kf-` and the test's name in nslab's alphabet (`[a-z0-9-]`), short enough that
    /// `kf-<test>-<n>` fits nslab's 24 characters.
    static func keptNameBase(test: String) -> String {
        var s = ""
        for c in test.lowercased().unicodeScalars {
            let ok = (c >= "a" && c <= "z") || (c >= "0" && c <= "9")
            if ok { s.unicodeScalars.append(c) } else if !s.isEmpty, s.last != "-" { s.append("-") }
        }
        s = String(s.prefix(16))
        while s.last == "-" { s.removeLast() }
        return s.isEmpty ? "kf-test" : "kf-\(s)"
    }
}

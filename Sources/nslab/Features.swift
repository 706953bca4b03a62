import Foundation
import NetnsKit

/// Probes what this kernel can build, in a scratch anonymous namespace that vanishes afterwards.
final class FeatureProbe {
    static let linkKinds = ["veth", "bridge", "vxlan", "macvlan", "ipvlan", "vlan", "dummy", "gre", "gretap",
                            "ipip", "sit", "ip6tnl", "geneve", "wireguard", "vrf", "bond", "ifb"]
    static let qdiscKinds = ["tbf", "htb", "netem", "fq_codel"]

    /// The outcome of one probe.
    struct Outcome: Codable {
        var feature: String
        var supported: Bool
        /// The tool's answer when the probe failed.
        var detail: String?
    }

    private var namespace: NetworkNamespace?
    private var cache: [String: Outcome] = [:]
    private var counter = 0

    deinit { namespace?.close() }

    private func scratch() throws -> NetworkNamespace {
        if let namespace { return namespace }
        let ns = try NetworkNamespace.create(label: "nslab-probe")
        namespace = ns
        return ns
    }

    private func run(_ argv: [String], stdin: String? = nil) throws -> ProcessResult {
        try Spawner.runBlocking(argv, in: try scratch(), stdin: stdin.map { Array($0.utf8) }, timeout: 10)
    }

    private func fresh(_ base: String) -> String {
        counter += 1
        return "\(base)\(counter)"
    }

    /// A parent interface for kinds that stack on one (macvlan, ipvlan, vlan) and for qdiscs.
    private func parent() throws -> String {
        if (try? run(["ip", "link", "show", "prb0"]))?.status == 0 { return "prb0" }
        let r = try run(["ip", "link", "add", "prb0", "type", "veth", "peer", "name", "prb0p"])
        guard r.status == 0 else { throw NslabError("cannot create a veth to probe with: \(r.errorOutput.trimmedText)") }
        _ = try run(["ip", "link", "set", "prb0", "up"])
        return "prb0"
    }

    /// Whether `feature` (a link kind, a qdisc kind, or `nftables`) works here; `nil` for a feature it cannot probe.
    func probe(_ feature: String) -> Outcome? {
        if let c = cache[feature] { return c }
        let outcome: Outcome?
        do {
            if Self.linkKinds.contains(feature) {
                outcome = try probeLink(feature)
            } else if Self.qdiscKinds.contains(feature) {
                outcome = try probeQdisc(feature)
            } else if feature == "nftables" {
                let r = try run(["nft", "-f", "-"], stdin: "table inet nslab_probe {\n  chain c {\n    type filter hook input priority 0;\n  }\n}\n")
                outcome = Outcome(feature: feature, supported: r.status == 0,
                                  detail: r.status == 0 ? nil : r.errorOutput.trimmedText)
            } else {
                outcome = nil
            }
        } catch {
            outcome = Outcome(feature: feature, supported: false, detail: "probe failed: \(describe(error))")
        }
        if let outcome { cache[feature] = outcome }
        return outcome
    }

    private func probeLink(_ kind: String) throws -> Outcome {
        let name = fresh("prb")
        var argv = ["ip", "link", "add"]
        switch kind {
        case "veth": argv += [name, "type", "veth", "peer", "name", name + "p"]
        case "vxlan": argv += [name, "type", "vxlan", "id", "42", "dstport", "4789", "local", "10.255.0.1"]
        case "macvlan": argv += [name, "link", try parent(), "type", "macvlan", "mode", "bridge"]
        case "ipvlan": argv += [name, "link", try parent(), "type", "ipvlan", "mode", "l2"]
        case "vlan": argv += [name, "link", try parent(), "type", "vlan", "id", "42"]
        case "gre", "gretap", "ipip", "sit":
            argv += [name, "type", kind, "local", "10.255.0.1", "remote", "10.255.0.2"]
        case "ip6tnl": argv += [name, "type", "ip6tnl", "local", "fd00:ff::1", "remote", "fd00:ff::2"]
        case "geneve": argv += [name, "type", "geneve", "id", "42", "remote", "10.255.0.2"]
        case "vrf": argv += [name, "type", "vrf", "table", "42"]
        default: argv += [name, "type", kind]
        }
        let r = try run(argv)
        if r.status == 0 {
            _ = try? run(["ip", "link", "del", name])
            return Outcome(feature: kind, supported: true, detail: nil)
        }
        return Outcome(feature: kind, supported: false, detail: r.errorOutput.trimmedText)
    }

    private func probeQdisc(_ kind: String) throws -> Outcome {
        let dev = try parent()
        var argv = ["tc", "qdisc", "replace", "dev", dev, "root"]
        switch kind {
        case "tbf": argv += ["tbf", "rate", "1mbit", "burst", "32kbit", "latency", "50ms"]
        case "htb": argv += ["handle", "1:", "htb", "default", "10"]
        case "netem": argv += ["netem", "delay", "10ms"]
        default: argv += [kind]
        }
        let r = try run(argv)
        if r.status == 0 { _ = try? run(["tc", "qdisc", "del", "dev", dev, "root"]) }
        return Outcome(feature: kind + " qdisc", supported: r.status == 0, detail: r.status == 0 ? nil : r.errorOutput.trimmedText)
    }
}

import Glibc
import CNetlink
import Namespaces
import Netlink
import Synchronization

/// What this kernel can build: link kinds, qdiscs, bridge VLAN filtering, nftables.
///
/// Each feature is tried for real, once, in a scratch anonymous namespace that is gone right
/// after (a kernel without modules answers "Unknown device type" or "Specified qdisc kind is
/// unknown."); results are cached for the life of the process. `nslab doctor`, `nslab test`
/// and the test conditions (`.kernelHas(linkKind:)`) all ask here.
public final class KernelFeatures: @unchecked Sendable {
    /// The outcome of one probe.
    public struct Probe: Sendable, Hashable, Codable {
        /// What was probed, as messages name it (`vxlan`, `netem qdisc`, `bridge VLAN filtering`).
        public var feature: String
        public var supported: Bool
        /// The kernel's (or tool's) answer when it is not supported.
        public var detail: String?
    }

    public static let shared = KernelFeatures()

    /// The link kinds NetnsKit can build where the kernel has them.
    public static let linkKinds = ["veth", "bridge", "vxlan", "macvlan", "ipvlan", "vlan", "dummy", "gre", "gretap",
                                   "ip6gre", "ip6gretap", "ipip", "sit", "ip6tnl", "geneve", "wireguard", "vrf", "bond", "ifb"]
    /// The qdisc kinds worth knowing about.
    public static let qdiscKinds = ["tbf", "htb", "netem", "fq_codel"]

    private let cache = Mutex<[String: Probe]>([:])

    private init() {}

    /// Probes a link kind, a qdisc kind, `"nftables"` or `"bridge VLAN filtering"`; nil for anything else.
    public func probe(_ feature: String) -> Probe? {
        if Self.linkKinds.contains(feature) { return link(feature) }
        if Self.qdiscKinds.contains(feature) { return qdisc(feature) }
        if feature == "nftables" { return nftables() }
        if feature == "bridge VLAN filtering" { return bridgeVLANFiltering() }
        return nil
    }

    /// Whether the kernel can create a link of this kind.
    public func link(_ kind: String) -> Probe {
        cached(kind) { ns in
            let s = try ns.socket
            let ten1 = IPAddress("10.255.0.1"), ten2 = IPAddress("10.255.0.2")
            let lk: LinkKind
            var parent: Int32?
            switch kind {
            case "veth": lk = .veth(peer: VethPeer(name: "kp1"))
            case "bridge": lk = .bridge()
            case "vxlan": lk = .vxlan(VXLANOptions(vni: 42, local: ten1))
            case "dummy": lk = .dummy
            case "ifb": lk = .ifb
            case "vrf": lk = .vrf(table: 42)
            case "bond": lk = .bond(mode: 0)
            case "wireguard": lk = .wireguard
            case "gre": lk = .gre(TunnelOptions(local: ten1, remote: ten2))
            case "gretap": lk = .gretap(TunnelOptions(local: ten1, remote: ten2))
            case "ipip": lk = .ipip(TunnelOptions(local: ten1, remote: ten2))
            case "sit": lk = .sit(TunnelOptions(local: ten1, remote: ten2))
            case "ip6tnl": lk = .ip6tnl(TunnelOptions(local: IPAddress("fd00:ff::1"), remote: IPAddress("fd00:ff::2")))
            case "ip6gre": lk = .gre(TunnelOptions(local: IPAddress("fd00:ff::1"), remote: IPAddress("fd00:ff::2")))
            case "ip6gretap": lk = .gretap(TunnelOptions(local: IPAddress("fd00:ff::1"), remote: IPAddress("fd00:ff::2")))
            case "geneve": lk = .geneve(vni: 42, remote: ten2!)
            case "macvlan", "ipvlan", "vlan":
                // These stack on a parent link.
                try s.execute(.newLink(LinkSpec(name: "kp0", index: 40, kind: .veth(peer: VethPeer(name: "kp0p")))))
                parent = 40
                lk = kind == "vlan" ? .vlan(id: 42) : kind == "macvlan" ? .macvlan(mode: .bridge) : .ipvlan(mode: 0)
            default:
                return Probe(feature: kind, supported: false, detail: "not a link kind NetnsKit knows")
            }
            try s.execute(.newLink(LinkSpec(name: "kp2", kind: lk, parent: parent)))
            return Probe(feature: kind, supported: true)
        }
    }

    /// Whether the kernel has this qdisc (installed as root qdisc of a scratch veth).
    public func qdisc(_ kind: String) -> Probe {
        cached(kind + " qdisc") { ns in
            let s = try ns.socket
            let spec: QdiscSpec = switch kind {
            case "tbf": .tbf(rateBitsPerSecond: 1_000_000, burstBytes: 10_000, limitBytes: 10_000)
            case "htb": .htb(defaultClass: 1, classes: [])
            case "netem": .netem(delayMicroseconds: 1000, jitterMicroseconds: 0, lossPercent: 0, limitPackets: 1000)
            default: .other(kind: kind)
            }
            try s.execute(.newLink(LinkSpec(name: "qp0", index: 40, kind: .veth(peer: VethPeer(name: "qp1")))))
            try s.execute(.newQdisc(index: 40, spec))
            return Probe(feature: kind + " qdisc", supported: true)
        }
    }

    /// Whether bridges can filter VLANs (CONFIG_BRIDGE_VLAN_FILTERING).
    public func bridgeVLANFiltering() -> Probe {
        cached("bridge VLAN filtering") { ns in
            try ns.socket.execute(.newLink(LinkSpec(name: "br0", kind: .bridge(stp: false, vlanFiltering: true))))
            return Probe(feature: "bridge VLAN filtering", supported: true)
        }
    }

    /// Whether `nft` is installed and can load a ruleset in a namespace.
    public func nftables() -> Probe {
        cached("nftables") { ns in
            let r = try Spawner.runBlocking(["nft", "-f", "-"], in: ns,
                                            stdin: Array("table inet probe { chain c { type filter hook input priority 0; }; }\n".utf8),
                                            timeout: 10)
            return Probe(feature: "nftables", supported: r.succeeded,
                         detail: r.succeeded ? nil : (r.errorOutput + r.output).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// Runs `body` in a fresh scratch namespace once per feature; any error means "not supported".
    private func cached(_ feature: String, _ body: (NetworkNamespace) throws -> Probe) -> Probe {
        if let p = cache.withLock({ $0[feature] }) { return p }
        let p: Probe
        do {
            let ns = try NetworkNamespace.create(label: "feature-probe")
            defer { ns.close() }
            p = try body(ns)
        } catch let e as NetlinkError {
            p = Probe(feature: feature, supported: false, detail: e.kernelMessage ?? "\(ErrnoNames.text(e.errno)) (\(e.errnoName))")
        } catch {
            p = Probe(feature: feature, supported: false, detail: "probe failed: \(error)")
        }
        cache.withLock { $0[feature] = p }
        return p
    }
}

import Namespaces
import Netlink
import SystemPackage
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
        /// Whether this kernel has the feature.
        public var supported: Bool
        /// The kernel's (or tool's) answer when it is not supported; how it works when that matters
        /// (sysctl writes: the route taken).
        public var detail: String?
        /// Why the probe could not run at all (no scratch namespace could be made); nil when it ran.
        /// Such a feature is not known to be missing, only not probed.
        public var notProbed: String?
        /// The errno of the failure, when it was a system call's.
        public var errno: Errno?

        /// A probe outcome with these values.
        public init(feature: String, supported: Bool, detail: String? = nil, notProbed: String? = nil, errno: Errno? = nil) {
            self.feature = feature; self.supported = supported; self.detail = detail
            self.notProbed = notProbed; self.errno = errno
        }
    }

    /// The process-wide cache of probe results.
    public static let shared = KernelFeatures()

    /// The link kinds NetnsKit can build where the kernel has them.
    public static let linkKinds = ["veth", "bridge", "vxlan", "macvlan", "ipvlan", "vlan", "dummy", "gre", "gretap",
                                   "ip6gre", "ip6gretap", "ipip", "sit", "ip6tnl", "geneve", "wireguard", "vrf", "bond", "ifb"]
    /// The qdisc kinds worth knowing about.
    public static let qdiscKinds = ["tbf", "htb", "netem", "fq_codel"]

    private let cache = Mutex<[String: Probe]>([:])

    private init() {}

    /// Probes a link kind, a qdisc kind, `"nftables"`, `"bridge VLAN filtering"` or `"sysctl writes"`;
    /// nil for anything else.
    public func probe(_ feature: String) -> Probe? {
        if feature == "sysctl writes" { return sysctlWrites() }
        if Self.linkKinds.contains(feature) { return link(feature) }
        if Self.qdiscKinds.contains(feature) { return qdisc(feature) }
        if feature == "nftables" { return nftables() }
        if feature == "bridge VLAN filtering" { return bridgeVLANFiltering() }
        return nil
    }

    /// Whether the kernel can create a link of this kind.
    ///
    /// The first probe of a kind whose module adds fallback devices to every namespace (GRE,
    /// IPIP, SIT, ip6tnl, …) waits until no build of this process is creating links
    /// (`DeviceModuleGate`): loading the module mid-build would take interface indexes that
    /// build has handed out.
    public func link(_ kind: String) -> Probe {
        if DeviceModuleGate.kindsWithFallbackDevices.contains(kind), cache.withLock({ $0[kind] }) == nil {
            return DeviceModuleGate.shared.exclusive { probeLink(kind) }
        }
        return probeLink(kind)
    }

    private func probeLink(_ kind: String) -> Probe {
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

    /// Whether a namespace's sysctls can be written (`net.ipv4.ip_forward` in the scratch namespace).
    ///
    /// Where `/proc/sys` is read-only (a container's default) NetnsKit writes through a proc of its
    /// own; `detail` names the route taken, and a failure carries its errno (EROFS when no private
    /// proc could be mounted, EACCES when a security profile refuses the write).
    public func sysctlWrites() -> Probe {
        cached("sysctl writes") { ns in
            do {
                try ns.setSysctl("net.ipv4.ip_forward", "1")
                let v = try ns.sysctl("net.ipv4.ip_forward")
                return Probe(feature: "sysctl writes", supported: v == "1",
                             detail: v == "1" ? "through \(NetworkNamespace.sysctlWriteRoute)" : "wrote 1, read back \(v)")
            } catch let e as SystemCallError {
                return Probe(feature: "sysctl writes", supported: false, detail: "\(e)", errno: e.errno)
            }
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

    /// Why no scratch namespace can be made here, or nil when one can (probes then run).
    ///
    /// Asks the kernel once per process (the answer is cached with the probes).
    public var notProbedReason: String? {
        if case .failure(let why) = scratchNamespace(probeOnly: true) { return why }
        return nil
    }

    private let scratchFailure = Mutex<String?>(nil)

    private enum Scratch {
        case success(NetworkNamespace)
        case failure(String)
    }

    /// A fresh scratch namespace, or why none can be made (remembered: a namespace that could not
    /// be made once will not be made for the next probe either).
    private func scratchNamespace(probeOnly: Bool = false) -> Scratch {
        if let why = scratchFailure.withLock({ $0 }) { return .failure(why) }
        do {
            let ns = try NetworkNamespace.create(label: "feature-probe")
            if probeOnly { ns.close() }
            return .success(ns)
        } catch {
            var why = "cannot create a scratch network namespace: \(error)"
            if let e = error as? SystemCallError, e.errno == .notPermitted {
                if Confinement.hasSeccompFilter {
                    why += " (a seccomp filter is installed: Seccomp: 2 in /proc/self/status)"
                } else if !Capabilities.missing().isEmpty {
                    why += " (missing \(Capabilities.missing().map(\.rawValue).joined(separator: " and ")))"
                }
            }
            scratchFailure.withLock { $0 = why }
            return .failure(why)
        }
    }

    /// Runs `body` in a fresh scratch namespace once per feature; any error means "not supported",
    /// unless the namespace itself cannot be made: then the feature is "not probed".
    private func cached(_ feature: String, _ body: (NetworkNamespace) throws -> Probe) -> Probe {
        if let p = cache.withLock({ $0[feature] }) { return p }
        let p: Probe
        switch scratchNamespace() {
        case .failure(let why):
            p = Probe(feature: feature, supported: false, detail: "not probed: \(why)", notProbed: why)
        case .success(let ns):
            defer { ns.close() }
            do {
                p = try body(ns)
            } catch let e as NetlinkError {
                p = Probe(feature: feature, supported: false, detail: e.kernelMessage ?? "\(ErrnoNames.text(e.errno)) (\(e.errnoName))",
                          errno: e.errno)
            } catch {
                p = Probe(feature: feature, supported: false, detail: "probe failed: \(error)")
            }
        }
        cache.withLock { $0[feature] = p }
        return p
    }
}

/// Something the kernel must provide to build a topology: a link kind, a qdisc, a routing or
/// filtering feature.
///
/// ``Plan/kernelFeatures`` derives them from the operations the builder will run, and
/// ``configOptions`` names the kernel configuration options that provide each one, so that
/// `nslab kconfig` can say what a kernel needs to run a topology (for `vng --build --configitem`).
public enum KernelFeature: String, Sendable, Hashable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    /// Network namespaces: every topology.
    case networkNamespaces = "network namespaces"
    /// IPv4 (every topology: loopback, probes, and IPv6 depends on it).
    case ipv4
    /// IPv6: an IPv6 address, route, rule, neighbour or underlay, or an `net.ipv6.*` sysctl
    /// (routers write `net.ipv6.conf.all.forwarding`).
    case ipv6
    /// veth pairs: every link between nodes.
    case veth
    /// Linux bridges (switches, declared bridges).
    case bridge
    /// Bridges that filter VLANs (`vlan_filtering 1`, port VLANs).
    case bridgeVLANFiltering = "bridge VLAN filtering"
    /// VXLAN tunnels and devices.
    case vxlan
    /// macvlan interfaces.
    case macvlan
    /// ipvlan interfaces.
    case ipvlan
    /// 802.1Q VLAN sub-interfaces.
    case vlan
    /// Dummy interfaces.
    case dummy
    /// GRE carrying IP over an IPv4 underlay.
    case gre
    /// GRE carrying Ethernet over an IPv4 underlay.
    case gretap
    /// GRE carrying IP over an IPv6 underlay.
    case ip6gre
    /// GRE carrying Ethernet over an IPv6 underlay.
    case ip6gretap
    /// IPv4 in IPv4.
    case ipip
    /// IPv6 in IPv4.
    case sit
    /// IP in IPv6.
    case ip6tnl
    /// GENEVE endpoints.
    case geneve
    /// WireGuard interfaces.
    case wireguard
    /// VRF devices.
    case vrf
    /// Bonds.
    case bond
    /// Intermediate functional block devices.
    case ifb
    /// tun/tap devices through `/dev/net/tun`.
    case tun
    /// The token bucket filter qdisc.
    case tbf
    /// The hierarchical token bucket qdisc and its classes.
    case htb
    /// The netem qdisc (delay, loss, reordering).
    case netem
    /// The fq_codel qdisc.
    case fqCodel = "fq_codel"
    /// An nftables ruleset (`table inet …` and the other families; the inet family needs IPv6).
    case nftables
    /// IPv4 multipath routes (IPv6 multipath comes with IPv6).
    case ipv4Multipath = "IPv4 multipath routes"
    /// IPv4 policy rules, or IPv4 routes in tables other than `main` and `local`.
    case ipv4PolicyRouting = "IPv4 policy routing"
    /// IPv6 policy rules, or IPv6 routes in tables other than `main` and `local`.
    case ipv6PolicyRouting = "IPv6 policy routing"

    /// The kernel configuration options that provide the feature, with the options they depend
    /// on (so that `vng --configitem` or `olddefconfig` keeps them), e.g. `CONFIG_VXLAN`.
    ///
    /// Each is `y` or `m` in a kernel that has the feature (`m`: the module must be loadable).
    public var configOptions: [String] {
        switch self {
        case .networkNamespaces: ["CONFIG_NET_NS"]
        case .ipv4: ["CONFIG_INET"]
        case .ipv6: ["CONFIG_IPV6"]
        case .veth: ["CONFIG_VETH"]
        case .bridge: ["CONFIG_BRIDGE"]
        case .bridgeVLANFiltering: ["CONFIG_BRIDGE", "CONFIG_VLAN_8021Q", "CONFIG_BRIDGE_VLAN_FILTERING"]
        case .vxlan: ["CONFIG_VXLAN"]
        case .macvlan: ["CONFIG_MACVLAN"]
        case .ipvlan: ["CONFIG_IPVLAN"]
        case .vlan: ["CONFIG_VLAN_8021Q"]
        case .dummy: ["CONFIG_DUMMY"]
        case .gre, .gretap: ["CONFIG_NET_IPGRE_DEMUX", "CONFIG_NET_IPGRE"]
        case .ip6gre, .ip6gretap: ["CONFIG_IPV6", "CONFIG_NET_IPGRE_DEMUX", "CONFIG_IPV6_GRE"]
        case .ipip: ["CONFIG_NET_IPIP"]
        case .sit: ["CONFIG_IPV6", "CONFIG_IPV6_SIT"]
        case .ip6tnl: ["CONFIG_IPV6", "CONFIG_IPV6_TUNNEL"]
        case .geneve: ["CONFIG_GENEVE"]
        case .wireguard: ["CONFIG_WIREGUARD"]
        case .vrf: ["CONFIG_NET_VRF"]
        case .bond: ["CONFIG_BONDING"]
        case .ifb: ["CONFIG_IFB"]
        case .tun: ["CONFIG_TUN"]
        case .tbf: ["CONFIG_NET_SCHED", "CONFIG_NET_SCH_TBF"]
        case .htb: ["CONFIG_NET_SCHED", "CONFIG_NET_SCH_HTB"]
        case .netem: ["CONFIG_NET_SCHED", "CONFIG_NET_SCH_NETEM"]
        case .fqCodel: ["CONFIG_NET_SCHED", "CONFIG_NET_SCH_FQ_CODEL"]
        case .nftables: ["CONFIG_IPV6", "CONFIG_NETFILTER", "CONFIG_NF_TABLES", "CONFIG_NF_TABLES_INET"]
        case .ipv4Multipath: ["CONFIG_IP_ADVANCED_ROUTER", "CONFIG_IP_ROUTE_MULTIPATH"]
        case .ipv4PolicyRouting: ["CONFIG_IP_ADVANCED_ROUTER", "CONFIG_IP_MULTIPLE_TABLES"]
        case .ipv6PolicyRouting: ["CONFIG_IPV6", "CONFIG_IPV6_MULTIPLE_TABLES"]
        }
    }

    /// The name `KernelFeatures.probe(_:)` in NetnsKit takes for it (and scenarios list in
    /// `requires`); nil for the features nothing probes.
    public var probeName: String? {
        switch self {
        case .veth, .bridge, .vxlan, .macvlan, .ipvlan, .vlan, .dummy, .gre, .gretap, .ipip, .sit, .ip6tnl,
             .geneve, .wireguard, .vrf, .bond, .ifb, .tbf, .htb, .netem, .fqCodel, .nftables, .bridgeVLANFiltering:
            rawValue
        case .networkNamespaces, .ipv4, .ipv6, .ip6gre, .ip6gretap, .tun, .ipv4Multipath, .ipv4PolicyRouting,
             .ipv6PolicyRouting:
            nil
        }
    }

    /// The feature a probe name or a scenario's `requires` entry names (`vxlan`, `tbf`, `nftables`).
    public init?(probeName: String) {
        guard let f = KernelFeature.allCases.first(where: { $0.probeName == probeName }) else { return nil }
        self = f
    }

    /// The feature as messages name it (`bridge VLAN filtering`, `vxlan`).
    public var description: String { rawValue }

    /// Orders features as they are declared here.
    public static func < (a: KernelFeature, b: KernelFeature) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The sorted, unique configuration options of a set of features.
    public static func configOptions<S: Sequence>(of features: S) -> [String] where S.Element == KernelFeature {
        Array(Set(features.flatMap(\.configOptions))).sorted()
    }
}

extension Plan {
    /// What the kernel must provide to run this plan: network namespaces and IPv4 always, plus
    /// what each operation needs.
    public var kernelFeatures: Set<KernelFeature> {
        steps.reduce(into: [.networkNamespaces, .ipv4]) { $0.formUnion($1.operation.kernelFeatures) }
    }
}

extension PlanOperation {
    /// What the kernel must provide for this operation.
    ///
    /// One exhaustive switch over the operations and their kinds: a new operation or kind does
    /// not compile until it says what it needs.
    public var kernelFeatures: Set<KernelFeature> {
        switch self {
        case .createNamespace, .linkUp, .setMaster:
            return []
        case .setSysctl(let key, _), .setInterfaceSysctl(_, let key, _):
            return key.hasPrefix("net.ipv6.") ? [.ipv6] : []
        case .addVeth:
            return [.veth]
        case .addBridge(let b):
            return b.vlanFiltering ? [.bridge, .bridgeVLANFiltering] : [.bridge]
        case .addVXLAN(let v):
            return (v.local ?? v.remote)?.isIPv6 == true ? [.vxlan, .ipv6] : [.vxlan]
        case .addMacvlan:
            return [.macvlan]
        case .addVLAN:
            return [.vlan]
        case .addDummy:
            return [.dummy]
        case .addDevice(_, let kind, _):
            switch kind {
            case .vrf: return [.vrf]
            case .bond: return [.bond]
            case .ipvlan: return [.ipvlan]
            case .geneve(let g): return g.remote.isIPv6 ? [.geneve, .ipv6] : [.geneve]
            case .ifb: return [.ifb]
            case .tun, .tap: return [.tun]
            }
        case .addTunnel(let t):
            let kind: KernelFeature = switch t.kind {
            case .gre: .gre
            case .gretap: .gretap
            case .ip6gre: .ip6gre
            case .ip6gretap: .ip6gretap
            case .ipip: .ipip
            case .sit: .sit
            case .ip6tnl: .ip6tnl
            }
            return t.local.isIPv6 ? [kind, .ipv6] : [kind]
        case .setBridgeVLAN:
            return [.bridge, .bridgeVLANFiltering]
        case .setBridgePort:
            return [.bridge]
        case .addFDB(let f):
            return f.vlan != nil ? [.bridge, .bridgeVLANFiltering] : (f.dst?.isIPv6 == true ? [.ipv6] : [])
        case .addAddress(_, let prefix, _, _, _):
            return prefix.address.isIPv6 ? [.ipv6] : []
        case .addNeighbor(_, let address, _):
            return address.isIPv6 ? [.ipv6] : []
        case .addRoute(let r), .removeRoute(let r):
            var f: Set<KernelFeature> = []
            // Without multiple tables the kernel files a route for any other table under main.
            let otherTable = r.table != RouteTable.main && r.table != RouteTable.local
            switch r.family {
            case .ipv4:
                // RTA_MULTIPATH, even with one next hop, needs CONFIG_IP_ROUTE_MULTIPATH.
                if !r.nexthops.isEmpty { f.insert(.ipv4Multipath) }
                if otherTable { f.insert(.ipv4PolicyRouting) }
                // RFC 5549: an IPv6 gateway of an IPv4 route.
                if r.gateway?.isIPv6 == true || r.nexthops.contains(where: { $0.gateway?.isIPv6 == true }) { f.insert(.ipv6) }
            case .ipv6:
                f.insert(.ipv6)
                if otherTable { f.insert(.ipv6PolicyRouting) }
            }
            return f
        case .addRule(let r):
            // An l3mdev rule needs CONFIG_NET_L3_MASTER_DEV, which VRF selects.
            let vrf: Set<KernelFeature> = r.l3mdev ? [.vrf] : []
            switch r.family {
            case .ipv4: return vrf.union([.ipv4PolicyRouting])
            case .ipv6: return vrf.union([.ipv6, .ipv6PolicyRouting])
            }
        case .addQdisc(_, let kind, _, _):
            switch kind {
            case .tbf: return [.tbf]
            case .htb: return [.htb]
            case .netem: return [.netem]
            }
        case .loadFirewall:
            return [.nftables]
        }
    }
}

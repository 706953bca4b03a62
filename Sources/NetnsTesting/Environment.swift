import Glibc
import CNetlink
import NetnsKit
import Synchronization

/// What this process and kernel can do, probed once.
public enum NetnsTestEnvironment {
    /// Why labs cannot be built here, or nil when they can (tried for real: a namespace and a veth).
    public static let missingPrivileges: String? = {
        do {
            let ns = try NetworkNamespace.create(label: "privilege-probe")
            defer { ns.close() }
            try ns.socket.execute(.newLink(LinkSpec(name: "probe0", kind: .veth(peer: VethPeer(name: "probe1")))))
            return nil
        } catch {
            let missing = Capabilities.missing()
            if !missing.isEmpty { return MissingCapabilitiesError(missing: missing).description }
            return "cannot create a network namespace with a veth: \(error)"
        }
    }()

    private static let kinds = Mutex<[String: Bool]>([:])

    /// True when the kernel can create a link of this kind (probed in a scratch namespace, cached).
    public static func kernelHas(linkKind kind: String) -> Bool {
        if let v = kinds.withLock({ $0[kind] }) { return v }
        let v = probe(kind)
        kinds.withLock { $0[kind] = v }
        return v
    }

    private static let qdiscKinds = Mutex<[String: Bool]>([:])

    /// True when the kernel has this qdisc (`"netem"`, `"tbf"`, `"htb"`), probed on a scratch veth.
    public static func kernelHas(qdisc kind: String) -> Bool {
        if let v = qdiscKinds.withLock({ $0[kind] }) { return v }
        var v = false
        if missingPrivileges == nil, let ns = try? NetworkNamespace.create(label: "qdisc-probe") {
            defer { ns.close() }
            let spec: QdiscSpec? = switch kind {
            case "netem": .netem(delayMicroseconds: 1000, jitterMicroseconds: 0, lossPercent: 0, limitPackets: 1000)
            case "tbf": .tbf(rateBitsPerSecond: 1_000_000, burstBytes: 10_000, limitBytes: 10_000)
            case "htb": .htb(defaultClass: 1, classes: [])
            default: nil
            }
            if let spec, (try? ns.socket.execute(.newLink(LinkSpec(name: "qp0", index: 40, kind: .veth(peer: VethPeer(name: "qp1")))))) != nil {
                v = (try? ns.socket.execute(.newQdisc(index: 40, spec))) != nil
            }
        }
        qdiscKinds.withLock { $0[kind] = v }
        return v
    }

    /// True when bridges can filter VLANs (CONFIG_BRIDGE_VLAN_FILTERING).
    public static let kernelHasBridgeVLANFiltering: Bool = {
        guard missingPrivileges == nil, let ns = try? NetworkNamespace.create(label: "vlan-filter-probe") else { return false }
        defer { ns.close() }
        return (try? ns.socket.execute(.newLink(LinkSpec(name: "br0", kind: .bridge(stp: false, vlanFiltering: true))))) != nil
    }()

    private static func probe(_ kind: String) -> Bool {
        guard missingPrivileges == nil, let ns = try? NetworkNamespace.create(label: "kind-probe") else { return false }
        defer { ns.close() }
        let lk: LinkKind
        switch kind {
        case "veth": lk = .veth(peer: VethPeer(name: "kp1"))
        case "bridge": lk = .bridge()
        case "vxlan": lk = .vxlan(VXLANOptions(vni: 1))
        case "dummy": lk = .dummy
        case "ifb": lk = .ifb
        case "vrf": lk = .vrf(table: 10)
        case "bond": lk = .bond(mode: 0)
        case "wireguard": lk = .wireguard
        case "gre": lk = .gre(TunnelOptions(local: IPAddress("10.255.0.1"), remote: IPAddress("10.255.0.2")))
        case "gretap": lk = .gretap(TunnelOptions(local: IPAddress("10.255.0.1"), remote: IPAddress("10.255.0.2")))
        case "ipip": lk = .ipip(TunnelOptions(local: IPAddress("10.255.0.1"), remote: IPAddress("10.255.0.2")))
        case "sit": lk = .sit(TunnelOptions(local: IPAddress("10.255.0.1"), remote: IPAddress("10.255.0.2")))
        case "ip6tnl": lk = .ip6tnl(TunnelOptions(local: IPAddress("fd00::1"), remote: IPAddress("fd00::2")))
        case "geneve": lk = .geneve(vni: 1, remote: IPAddress("10.255.0.2")!)
        case "vlan", "macvlan", "ipvlan":
            // Needs a parent: a veth first.
            guard (try? ns.socket.execute(.newLink(LinkSpec(name: "kp0", index: 50, kind: .veth(peer: VethPeer(name: "kp1")))))) != nil
            else { return false }
            let sub: LinkKind = kind == "vlan" ? .vlan(id: 10) : kind == "macvlan" ? .macvlan(mode: .bridge) : .ipvlan(mode: 0)
            return (try? ns.socket.execute(.newLink(LinkSpec(name: "kp2", kind: sub, parent: 50)))) != nil
        default: return false
        }
        return (try? ns.socket.execute(.newLink(LinkSpec(name: "kp0", kind: lk)))) != nil
    }
}

/// A small mutex for non-Sendable-free state (avoids Foundation).
final class NSLockLite: @unchecked Sendable {
    private let m = Mutex<Void>(())
    func withLock<T>(_ body: () throws -> T) rethrows -> T { try m.withLock { _ in try body() } }
}

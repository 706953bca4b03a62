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

    /// True when the kernel can create a link of this kind (probed once; see ``KernelFeatures``).
    public static func kernelHas(linkKind kind: String) -> Bool {
        missingPrivileges == nil && KernelFeatures.shared.link(kind).supported
    }

    /// True when the kernel has this qdisc (`"netem"`, `"tbf"`, `"htb"`).
    public static func kernelHas(qdisc kind: String) -> Bool {
        missingPrivileges == nil && KernelFeatures.shared.qdisc(kind).supported
    }

    /// True when bridges can filter VLANs (CONFIG_BRIDGE_VLAN_FILTERING).
    public static var kernelHasBridgeVLANFiltering: Bool {
        missingPrivileges == nil && KernelFeatures.shared.bridgeVLANFiltering().supported
    }
}

/// A small mutex for non-Sendable-free state (avoids Foundation).
final class NSLockLite: @unchecked Sendable {
    private let m = Mutex<Void>(())
    func withLock<T>(_ body: () throws -> T) rethrows -> T { try m.withLock { _ in try body() } }
}

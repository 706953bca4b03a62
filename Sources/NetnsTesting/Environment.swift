import Namespaces
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

    /// True when the kernel can create a link of this kind (probed once; see `KernelFeatures`).
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

extension NetnsTestEnvironment {
    /// What a test needs that this machine may lack.
    public enum Requirement: Sendable {
        /// Building labs (`NETNSKIT_REQUIRE_PRIVILEGES=1` makes its absence a failure).
        case privileges
        /// A kernel feature (`NETNSKIT_REQUIRE_FEATURES=1` makes its absence a failure).
        case features

        /// The environment variable that turns a skip for this requirement into a failure.
        public var variable: String {
            switch self {
            case .privileges: "NETNSKIT_REQUIRE_PRIVILEGES"
            case .features: "NETNSKIT_REQUIRE_FEATURES"
            }
        }

        /// True when the variable is set to `1` (or `true`, `yes`): a CI job that must test
        /// for real sets it, so a runner that lost its capabilities does not go green.
        public var isRequired: Bool {
            guard let v = ProcessFacts.environment(variable) else { return false }
            return ["1", "true", "yes"].contains(v.lowercased())
        }
    }

    /// Whether a test may run: true when nothing is missing; false (skip) when something is
    /// and the requirement is not enforced; throws ``RequirementError`` when it is.
    static func permits(missing: String?, _ requirement: Requirement) throws -> Bool {
        guard let missing else { return true }
        if requirement.isRequired { throw RequirementError(reason: missing, requirement: requirement) }
        return false
    }

    /// The reason a test cannot run here, and which requirement it is: privileges first
    /// (without them no feature can be probed), then the feature.
    static func missing(feature supported: Bool, _ what: String) -> (String, Requirement)? {
        if let p = missingPrivileges { return (p, .privileges) }
        return supported ? nil : (what, .features)
    }
}

/// A test that would have been skipped for lack of privileges or of a kernel feature, while
/// `NETNSKIT_REQUIRE_PRIVILEGES` or `NETNSKIT_REQUIRE_FEATURES` says it must run.
public struct RequirementError: Error, Sendable, CustomStringConvertible {
    /// Why the test could not run: the skip reason it would have had.
    public var reason: String
    /// The requirement (privileges or kernel features) whose variable turned the skip into a failure.
    public var requirement: NetnsTestEnvironment.Requirement
    /// The reason, followed by the environment variable that made it a failure.
    public var description: String { "\(reason) (a failure, not a skip: \(requirement.variable) is set)" }
}

/// A small mutex for non-Sendable-free state (avoids Foundation).
final class NSLockLite: @unchecked Sendable {
    private let m = Mutex<Void>(())
    func withLock<T>(_ body: () throws -> T) rethrows -> T { try m.withLock { _ in try body() } }
}

/// `NETNSKIT_KEEP_FAILED`: keep the lab of every failed test (see ``LabTrait/keepOnFailure``).
enum KeepFailed {
    /// True when `NETNSKIT_KEEP_FAILED` is `1` (or `true`, `yes`).
    static var isRequested: Bool {
        guard let v = ProcessFacts.environment("NETNSKIT_KEEP_FAILED") else { return false }
        return ["1", "true", "yes"].contains(v.lowercased())
    }
}

/// `NETNSKIT_RECORD_EVENTS`: record the rtnetlink events of every test's lab (see ``LabTrait/recordEvents``).
enum EventRecordingRequest {
    /// True when `NETNSKIT_RECORD_EVENTS` is `1` (or `true`, `yes`).
    static var isRequested: Bool {
        guard let v = ProcessFacts.environment("NETNSKIT_RECORD_EVENTS") else { return false }
        return ["1", "true", "yes"].contains(v.lowercased())
    }
}

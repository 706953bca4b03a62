import Glibc
import CNetlink
import CLibcap

/// The privileges building topologies needs, checked through libcap.
public enum Capabilities {
    /// A capability NetnsKit needs.
    public enum Capability: String, Sendable, CaseIterable {
        /// `CAP_NET_ADMIN`: create links, addresses, routes and qdiscs.
        case netAdmin = "CAP_NET_ADMIN"
        /// `CAP_SYS_ADMIN`: create and enter namespaces, mount.
        case sysAdmin = "CAP_SYS_ADMIN"
        /// `CAP_NET_RAW`: raw and packet sockets.
        case netRaw = "CAP_NET_RAW"

        var value: cap_value_t {
            switch self {
            case .netAdmin: return cap_value_t(CAP_NET_ADMIN)
            case .sysAdmin: return cap_value_t(CAP_SYS_ADMIN)
            case .netRaw: return cap_value_t(CAP_NET_RAW)
            }
        }
    }

    /// True when the capability is in this process's effective set.
    public static func has(_ c: Capability) -> Bool {
        guard let caps = cap_get_proc() else { return false }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        var v = cap_flag_value_t(rawValue: 0)
        guard cap_get_flag(caps, c.value, CAP_EFFECTIVE, &v) == 0 else { return false }
        return v == CAP_SET
    }

    /// The required capabilities that are missing from the effective set.
    public static func missing(_ needed: [Capability] = [.netAdmin, .sysAdmin]) -> [Capability] {
        needed.filter { !has($0) }
    }

    /// libcap's text form of the process capabilities, e.g. `=ep`.
    public static func text() -> String {
        guard let caps = cap_get_proc() else { return "?" }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        guard let t = cap_to_text(caps, nil) else { return "?" }
        defer { cap_free(t) }
        return String(decoding: UnsafeBufferPointer(start: UnsafeRawPointer(t).assumingMemoryBound(to: UInt8.self), count: strlen(t)), as: UTF8.self)
    }

    /// Throws a ``MissingCapabilitiesError`` naming what is missing and how to get it.
    public static func require(_ needed: [Capability] = [.netAdmin, .sysAdmin]) throws {
        let m = missing(needed)
        if !m.isEmpty { throw MissingCapabilitiesError(missing: m) }
    }

    /// True when this process runs in a user namespace other than the initial one.
    public static var inUserNamespace: Bool {
        guard let fd = fopen("/proc/self/uid_map", "r") else { return false }
        defer { fclose(fd) }
        var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0
        // The initial namespace maps 0 0 4294967295.
        return !(fscanfUIDMap(fd, &a, &b, &c) && a == 0 && b == 0 && c == 4294967295)
    }

    private static func fscanfUIDMap(_ f: UnsafeMutablePointer<FILE>, _ a: inout UInt64, _ b: inout UInt64, _ c: inout UInt64) -> Bool {
        var line = [CChar](repeating: 0, count: 256)
        guard fgets(&line, 256, f) != nil else { return false }
        let parts = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        guard parts.count == 3, let x = UInt64(parts[0]), let y = UInt64(parts[1]), let z = UInt64(parts[2]) else { return false }
        a = x; b = y; c = z
        return true
    }
}

/// The process lacks capabilities NetnsKit needs; the message says how to get them.
public struct MissingCapabilitiesError: Error, Sendable, CustomStringConvertible {
    /// The needed capabilities the process lacks.
    public var missing: [Capabilities.Capability]
    /// An error naming the `missing` capabilities.
    public init(missing: [Capabilities.Capability]) { self.missing = missing }
    /// The missing capabilities and how to run with them.
    public var description: String {
        let names = missing.map(\.rawValue).joined(separator: " and ")
        let adds = missing.map { "--cap-add \($0.rawValue.dropFirst(4))" }.joined(separator: " ")
        return """
        missing \(names) (needed to create network namespaces and links). Either:
          - run as root (sudo), or
          - in a container: docker/podman run \(adds) …, or
          - rootless: nslab re-executes itself in a user namespace; for other programs wrap them: unshare --user --map-root-user --net <command>
        """
    }
}

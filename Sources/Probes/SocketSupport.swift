import Glibc
import CNetlink
import Namespaces
import Netlink
import SystemPackage

/// A failed probe operation: what was attempted, where, and errno (the kernel edge's one
/// error type; probes, capture and node sockets throw it).
public typealias ProbeError = SystemCallError

/// A socket address for an IP address and port, in the kernel's layout.
struct SocketAddress {
    var storage = sockaddr_storage()
    var length: socklen_t

    init(_ address: IPAddress, port: UInt16 = 0) {
        let b = address.bytes
        switch address {
        case .v4:
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: b) }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: sin) { dst.copyMemory(from: $0) } }
        case .v6:
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: b) }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: sin6) { dst.copyMemory(from: $0) } }
        }
    }

    init() { length = socklen_t(MemoryLayout<sockaddr_storage>.size) }

    /// The address and port held, when it is an IPv4 or IPv6 address.
    var endpoint: (IPAddress, UInt16)? {
        withUnsafeBytes(of: storage) { raw -> (IPAddress, UInt16)? in
            let family = raw.load(as: sa_family_t.self)
            let port = UInt16(raw[2]) << 8 | UInt16(raw[3])
            if family == sa_family_t(AF_INET) {
                return IPAddress(bytes: Array(raw[4..<8])).map { ($0, port) }
            } else if family == sa_family_t(AF_INET6) {
                return IPAddress(bytes: Array(raw[8..<24])).map { ($0, port) }
            }
            return nil
        }
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    mutating func withMutableSockaddr<R>(_ body: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> R) -> R {
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, &len) }
        }
        length = len
        return r
    }
}

/// Socket helpers shared by the probes. Creation happens inside a namespace (on the
/// namespace worker); everything else happens on the caller's own thread.
enum Sock {
    static func setInt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32, _ what: String) throws(SystemCallError) {
        var v = value
        try sys("setsockopt(\(what))") { setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) }
    }

    static func getInt(_ fd: Int32, _ level: Int32, _ name: Int32) -> Int32? {
        var v: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, level, name, &v, &len) == 0 ? v : nil
    }

    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    static func bind(_ fd: Int32, _ address: IPAddress, port: UInt16, _ what: String) throws(SystemCallError) {
        let sa = SocketAddress(address, port: port)
        try sys(what) { sa.withSockaddr { Glibc.bind(fd, $0, $1) } }
    }

    /// Creates a socket inside `ns`; `configure` runs there too (setsockopt, bind), and the
    /// descriptor is closed if it throws.
    static func open(in ns: NetworkNamespace, family: Int32, type: Int32, proto: Int32, what: String,
                     configure: (Int32) throws -> Void = { _ in }) throws -> Int32 {
        try ns.run {
            let fd = try sys("socket(\(what)) in ns \(ns.label)") {
                socket(family, type | Int32(SOCK_CLOEXEC.rawValue), proto)
            }
            do { try configure(fd) } catch { close(fd); throw error }
            return fd
        }
    }

    /// Waits up to `seconds` for `events` on `fd`. Returns the revents, or 0 on timeout.
    static func wait(_ fd: Int32, _ events: Int16, seconds: Double) -> Int16 {
        let deadline = monotonicNow() + max(0, seconds)
        var p = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let left = deadline - monotonicNow()
            let ms = left <= 0 ? 0 : Int32(min(left, 3600) * 1000) + 1
            let n = poll(&p, 1, ms)
            if n > 0 { return p.revents }
            if n == 0 { return 0 }
            if Glibc.errno != EINTR { return Int16(POLLERR) }
        }
    }

    static func family(_ a: IPAddress) -> Int32 { a.isIPv4 ? AF_INET : AF_INET6 }
}

/// Kernel constants Glibc does not export under these names.
enum K {
    static let ipMTUDiscover: Int32 = 10       // IP_MTU_DISCOVER
    static let ipMTU: Int32 = 14               // IP_MTU
    static let ipv6MTUDiscover: Int32 = 23     // IPV6_MTU_DISCOVER
    static let ipv6MTU: Int32 = 24             // IPV6_MTU
    static let pmtuDiscDont: Int32 = 0         // IP_PMTUDISC_DONT
    static let pmtuDiscDo: Int32 = 2           // IP_PMTUDISC_DO
    static let icmpFilter: Int32 = 1           // ICMP_FILTER (SOL_RAW)
    static let icmp6Filter: Int32 = 1          // ICMP6_FILTER (SOL_ICMPV6)
    static let solRaw: Int32 = 255             // SOL_RAW
    static let solICMPv6: Int32 = 58           // SOL_ICMPV6
    static let ethPAll: UInt16 = 0x0003        // ETH_P_ALL
    static let packetAddMembership: Int32 = 1  // PACKET_ADD_MEMBERSHIP
    static let solPacket: Int32 = 263          // SOL_PACKET
}

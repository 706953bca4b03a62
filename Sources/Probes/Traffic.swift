import Glibc
import Namespaces
import Netlink
import SystemPackage

/// The packets ``sendPackets(to:in:protocol:count:source:size:)`` sends.
public enum TrafficProtocol: Sendable, Hashable, CustomStringConvertible {
    /// UDP datagrams to this port.
    case udp(port: UInt16)
    /// ICMP (or ICMPv6) echo requests; replies are not waited for.
    case icmp

    /// `udp port 9` or `icmp`.
    public var description: String {
        switch self {
        case .udp(let p): "udp port \(p)"
        case .icmp: "icmp"
        }
    }
}

/// Sends `count` packets from a namespace to `address`, back to back, without waiting for any
/// answer: traffic for the checks that follow (counters, captures, conntrack).
///
/// - Parameters:
///   - address: the destination.
///   - ns: the namespace to send from.
///   - proto: UDP to a port, or ICMP echo requests.
///   - count: how many packets (1…10,000).
///   - source: a local address to send from.
///   - size: payload bytes per packet (0…65,000; UDP payload or ICMP echo payload).
/// - Returns: how many packets the kernel accepted (all of them, or it throws).
/// - Throws: `ArgumentError` for a count or size out of range; ``ProbeError`` for a socket that
///   cannot be opened or bound, or the first `sendto` that fails (its errno: `ENETUNREACH`, `EACCES`, …).
///
/// Equivalent to `ip netns exec NS ping -c COUNT -i 0 -W 0 [-I SRC] ADDRESS` (ICMP) or a loop of
/// `nc -u -w0 [-s SRC] ADDRESS PORT` (UDP).
public func sendPackets(to address: IPAddress, in ns: NetworkNamespace, protocol proto: TrafficProtocol, count: Int,
                        source: IPAddress? = nil, size: Int = 56) throws -> Int {
    guard (1...10_000).contains(count) else { throw ArgumentError("packet count \(count)", "must be 1...10000") }
    guard (0...65_000).contains(size) else { throw ArgumentError("packet size \(size)", "must be 0...65000 bytes") }
    if let source, source.isIPv4 != address.isIPv4 {
        throw SystemCallError("send to \(address) from \(source)", errno: .addressFamilyNotSupported,
                              reason: "source and destination families differ")
    }
    switch proto {
    case .udp(let port):
        let s = try UDPSocket.bind(port: 0, address: source ?? (address.isIPv4 ? IPAddress("0.0.0.0")! : IPAddress("::")!), in: ns)
        let payload = [UInt8](repeating: 0x6e, count: size)
        // A full send buffer (packets queued while a neighbour is resolved) is waited out, up to 5 s in all.
        let deadline = monotonicNow() + 5
        for _ in 0..<count {
            while true {
                do {
                    try s.send(payload, to: address, port: port)
                    break
                } catch let e as SystemCallError where e.errno == .resourceTemporarilyUnavailable && monotonicNow() < deadline {
                    _ = Sock.wait(s.fd, Int16(POLLOUT), seconds: min(0.1, deadline - monotonicNow()))
                }
            }
        }
        return count
    case .icmp:
        let o = Pinger.Options(count: count, timeout: 0, interval: 0, source: source, size: size, dontFragment: false, ttl: nil)
        let r = try Pinger.run(address, in: ns, o)
        if r.sent < count, let f = r.failure, f != .timeout {
            throw SystemCallError("sending \(count) ICMP echo requests to \(address) in ns \(ns.label)", errno: .ioError,
                                  reason: "\(r.sent) sent, then \(f)")
        }
        return r.sent
    }
}

import Glibc
import CNetlink
import Namespaces
import Netlink
import SystemPackage

/// What a TCP connection with a request, or a UDP exchange, found: how it ended and what came back.
public struct ExchangeOutcome: Sendable, Hashable {
    /// How the connection (TCP) or the datagram (UDP) fared: `.open` when connected (TCP) or
    /// answered (UDP), `.refused` for a RST or an ICMP port unreachable, `.timedOut` for no answer.
    public var result: TCPConnectResult
    /// The bytes received (empty when none came).
    public var reply: [UInt8]
    /// True when the TCP peer closed its side (the reply is complete); false when the time ran out first.
    public var complete: Bool

    /// An outcome with what came back.
    public init(result: TCPConnectResult, reply: [UInt8], complete: Bool) {
        self.result = result; self.reply = reply; self.complete = complete
    }
}

/// Connects to a TCP service, sends `payload`, half-closes, and reads what comes back until the
/// peer closes or `timeout` passes; unlike ``tcpRequest(to:port:payload:in:timeout:maxReply:)`` it
/// reports a refused or silent connection as an outcome, and keeps a partial reply.
///
/// Equivalent to `printf PAYLOAD | ip netns exec NS nc -N -w TIMEOUT ADDRESS PORT`.
/// - Throws: ``ProbeError`` when the socket cannot be set up, or `send`/`recv` fail after connecting.
public func tcpExchange(to address: IPAddress, port: UInt16, payload: [UInt8], in ns: NetworkNamespace,
                        timeout: Double = 1, maxReply: Int = 65_536) async throws -> ExchangeOutcome {
    try await onOwnThread {
        let what = "TCP exchange with \(address.bracketed):\(port) in ns \(ns.label)"
        let deadline = monotonicNow() + timeout
        let fd: Int32
        switch try TCPClient.connect(to: address, port: port, in: ns, source: nil, timeout: timeout) {
        case .connected(let f): fd = f
        case .failed(let r): return ExchangeOutcome(result: r, reply: [], complete: false)
        }
        defer { close(fd) }
        if !payload.isEmpty { try writeAll(fd, payload, deadline: deadline, what: what) }
        _ = shutdown(fd, Int32(SHUT_WR))
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65_536)
        while out.count < maxReply {
            let left = deadline - monotonicNow()
            if left <= 0 { return ExchangeOutcome(result: .open, reply: out, complete: false) }
            if Sock.wait(fd, Int16(POLLIN), seconds: left) == 0 { continue }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, Swift.min($0.count, maxReply - out.count), 0) }
            if n > 0 { out += buf[0..<n]; continue }
            if n == 0 { break }
            let e = errno
            if e == EAGAIN || e == EINTR { continue }
            // A reset after connecting: what came so far is the reply.
            if e == ECONNRESET { return ExchangeOutcome(result: .open, reply: out, complete: false) }
            throw SystemCallError("\(what): recv", errno: Errno(rawValue: e))
        }
        return ExchangeOutcome(result: .open, reply: out, complete: true)
    }
}

/// Sends one datagram to a UDP service from a connected socket and waits for one answer:
/// `.open` with the reply, `.refused` when an ICMP port unreachable came back, `.timedOut`
/// when nothing came, `.unreachable` with another errno (an ICMP host unreachable, no route).
///
/// Equivalent to `printf PAYLOAD | ip netns exec NS nc -u -w TIMEOUT ADDRESS PORT`.
/// - Throws: ``ProbeError`` when the socket cannot be set up.
public func udpTry(to address: IPAddress, port: UInt16, payload: [UInt8], in ns: NetworkNamespace,
                   timeout: Double = 1) async throws -> ExchangeOutcome {
    do {
        let reply = try await udpExchange(to: address, port: port, payload: payload, in: ns, timeout: timeout)
        return ExchangeOutcome(result: .open, reply: reply, complete: true)
    } catch let e as SystemCallError {
        switch e.errno {
        case .connectionRefused: return ExchangeOutcome(result: .refused, reply: [], complete: false)
        case .timedOut: return ExchangeOutcome(result: .timedOut, reply: [], complete: false)
        default: return ExchangeOutcome(result: .unreachable(errno: e.errno), reply: [], complete: false)
        }
    }
}

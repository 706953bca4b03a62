import Namespaces
import Netlink

// Expectations on top of the in-process probes (raw ICMP, TCP connect, echo server).
extension Lab {
    struct PingOutcome {
        var ok: Bool; var reason: UnreachableReason?; var text: String
        /// No answer at all (a timeout), as opposed to a reply or an ICMP or local error.
        var silent = false
        var rtt: Duration? = nil
    }
    struct TCPOutcome { var open: Bool; var text: String }

    /// One ping, retried once after a plain timeout (a first packet can be lost while a
    /// neighbour entry is resolved); DF set when a size is given.
    func probePing(from: String, to: IPAddress, size: Int?) async throws -> PingOutcome {
        let ns = try node(from).namespace
        var result = try await ping(to, in: ns, count: 1, timeout: 1, size: size ?? 56, dontFragment: size != nil)
        if result.failure == .timeout {
            result = try await ping(to, in: ns, count: 1, timeout: 1, size: size ?? 56, dontFragment: size != nil)
        }
        if result.succeeded {
            let rtt = result.rtts.first.map { " in \(Double(Int($0 * 1e6)) / 1000) ms" } ?? ""
            return PingOutcome(ok: true, reason: nil, text: "echo reply\(rtt)",
                               rtt: result.rtts.first.map { .microseconds(Int64($0 * 1e6)) })
        }
        let failure = result.failure ?? .timeout
        return PingOutcome(ok: false, reason: Self.unreachableReason(failure, to: to), text: "\(failure)",
                           silent: failure == .timeout)
    }

    /// The reason a ping failure stands for.
    static func unreachableReason(_ failure: PingFailure, to: IPAddress) -> UnreachableReason {
        switch failure {
        case .noRoute: return .noRoute
        case .blackholed: return .blackholed
        case .prohibited: return .prohibited
        case .hostUnreachable, .timeExceeded: return .unreachable
        case .unreachable(let code, _):
            // IPv4 codes 9, 10, 13 and ICMPv6 code 1 are "administratively prohibited".
            let prohibited = to.isIPv4 ? [9, 10, 13].contains(code) : code == 1
            return prohibited ? .prohibited : .unreachable
        case .messageTooLong: return .tooBig
        case .timeout, .error: return .timeout
        }
    }

    /// A TCP connect; with `startListener`, an echo server listens on `port` in the node owning
    /// the address while it runs (unless something there already listens).
    func probeTCP(from: String, to: IPAddress, port: UInt16, startListener: Bool) async throws -> TCPOutcome {
        var server: EchoServer?
        if startListener, let owner = owner(of: to) {
            server = try? EchoServer.start(in: try owner.namespace, port: port, proto: .tcp, address: to, lifetime: 10)
        }
        defer { server?.stop() }
        let r = try await tcpConnect(to: to, port: port, in: try node(from).namespace, timeout: 1)
        switch r {
        case .open: return TCPOutcome(open: true, text: "connection accepted")
        case .refused: return TCPOutcome(open: false, text: "connection refused")
        case .timedOut: return TCPOutcome(open: false, text: "no answer (dropped)")
        case .unreachable(let e): return TCPOutcome(open: false, text: "unreachable (\(ErrnoNames.name(e)))")
        }
    }
}

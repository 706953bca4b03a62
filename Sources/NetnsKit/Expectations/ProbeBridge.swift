import Namespaces
import Netlink

// Interim probes built on iputils `ping`; replaced by the in-process probes.
extension Lab {
    struct PingOutcome { var ok: Bool; var reason: UnreachableReason?; var text: String }
    struct TCPOutcome { var open: Bool; var text: String }

    func probePing(from: String, to: IPAddress, size: Int?) async throws -> PingOutcome {
        var argv = ["ping", to.isIPv6 ? "-6" : "-4", "-c1", "-W1", "-n"]
        if let size { argv += ["-s", "\(size)", "-M", "do"] }
        argv.append("\(to)")
        let r = try await node(from).run(argv, timeout: 5)
        let text = (r.output + r.errorOutput)
        if r.status == 0 { return PingOutcome(ok: true, reason: nil, text: "echo reply") }
        let reason: UnreachableReason
        if text.contains("Network is unreachable") { reason = .noRoute }
        else if text.contains("Invalid argument") { reason = .blackholed }
        else if text.contains("Packet filtered") || text.contains("Permission denied") || text.contains("Prohibited")
            || text.contains("ping broadcast") { reason = .prohibited } // EACCES from connect(): a local prohibit route
        else if text.contains("Unreachable") || text.contains("No route to host") { reason = .unreachable }
        else { reason = .timeout }
        return PingOutcome(ok: false, reason: reason, text: reason.rawValue)
    }

    func probeTCP(from: String, to: IPAddress, port: UInt16) async throws -> TCPOutcome {
        TCPOutcome(open: false, text: "TCP probes are not available yet")
    }
}

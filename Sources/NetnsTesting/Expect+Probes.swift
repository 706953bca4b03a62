import NetnsKit
import Testing

// Swift Testing helpers for pings with options and throughput (issue 19, items 1 and 7).
extension Node {
    private func recordProbe(_ e: LabExpectation, within: Double, _ loc: Testing.SourceLocation) async {
        guard let lab else {
            LabIssue("\(self) does not belong to a running lab").record(at: loc)
            return
        }
        if let f = await lab.verify(e, within: within) { recordFailure(f, loc) }
    }

    /// Expects every echo of a ping with `options` (count 2 by default, size, DF, ttl, source,
    /// device) from this node to `address` to be answered.
    public func expectPing(_ address: IPAddress, options: PingOptions = PingOptions(), within: Double = 0,
                           sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordProbe(.ping(from: name, to: address, options: options), within: within, sourceLocation)
    }

    /// Expects a ping with `options` from this node to `address` to get no reply, failing as
    /// `failure` says (reason, reporter, ICMP type/code, MTU; all optional).
    public func expectPingFails(_ address: IPAddress, options: PingOptions = PingOptions(),
                                failure: PingFailureExpectation = PingFailureExpectation(), within: Double = 0,
                                sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordProbe(.ping(from: name, to: address, options: options, failure: failure), within: within, sourceLocation)
    }

    /// Expects a bulk TCP transfer of `bytes` bytes from this node to `address:port` (a sink is
    /// started on the node owning the address) to run between `min` and `max` Mbit/s.
    public func expectThroughput(_ address: IPAddress, port: UInt16 = 5201, bytes: Int = 2_000_000,
                                 timeLimit: Duration = .seconds(10), min: Double? = nil, max: Double? = nil,
                                 sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordProbe(.throughput(from: name, to: address, port: port, bytes: bytes, timeLimit: timeLimit, min: min, max: max),
                          within: 0, sourceLocation)
    }
}

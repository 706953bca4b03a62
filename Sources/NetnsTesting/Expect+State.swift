import NetnsKit
import SystemPackage
import Testing

/// Swift Testing expectations for TCP/UDP exchanges and counters (nftables named counters, kernel
/// MIB counters). Each records an issue at the caller's line with what was expected and what the
/// kernel did; `within:` re-checks until the expectation holds or the time passes.
extension Node {
    private func recordState(_ e: LabExpectation, within: Double, _ loc: Testing.SourceLocation) async {
        guard let lab else {
            LabIssue("\(self) does not belong to a running lab").record(at: loc)
            return
        }
        if let f = await lab.verify(e, within: within) { recordFailure(f, loc) }
    }

    /// Expects a TCP connection (or UDP exchange) from this node to the test's own server at
    /// `address:port` to end with `result`, and the reply to contain `reply`; nothing is started
    /// for the check, so a dead server fails.
    ///
    /// ```swift
    /// await lab["h1"].expectExchange("10.0.2.2", port: 80, send: "GET /\r\n\r\n", reply: "200 OK")
    /// await lab["h1"].expectExchange("10.0.2.2", port: 22, result: .timeout)   // dropped by a firewall
    /// await lab["h1"].expectExchange("10.0.2.2", port: 53, proto: .udp, result: .refused)
    /// ```
    public func expectExchange(_ address: IPAddress, port: UInt16, proto: TransportProtocol = .tcp,
                               result: TransportResult = .ok, send: String? = nil, reply: String? = nil,
                               within: Double = 0, sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordState(.transport(TransportExpectation(from: name, to: address, port: port, proto: proto, listener: false,
                                                          result: result, send: send, reply: reply)),
                          within: within, sourceLocation)
    }

    /// Expects a path check to `address:port` to end with `result`: a built-in echo listener is
    /// started on the node owning `address` for the check, the echo of `send` must contain `reply`,
    /// and the listener must see the connection (or datagram) come from `peer` (a NAT's address).
    public func expectExchangePath(_ address: IPAddress, port: UInt16, proto: TransportProtocol = .tcp,
                                   result: TransportResult = .ok, send: String? = nil, reply: String? = nil,
                                   peer: IPAddress? = nil, within: Double = 0,
                                   sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordState(.transport(TransportExpectation(from: name, to: address, port: port, proto: proto, listener: true,
                                                          result: result, send: send, reply: reply, peer: peer)),
                          within: within, sourceLocation)
    }

    /// Expects an nftables named counter in this node to be within the bounds given (read with `nft -j list counter`).
    public func expectNftCounter(_ counter: String, table: String, family: String = "inet", minPackets: UInt64? = nil,
                                 maxPackets: UInt64? = nil, minBytes: UInt64? = nil, maxBytes: UInt64? = nil,
                                 within: Double = 0, sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordState(.nftCounter(NftCounterExpectation(in: name, family: family, table: table, name: counter,
                                                            minPackets: minPackets, maxPackets: maxPackets,
                                                            minBytes: minBytes, maxBytes: maxBytes)),
                          within: within, sourceLocation)
    }

    /// Expects a kernel MIB counter of this node (`Ip.InNoRoutes`, `TcpExt.IPReversePathFilter`,
    /// `Udp.NoPorts`, `Ip6.InNoRoutes`; from `/proc/net/snmp`, `netstat`, `snmp6`) to be within `[min, max]`.
    public func expectMIBCounter(_ counter: String, min: UInt64? = nil, max: UInt64? = nil, within: Double = 0,
                                 sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordState(.mibCounter(MIBCounterExpectation(in: name, counter: counter, min: min, max: max)),
                          within: within, sourceLocation)
    }
}

extension Node {
    /// Expects a link's attributes (only those given are compared; a failure lists each that differs):
    /// ```swift
    /// await lab["sw"].expectLinkAttributes("br0", kind: "bridge", ageing: .seconds(300))
    /// await lab["v1"].expectLinkAttributes("vx0", kind: "vxlan", ttl: 9, learning: false)
    /// ```
    public func expectLinkAttributes(_ ifname: String, up: Bool? = nil, mtu: Int? = nil, master: String? = nil,
                                     kind: String? = nil, ageing: Duration? = nil, ttl: Int? = nil, learning: Bool? = nil,
                                     bondMode: String? = nil, data: [String: String] = [:], within: Double = 0,
                                     sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordState(.linkAttributes(LinkAttributesExpectation(in: name, name: ifname, up: up, mtu: mtu, master: master,
                                                                    kind: kind, ageing: ageing, ttl: ttl, learning: learning,
                                                                    bondMode: bondMode, data: data)),
                          within: within, sourceLocation)
    }

    /// Expects a qdisc of `kind` on `dev` (the root one unless `root` is false) with these parameters.
    public func expectQdisc(_ dev: String, kind: String, root: Bool = true, rate: Rate? = nil, burst: UInt64? = nil,
                            delay: Duration? = nil, within: Double = 0,
                            sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordState(.qdisc(QdiscExpectation(in: name, dev: dev, kind: kind, root: root, rate: rate, burst: burst, delay: delay)),
                          within: within, sourceLocation)
    }
}

extension Node {
    /// Expects the kernel to refuse `change` (made in this node) with `errno` and an extack message
    /// containing `extack`, leaving the node's links, addresses, routes and qdiscs as they were:
    /// ```swift
    /// await lab["h1"].expectRefused(.addRoute(node: "h1", Route("fd00:9::/64", via: "fe80::1")),
    ///                               errno: .invalidArgument, extack: "Egress device not specified")
    /// ```
    public func expectRefused(_ change: TimelineChange, errno: Errno, extack: String? = nil,
                              sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordState(.refused(RefusedChangeExpectation(change, errno: errno, extack: extack)), within: 0, sourceLocation)
    }
}

extension Lab {
    /// Expects `check` to hold and its traffic to cross `through` links of `node` (their rx+tx
    /// packet counters move by `minPackets` or more during the check) and not `notThrough` ones:
    /// ```swift
    /// await lab.expectThrough("r1", ["eth1"], notThrough: ["eth2"], during: .reachable(from: "h1", to: "10.0.2.2"))
    /// ```
    public func expectThrough(_ node: String, _ through: [String], notThrough: [String] = [], minPackets: UInt64 = 1,
                              during check: LabExpectation, within: Double = 0,
                              sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        let e = LabExpectation.path(TrafficPathExpectation(in: node, through: through, notThrough: notThrough,
                                                           minPackets: minPackets, during: check))
        if let f = await verify(e, within: within) { recordFailure(f, sourceLocation) }
    }
}

extension Node {
    /// Expects `count` addresses of `family` and `scope` on `ifname` (nil: on every interface).
    public func expectAddressCount(_ count: Int, on ifname: String? = nil, family: IPFamily? = nil, scope: AddressScope? = nil,
                                   within: Double = 0, sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordState(.addressCount(AddressCountExpectation(in: name, on: ifname, family: family, scope: scope, count: count)),
                          within: within, sourceLocation)
    }

    /// Expects `prefix` on `ifname` with `flags` set and `notFlags` unset (`.nodad`, `.noprefixroute`, `.permanent`, …).
    public func expectAddressFlags(_ prefix: IPPrefix, on ifname: String, flags: [AddressFlag], notFlags: [AddressFlag] = [],
                                   within: Double = 0, sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordState(.addressFlags(AddressFlagsExpectation(in: name, prefix: prefix, on: ifname, flags: flags, notFlags: notFlags)),
                          within: within, sourceLocation)
    }
}

extension Node {
    /// Expects this node's bridge FDB to have (or, with `present: false`, not to have) an entry for
    /// `mac` with these fields: `await lab["sw"].expectFDB(.of(node: "h1", interface: "eth0"), port: "p1", learned: true)`.
    public func expectFDB(_ mac: MACReference, present: Bool = true, port: String? = nil, dst: IPAddress? = nil,
                          learned: Bool? = nil, within: Double = 0,
                          sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        await recordState(.fdb(FDBExpectation(in: name, mac: mac, present: present, port: port, dst: dst, learned: learned)),
                          within: within, sourceLocation)
    }
}

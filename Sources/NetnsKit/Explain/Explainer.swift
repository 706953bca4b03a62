import Foundation
import Namespaces
import Netlink
import SystemPackage
import NetnsModel

extension Lab {
    /// Explains, hop by hop, what happens to a packet from `node` to `destination`: the
    /// sender's route lookup, the neighbour entry of the next hop, the link and what is on
    /// its other end, the lookup at each next hop as a forwarded packet, nftables chains on
    /// the way, and the reply path, until the packet is delivered or dies. It sends one probe
    /// first and reports the path's interface counters around it.
    ///
    /// Every decision is the kernel's: `RTM_GETROUTE` (with `iif` at forwarding nodes, so
    /// `rp_filter` and forwarding show up), `RTM_GETNEIGH`, `RTM_GETLINK`, the bridge FDB and
    /// the sysctls; the walk only follows the links between the answers.
    /// - Parameters:
    ///   - node: the sending node's name.
    ///   - destination: the address the packet is sent to.
    ///   - proto: the probe: an ICMP echo (default), a TCP SYN or a UDP datagram to a port.
    ///   - source: the source address (default: the one the sender's route lookup picks).
    ///   - mark: a firewall mark for the sender's lookup (policy rules on `fwmark`).
    ///   - size: an ICMP payload size; when given, the probe sets DF and the walk checks each MTU.
    ///   - ttl: the TTL (hop limit) the packet starts with.
    /// - Throws: ``LabError`` for an unknown node; everything the kernel says is part of the result.
    ///
    /// Equivalent to `ip route get` / `ip neigh` / `bridge fdb` in each node on the path, by hand.
    public func explain(from node: String, to destination: IPAddress, protocol proto: ExplainProtocol = .icmp,
                        source: IPAddress? = nil, mark: UInt32? = nil, size: Int? = nil,
                        ttl: Int = 64) async throws -> Explanation {
        try await Explainer(nodes: nodes, topology: topology)
            .explain(from: try self.node(node), to: destination, proto: proto, source: source, mark: mark,
                     size: size, ttl: ttl)
    }

    /// ``explain(from:to:protocol:source:mark:size:ttl:)`` with the addresses as text.
    /// - Throws: ``ExpectationError`` for text that is not an IP address.
    public func explain(from node: String, to destination: String, protocol proto: ExplainProtocol = .icmp,
                        source: String? = nil, size: Int? = nil, ttl: Int = 64) async throws -> Explanation {
        guard let d = IPAddress(destination) else { throw ExpectationError("\"\(destination)\" is not an IP address") }
        var s: IPAddress? = nil
        if let source {
            guard let a = IPAddress(source) else { throw ExpectationError("\"\(source)\" is not an IP address") }
            s = a
        }
        return try await explain(from: node, to: d, protocol: proto, source: s, size: size, ttl: ttl)
    }
}

/// Explains paths through the nodes of a lab (built here, or pinned and opened again by `nslab`).
public struct Explainer: Sendable {
    let nodes: [Node]
    let topology: Topology?

    init(nodes: [Node], topology: Topology?) {
        self.nodes = nodes; self.topology = topology
    }

    /// An explainer over namespaces opened by name, as `nslab explain` has them for a pinned lab.
    public init(namespaces: [(node: String, namespace: NetworkNamespace)], topology: Topology?) {
        let kinds = Dictionary((topology?.nodes ?? []).map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a })
        self.nodes = namespaces.map { Node(name: $0.node, kind: kinds[$0.node] ?? .host, namespace: $0.namespace) }
        self.topology = topology
    }

    /// See ``Lab/explain(from:to:protocol:source:mark:size:ttl:)``.
    public func explain(from node: String, to destination: IPAddress, protocol proto: ExplainProtocol = .icmp,
                        source: IPAddress? = nil, mark: UInt32? = nil, size: Int? = nil,
                        ttl: Int = 64) async throws -> Explanation {
        guard let n = nodes.first(where: { $0.name == node }) else {
            throw LabError.unknownNode(node, known: nodes.map(\.name))
        }
        return try await explain(from: n, to: destination, proto: proto, source: source, mark: mark, size: size, ttl: ttl)
    }

    func explain(from sender: Node, to destination: IPAddress, proto: ExplainProtocol, source: IPAddress?,
                 mark: UInt32?, size: Int?, ttl: Int) async throws -> Explanation {
        _ = try sender.namespace
        // One probe first: it resolves neighbours the way the real traffic does (an unanswered
        // ARP leaves an INCOMPLETE or FAILED entry), and the counters around it show where the
        // packet was last seen.
        // One `nft list ruleset` per node for the whole explanation.
        var rulesets: [String: [NftChains]] = [:]
        for n in nodes { rulesets[n.name] = NftChains.read(n) }
        let tracer = NftTracer(nodes: nodes.filter { !(rulesets[$0.name] ?? []).isEmpty }, destination: destination)
        let before = counters()
        let probeText = await probe(from: sender, to: destination, proto: proto, source: source, size: size, ttl: ttl)
        let after = counters()
        let traces = tracer.finish()

        let v6 = destination.isIPv6
        let headers = v6 ? 48 : 28
        let packet = Packet(source: source, destination: destination, proto: proto.ipProtocol(v6),
                            sourcePort: proto.port == nil ? nil : 40000, destinationPort: proto.port, mark: mark,
                            bytes: (size ?? 56) + headers, dontFragment: size != nil, ttl: ttl)
        var walk = Walk(explainer: self, rulesets: rulesets, traces: traces)
        let request = walk.run(from: sender, packet: packet)
        var explanation = Explanation(from: sender.name, to: "\(destination)", protocol: "\(proto)",
                                      source: request.source.map { "\($0)" }, hops: request.hops, reply: [],
                                      works: false, failedNode: nil, failedReason: nil, replyFails: false,
                                      probe: probeText, counters: [])
        if let at = request.deliveredAt, let src = request.source {
            var reply = packet
            reply.source = destination; reply.destination = src
            reply.sourcePort = packet.destinationPort; reply.destinationPort = packet.sourcePort
            reply.mark = nil; reply.ttl = 64
            var back = Walk(explainer: self, rulesets: rulesets, traces: traces, isReply: true)
            let r = back.run(from: at, packet: reply)
            explanation.reply = r.hops
            if r.deliveredAt?.name == sender.name {
                explanation.works = true
            } else {
                explanation.replyFails = true
                explanation.failedNode = r.hops.last(where: { $0.kind == .dropped })?.node ?? r.hops.last?.node
                explanation.failedReason = r.hops.last(where: { $0.kind == .dropped })?.reason
            }
        } else {
            let drop = request.hops.last(where: { $0.kind == .dropped })
            explanation.failedNode = drop?.node ?? request.hops.last?.node
            explanation.failedReason = drop?.reason
        }
        // A path that works on paper while the probe got nothing: nftables is the one thing the
        // walk did not decide, so name the chains on the path (traced, where nft could be used).
        if explanation.works, !probeSucceeded(probeText) {
            let chains = (explanation.hops + explanation.reply).filter { $0.kind == .nftables }
            if let first = chains.first {
                explanation.works = false
                explanation.failedNode = first.node
                explanation.failedReason = .nftables
                explanation.replyFails = !explanation.hops.contains(first)
            }
        }
        let path = pathInterfaces(explanation.hops + explanation.reply)
        explanation.counters = path.compactMap { key in
            guard let a = before[key], let b = after[key] else { return nil }
            return ExplainCounter(node: key.node, interface: key.interface,
                                  rxPackets: b.rxPackets &- a.rxPackets, txPackets: b.txPackets &- a.txPackets,
                                  rxDropped: b.rxDropped &- a.rxDropped, txDropped: b.txDropped &- a.txDropped)
        }
        return explanation
    }

    func node(_ name: String) -> Node? { nodes.first { $0.name == name } }

    struct InterfaceKey: Hashable { var node: String; var interface: String }

    /// Every interface of every node with its counters.
    private func counters() -> [InterfaceKey: LinkStats] {
        var out: [InterfaceKey: LinkStats] = [:]
        for n in nodes {
            for l in (try? n.links()) ?? [] { out[InterfaceKey(node: n.name, interface: l.name)] = l.stats ?? LinkStats() }
        }
        return out
    }

    /// The interfaces the hops name, in path order, each once.
    private func pathInterfaces(_ hops: [ExplainHop]) -> [InterfaceKey] {
        var seen = Set<InterfaceKey>(), out: [InterfaceKey] = []
        for h in hops {
            for i in [h.inInterface, h.outInterface].compactMap({ $0 }) {
                let k = InterfaceKey(node: h.node, interface: i)
                if seen.insert(k).inserted { out.append(k) }
            }
        }
        return out
    }

    private func probeSucceeded(_ text: String?) -> Bool {
        guard let text else { return true }
        return text.hasPrefix("echo reply") || text.hasPrefix("connection accepted") || text.hasPrefix("connection refused")
            || text.hasPrefix("datagram sent")
    }

    /// One probe of the protocol, as the expectations send it.
    private func probe(from sender: Node, to destination: IPAddress, proto: ExplainProtocol, source: IPAddress?,
                       size: Int?, ttl: Int) async -> String {
        do {
            let ns = try sender.namespace
            switch proto {
            case .icmp:
                let r = try await ping(destination, in: ns, count: 1, timeout: 1, source: source, size: size ?? 56,
                                       dontFragment: size != nil, ttl: ttl)
                return r.succeeded ? "echo reply" : "\(r.failure ?? .timeout)"
            case .tcp(let port):
                switch try await tcpConnect(to: destination, port: port, in: ns, source: source, timeout: 1) {
                case .open: return "connection accepted"
                case .refused: return "connection refused (the path works; nothing listens on \(port))"
                case .timedOut: return "no answer (dropped)"
                case .unreachable(let e): return "unreachable (\(ErrnoNames.name(e)): \(ErrnoNames.text(e)))"
                }
            case .udp(let port):
                try udpSend(Array("nslab explain".utf8), to: destination, port: port, in: ns, source: source)
                return "datagram sent (UDP gives no answer to wait for)"
            }
        } catch {
            return "probe failed: \(error)"
        }
    }
}

/// The packet as the walk follows it.
struct Packet {
    var source: IPAddress?
    var destination: IPAddress
    var proto: UInt8
    var sourcePort: UInt16?
    var destinationPort: UInt16?
    var mark: UInt32?
    /// Bytes at the IP layer.
    var bytes: Int
    var dontFragment: Bool
    var ttl: Int
}

/// One walk along a path, request or reply.
struct Walk {
    let explainer: Explainer
    var hops: [ExplainHop] = []
    var source: IPAddress?
    var deliveredAt: Node?
    /// Guards against a loop the TTL check would not catch (layer-2 loops between bridges).
    private var steps = 0

    /// Each node's nftables base chains.
    let rulesets: [String: [NftChains]]
    /// nftables trace events by node, from the probe.
    let traces: [String: [NftTraceEvent]]
    let isReply: Bool

    init(explainer: Explainer, rulesets: [String: [NftChains]], traces: [String: [NftTraceEvent]], isReply: Bool = false) {
        self.explainer = explainer; self.rulesets = rulesets; self.traces = traces; self.isReply = isReply
    }

    struct Result {
        var hops: [ExplainHop]
        var source: IPAddress?
        var deliveredAt: Node?
    }

    mutating func run(from sender: Node, packet start: Packet) -> Result {
        var packet = start
        var at = sender
        var iif: String? = nil
        var visited: [String] = []
        // The TTL check ends any routing loop; the bound is for what it cannot see.
        while steps < start.ttl + 8 {
            steps += 1
            visited.append(at.name)
            guard let next = layer3(at: at, iif: iif, packet: &packet, visited: visited) else { break }
            at = next.node; iif = next.iif
        }
        return Result(hops: hops, source: source, deliveredAt: deliveredAt)
    }

    private mutating func add(_ kind: ExplainHop.Kind, _ node: Node, _ text: String, in i: String? = nil,
                              out o: String? = nil, gateway: IPAddress? = nil, table: String? = nil,
                              reason: ExplainReason? = nil) {
        hops.append(ExplainHop(kind: kind, node: node.name, inInterface: i, outInterface: o,
                               gateway: gateway.map { "\($0)" }, table: table, text: text, reason: reason))
    }

    private mutating func drop(_ node: Node, _ text: String, _ reason: ExplainReason, in i: String? = nil,
                               out o: String? = nil) {
        add(.dropped, node, (i.map { "in \($0) → " } ?? "") + "dropped: " + text, in: i, out: o, reason: reason)
    }

    /// The decisions of one node about the packet: delivered here, dropped here, or sent on
    /// (then the node and interface it arrives at next).
    private mutating func layer3(at node: Node, iif: String?, packet: inout Packet,
                                 visited: [String]) -> (node: Node, iif: String)? {
        let v6 = packet.destination.isIPv6
        var q = RouteQuery(destination: packet.destination, source: packet.source, mark: packet.mark,
                           ipProtocol: packet.proto, sourcePort: packet.sourcePort,
                           destinationPort: packet.destinationPort)
        if let iif {
            guard let l = try? node.link(iif) else {
                drop(node, "interface \(iif) not found", .notFollowed, in: iif); return nil
            }
            q.inputIndex = l.index
        }
        let route: RouteInfo
        do {
            route = try node.socket.lookupRoute(q)
        } catch let e as NetlinkError {
            classifyLookupFailure(e.errno, at: node, iif: iif, packet: packet)
            return nil
        } catch {
            drop(node, "route lookup failed: \(error)", .lookupFailed, in: iif); return nil
        }
        if iif == nil, source == nil { source = packet.source ?? route.preferredSource }
        if iif == nil, packet.source == nil { packet.source = route.preferredSource }
        let names = interfaceNames(node)
        let matched = (try? node.socket.lookupRoute({ var m = q; m.fibMatch = true; return m }())) ?? route
        let table = tableName(route.table)

        if route.type == .local {
            if nftables(at: node, hooks: iif == nil ? ["output", "input"] : ["prerouting", "input"], v6: v6, iif: iif) {
                return nil
            }
            add(.delivered, node, (iif.map { "in \($0) → " } ?? "") + "delivered: \(packet.destination) is local"
                + (iif == nil ? "" : "; the reverse-path check passes"), in: iif, table: table)
            deliveredAt = node
            return nil
        }
        guard [.unicast, .unspec].contains(route.type) else {
            drop(node, "route \(describe(matched, names)) (\(route.type))", reasonFor(route.type), in: iif)
            return nil
        }
        let out = route.outputIndex.flatMap { names[$0] }
        var text = (iif.map { "in \($0) → " } ?? "") + "route \(describe(matched, names)) (table \(table))"
        if let rule = ruleNote(node, route: route, v6: v6) { text += " by rule \(rule)" }

        if let iif {
            // IPv4 forwarding is part of the input lookup (EHOSTUNREACH when off); IPv6 checks
            // it in ip6_forward, after the lookup, so read the sysctl here.
            if v6 {
                let all = (try? node.sysctl("net.ipv6.conf.all.forwarding")) ?? "?"
                let dev = (try? node.sysctl("net.ipv6.conf.\(iif).forwarding")) ?? "?"
                if all == "0" || dev == "0" {
                    add(.route, node, text, in: iif, out: out, gateway: route.gateway, table: table)
                    drop(node, "IPv6 forwarding is off (net.ipv6.conf.all.forwarding=\(all), net.ipv6.conf.\(iif).forwarding=\(dev))",
                         .forwardingOff, in: iif)
                    return nil
                }
            }
            text += "; forwarding on"
            if packet.ttl <= 1 {
                add(.route, node, text, in: iif, out: out, gateway: route.gateway, table: table)
                drop(node, "\(v6 ? "hop limit" : "TTL") exceeded (it arrives with \(packet.ttl); path so far "
                     + visited.joined(separator: " → ") + ")", .ttlExceeded, in: iif)
                return nil
            }
            packet.ttl -= 1
        }
        guard let out, let oif = try? node.link(out) else {
            add(.route, node, text, in: iif, table: table)
            drop(node, "the route has no output device", .notFollowed, in: iif); return nil
        }
        text += "; dev \(out) \(oif.isUp ? oif.operStateName : "DOWN") mtu \(oif.mtu ?? 0)"
        // A configured route MTU wins over the device's. A path MTU the node learned from an
        // ICMP too-big (a cached exception, not in the matched route) is only noted: the
        // packet's drop belongs to the hop that sent the ICMP.
        let mtu = Int(matched.mtu ?? oif.mtu ?? 1500)
        if let learned = route.mtu, learned != matched.mtu { text += "; learned path mtu \(learned)" }
        let gateway = route.gateway ?? packet.destination
        var neighbourMAC: MACAddress? = nil
        var neighbourState = "none"
        let pointToPoint = oif.flags.contains(.noARP) || oif.flags.contains(.pointToPoint)
        if !pointToPoint {
            let entry = (try? node.neighbors(family: gateway.family))?.first { $0.address == gateway && $0.index == oif.index }
            neighbourMAC = entry?.mac
            neighbourState = entry?.stateName ?? "none"
            text += "; neighbour \(gateway) \(entry.map { "\($0.mac.map { "\($0) " } ?? "")\($0.stateName)" } ?? "(no entry)")"
        }
        add(.route, node, text, in: iif, out: out, gateway: route.gateway, table: table)
        if nftables(at: node, hooks: iif == nil ? ["output", "postrouting"] : ["prerouting", "forward", "postrouting"],
                    v6: v6, iif: iif) {
            return nil
        }

        if !oif.isUp {
            drop(node, "dev \(out) is down", .linkDown, out: out); return nil
        }
        if !oif.flags.contains(.lowerUp) {
            let peer = peerName(node, oif)
            drop(node, "dev \(out) has no carrier" + (peer.map { " (its peer \($0) is down)" } ?? ""), .linkDown, out: out)
            return nil
        }
        if packet.bytes > mtu && (packet.dontFragment || v6) {
            drop(node, "packet too big: \(packet.bytes) bytes > mtu \(mtu) of \(out)" + (matched.mtu != nil ? " (route mtu)" : "")
                 + (v6 ? " (IPv6 routers never fragment" + (iif == nil ? ")" : "; ICMPv6 packet too big)")
                    : ", DF set" + (iif == nil ? ")" : "; ICMP fragmentation needed)")),
                 .tooBig, out: out)
            return nil
        }
        // Across the link, to the node whose interface receives the frame.
        guard let arrival = crossLink(from: node, device: oif, destinationMAC: neighbourMAC, gateway: gateway) else {
            return nil
        }
        if !pointToPoint && (neighbourMAC == nil || ["FAILED", "INCOMPLETE", "none"].contains(neighbourState)) {
            let owns = ((try? arrival.node.addresses()) ?? []).contains { $0.prefix.address == gateway }
            if !owns {
                let has = ((try? arrival.node.addresses(gateway.isIPv4 ? .ipv4 : .ipv6)) ?? [])
                    .filter { $0.scope != RouteScope.link.rawValue && $0.scope != RouteScope.host.rawValue }
                    .map { "\($0.prefix)" }
                drop(node, "neighbour \(gateway) \(neighbourState == "none" ? "unresolved" : neighbourState): no answer to "
                     + (v6 ? "neighbour solicitation" : "ARP") + " on \(out); \(arrival.node.name) on the other end does not have \(gateway)"
                     + (has.isEmpty ? "" : " (it has \(has.joined(separator: ", ")))"), .neighbourFailed, out: out)
                return nil
            }
        }
        return arrival
    }

    /// Follows a frame from `device` to the node and interface that take it up at layer 3:
    /// a veth's peer, through bridge ports (the FDB port for the destination MAC), and over
    /// VXLAN to the remote VTEP's node.
    private mutating func crossLink(from node: Node, device: LinkInfo, destinationMAC: MACAddress?,
                                    gateway: IPAddress) -> (node: Node, iif: String)? {
        var node = node, device = device
        for _ in 0..<16 {
            switch device.kind {
            case "veth":
                guard let (peerNode, peer) = vethPeer(node, device) else {
                    drop(node, "the peer of veth \(device.name) is in no node of this lab", .notFollowed, out: device.name)
                    return nil
                }
                if !peer.isUp {
                    drop(peerNode, "\(peer.name) (the peer of \(node.name):\(device.name)) is down", .linkDown, in: peer.name)
                    return nil
                }
                if let master = peer.master, let br = try? peerNode.socket.link(index: master), br.kind == "bridge" {
                    guard let next = bridgeHop(peerNode, bridge: br, port: peer, mac: destinationMAC, gateway: gateway) else {
                        return nil
                    }
                    if next.name == br.name { return (peerNode, br.name) }
                    node = peerNode; device = next
                    continue
                }
                // A macvlan on the peer takes the frames for its own MAC (the lower device's rx handler).
                if let mac = destinationMAC, let upper = ((try? peerNode.links()) ?? []).first(where: {
                    $0.kind == "macvlan" && $0.link == peer.index && $0.mac == mac
                }) {
                    add(.bridge, peerNode, "in \(peer.name) → macvlan \(upper.name) (\(mac))", in: peer.name, out: upper.name)
                    if !upper.isUp { drop(peerNode, "macvlan \(upper.name) is down", .linkDown, out: upper.name); return nil }
                    return (peerNode, upper.name)
                }
                return (peerNode, peer.name)
            case "macvlan":
                // Sent through the lower device.
                guard let lower = device.link, let l = try? node.socket.link(index: lower) else {
                    drop(node, "the lower device of macvlan \(device.name) is not in this node", .notFollowed, out: device.name)
                    return nil
                }
                if !l.isUp { drop(node, "\(l.name), the lower device of macvlan \(device.name), is down", .linkDown, out: l.name); return nil }
                device = l
                continue
            case "bridge":
                guard let next = bridgeHop(node, bridge: device, port: nil, mac: destinationMAC, gateway: gateway) else {
                    return nil
                }
                device = next
                continue
            case "vxlan":
                let fdb = ((try? node.socket.forwardingDatabase()) ?? []).filter { $0.index == device.index && $0.address != nil }
                let entry = fdb.first { $0.mac == destinationMAC } ?? fdb.first { $0.mac == MACAddress(bytes: [0, 0, 0, 0, 0, 0]) }
                guard let vtep = entry?.address else {
                    drop(node, "vxlan \(device.name) has no FDB entry for \(destinationMAC.map { "\($0)" } ?? "the destination") and no default remote",
                         .notFollowed, out: device.name)
                    return nil
                }
                guard let remote = explainer.nodes.first(where: { n in ((try? n.addresses()) ?? []).contains { $0.prefix.address == vtep } }),
                      let rdev = ((try? remote.links()) ?? []).first(where: { $0.kind == "vxlan" && $0.name == device.name })
                        ?? ((try? remote.links()) ?? []).first(where: { $0.kind == "vxlan" }) else {
                    drop(node, "vxlan \(device.name) sends to VTEP \(vtep), which no node of this lab has", .notFollowed, out: device.name)
                    return nil
                }
                add(.bridge, node, "vxlan \(device.name): \(destinationMAC.map { "\($0)" } ?? "frame") → remote VTEP \(vtep) (node \(remote.name), dev \(rdev.name))",
                    out: device.name)
                if !rdev.isUp { drop(remote, "\(rdev.name) is down", .linkDown, in: rdev.name); return nil }
                if let master = rdev.master, let br = try? remote.socket.link(index: master), br.kind == "bridge" {
                    guard let next = bridgeHop(remote, bridge: br, port: rdev, mac: destinationMAC, gateway: gateway) else { return nil }
                    if next.name == br.name { return (remote, br.name) }
                    node = remote; device = next
                    continue
                }
                return (remote, rdev.name)
            default:
                drop(node, "the walk does not follow \(device.kind ?? "plain") device \(device.name) to another node", .notFollowed,
                     out: device.name)
                return nil
            }
        }
        drop(node, "layer-2 path longer than 16 bridges (a loop?)", .notFollowed)
        return nil
    }

    /// The bridge's decision for a frame entering at `port` (nil: sent by the bridge's own
    /// node): the FDB port for the MAC, the bridge itself (a local MAC), or, for an unknown
    /// MAC, the flooded port whose other end has the gateway address.
    private mutating func bridgeHop(_ node: Node, bridge: LinkInfo, port: LinkInfo?, mac: MACAddress?,
                                    gateway: IPAddress) -> LinkInfo? {
        let prefix = port.map { "in \($0.name) → " } ?? ""
        if !bridge.isUp {
            drop(node, "bridge \(bridge.name) is down", .linkDown, in: port?.name); return nil
        }
        let fdb = ((try? node.socket.forwardingDatabase()) ?? []).filter { $0.master == bridge.index && $0.mac == mac }
        if port != nil, let mac, fdb.contains(where: { $0.state & NDA.nudPermanent != 0 }) || bridge.mac == mac {
            add(.bridge, node, prefix + "bridge \(bridge.name): \(mac) is the bridge's own: up to layer 3", in: port?.name)
            return bridge
        }
        let ports = ((try? node.links()) ?? []).filter { $0.master == bridge.index && $0.index != port?.index }
        if let e = fdb.first(where: { $0.index != port?.index }), let out = ports.first(where: { $0.index == e.index }) {
            add(.bridge, node, prefix + "bridge \(bridge.name): fdb \(mac.map { "\($0)" } ?? "?") → port \(out.name)"
                + (out.isUp ? "" : " (DOWN)"), in: port?.name, out: out.name)
            if !out.isUp { drop(node, "bridge port \(out.name) is down", .linkDown, out: out.name); return nil }
            return out
        }
        // Flooded: follow the port whose far end owns the address the frame is for.
        for p in ports where p.isUp {
            if let (peerNode, _) = vethPeer(node, p),
               ((try? peerNode.addresses()) ?? []).contains(where: { $0.prefix.address == gateway }) {
                add(.bridge, node, prefix + "bridge \(bridge.name): \(mac.map { "\($0)" } ?? "the MAC") not in the FDB: flooded; "
                    + "port \(p.name) leads to \(peerNode.name), which has \(gateway)", in: port?.name, out: p.name)
                return p
            }
        }
        add(.bridge, node, prefix + "bridge \(bridge.name): \(mac.map { "\($0)" } ?? "the MAC") not in the FDB: flooded to "
            + (ports.filter(\.isUp).map(\.name).joined(separator: ", ").nonEmptyOr("no port that is up")), in: port?.name)
        drop(node, "no port of bridge \(bridge.name) leads to a node that has \(gateway)", .neighbourFailed, in: port?.name)
        return nil
    }

    /// The node and interface at the other end of a veth, from the kernel's peer ifindex
    /// (`IFLA_LINK`), confirmed from the other side; the topology's links settle a tie.
    private func vethPeer(_ node: Node, _ l: LinkInfo) -> (Node, LinkInfo)? {
        guard let peerIndex = l.link else { return nil }
        var candidates: [(Node, LinkInfo)] = []
        for n in explainer.nodes where n.name != node.name || l.linkNetnsID == nil {
            for p in (try? n.links()) ?? [] where p.kind == "veth" && p.index == peerIndex && p.link == l.index {
                if n.name == node.name && p.index == l.index { continue }
                candidates.append((n, p))
            }
        }
        if candidates.count > 1, let links = explainer.topology?.links {
            let joined = Set(links.flatMap { k -> [String] in
                if k.a.node == node.name { return [k.b.node] }
                if k.b.node == node.name { return [k.a.node] }
                return []
            })
            // A switch node's ports are links to the switch.
            let narrowed = candidates.filter { joined.contains($0.0.name) }
            if !narrowed.isEmpty { candidates = narrowed }
        }
        return candidates.first
    }

    private func peerName(_ node: Node, _ l: LinkInfo) -> String? {
        vethPeer(node, l).map { "\($0.0.name):\($0.1.name)" }
    }

    /// Says why a route lookup failed, from the errno the kernel returned and what else it says.
    private mutating func classifyLookupFailure(_ errno: Errno, at node: Node, iif: String?, packet: Packet) {
        let v6 = packet.destination.isIPv6
        let words = "\(ErrnoNames.text(errno)), \(ErrnoNames.name(errno))"
        let names = interfaceNames(node)
        let routes = ((try? node.routes(v6 ? .ipv6 : .ipv4, table: nil)) ?? [])
        // The typed route (unreachable/prohibit/blackhole) that holds the destination, most specific first.
        func typed(_ t: RouteType) -> RouteInfo? {
            routes.filter { $0.type == t && ($0.destination?.contains(packet.destination) ?? true) }
                .max { ($0.destination?.length ?? 0) < ($1.destination?.length ?? 0) }
        }
        switch errno {
        case .networkUnreachable:
            let down = ((try? node.links()) ?? []).filter { !$0.isUp && $0.name != "lo" }.map(\.name)
            drop(node, "no route to \(packet.destination) (\(words))"
                 + (down.isEmpty ? "" : "; \(down.joined(separator: ", ")) \(down.count == 1 ? "is" : "are") down, and a down link's routes are gone"),
                 down.isEmpty ? .noRoute : .linkDown, in: iif)
        case .noRouteToHost:
            if let iif, !v6 {
                let dev = (try? node.sysctl("net.ipv4.conf.\(iif).forwarding")) ?? "?"
                if dev == "0" {
                    let all = (try? node.sysctl("net.ipv4.ip_forward")) ?? "?"
                    drop(node, "forwarding is off (net.ipv4.ip_forward=\(all), net.ipv4.conf.\(iif).forwarding=0; the input lookup says \(words))",
                         .forwardingOff, in: iif)
                    return
                }
            }
            if let r = typed(.unreachable) {
                drop(node, "route \(describe(r, names)) (\(words))", .unreachableRoute, in: iif)
            } else {
                drop(node, "\(words)", .unreachableRoute, in: iif)
            }
        case .permissionDenied:
            drop(node, typed(.prohibit).map { "route \(describe($0, names)) (\(words))" } ?? words, .prohibitRoute, in: iif)
        case .invalidArgument, .improperLink:
            // The same lookup as a locally sent packet: if that works, the input side (the
            // packet's source on this interface) is what the kernel refused.
            let local = try? node.socket.lookupRoute(RouteQuery(destination: packet.destination, mark: packet.mark))
            if let iif, local != nil, let src = packet.source {
                let all = Int((try? node.sysctl("net.ipv4.conf.all.rp_filter")) ?? "0") ?? 0
                let dev = Int((try? node.sysctl("net.ipv4.conf.\(iif).rp_filter")) ?? "0") ?? 0
                let mode = max(all, dev)
                if !v6 && mode > 0 {
                    let back = try? node.socket.lookupRoute(RouteQuery(destination: src))
                    let backDev = back?.outputIndex.flatMap { names[$0] }
                    let why = back == nil ? "no route back to \(src)"
                        : "route back to \(src) leaves by \(backDev ?? "?")" + (mode == 2 ? "" : ", not \(iif)")
                    drop(node, "reverse-path check fails (rp_filter=\(mode) on \(iif): \(why); \(words))", .reversePath, in: iif)
                } else {
                    drop(node, "source \(src) is not acceptable on \(iif) (martian source; \(words))", .martianSource, in: iif)
                }
                return
            }
            if let r = typed(.blackhole) {
                drop(node, "route \(describe(r, names)) (\(words))", .blackholeRoute, in: iif)
            } else {
                drop(node, "route lookup refused (\(words))", .lookupFailed, in: iif)
            }
        default:
            drop(node, "route lookup failed (\(words))", .lookupFailed, in: iif)
        }
    }

    private func reasonFor(_ t: RouteType) -> ExplainReason {
        switch t {
        case .blackhole: return .blackholeRoute
        case .prohibit: return .prohibitRoute
        case .unreachable: return .unreachableRoute
        default: return .lookupFailed
        }
    }

    private func interfaceNames(_ node: Node) -> [Int32: String] {
        Dictionary(((try? node.links()) ?? []).map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
    }

    private func describe(_ r: RouteInfo, _ names: [Int32: String]) -> String {
        var r = r
        r.table = RouteTable.main  // the table goes in its own column
        r.preferredSource = nil
        return RouteText.describe(r, names: names)
    }

    private func tableName(_ t: UInt32) -> String {
        switch t {
        case RouteTable.main: return "main"
        case RouteTable.local: return "local"
        case 253: return "default"
        default: return "\(t)"
        }
    }

    /// The policy rule that sent the lookup to a table other than main: the first rule, by
    /// priority, pointing at that table.
    private func ruleNote(_ node: Node, route: RouteInfo, v6: Bool) -> String? {
        guard route.table != RouteTable.main, route.table != RouteTable.local else { return nil }
        let rules = ((try? node.rules(v6 ? .ipv6 : .ipv4)) ?? []).sorted { ($0.priority ?? 0) < ($1.priority ?? 0) }
        return rules.first { $0.action == FRA.actToTbl && $0.table == route.table }.map { "\"\($0.summary)\"" }
    }

    /// The nftables base chains of the node on the packet's hooks: each chain's traced verdict
    /// for this packet (rule handle and text), or the chains named and "not traced" where the
    /// trace saw nothing. A traced drop or reject ends the walk here.
    /// - Returns: true when nftables drops the packet.
    private mutating func nftables(at node: Node, hooks: [String], v6: Bool, iif: String?) -> Bool {
        let chains = (rulesets[node.name] ?? []).filter { c in
            c.table != NftTracer.table && hooks.contains(c.hook) && (c.family == "inet" || c.family == (v6 ? "ip6" : "ip"))
        }
        guard !chains.isEmpty else { return false }
        // Each chain's last verdict for the packet of this direction (request or reply).
        let events = (traces[node.name] ?? []).filter { $0.toDestination != isReply }
        var parts: [String] = [], untraced: [NftChains] = []
        var dropped: NftTraceEvent? = nil
        for c in chains {
            if let e = events.last(where: { $0.family == c.family && $0.table == c.table && $0.chain == c.chain }) {
                parts.append(e.text)
                if e.isDrop { dropped = e; break }
            } else {
                untraced.append(c)
            }
        }
        if !untraced.isEmpty {
            parts.append(untraced.map { "\($0.family) \($0.table) \($0.chain) (hook \($0.hook), policy \($0.policy))" }
                .joined(separator: ", ") + ": not traced")
        }
        if let dropped {
            add(.dropped, node, (iif.map { "in \($0) → " } ?? "") + "dropped by nftables " + dropped.text, in: iif, reason: .nftables)
            return true
        }
        add(.nftables, node, "nftables " + parts.joined(separator: "; "), in: iif)
        return false
    }
}

/// Base chains of a node's nftables ruleset, from `nft list ruleset` (nil when nft is absent).
struct NftChains {
    var family: String
    var table: String
    var chain: String
    var hook: String
    var policy: String

    static func read(_ node: Node) -> [NftChains] {
        guard let r = try? node.runBlocking(["nft", "list", "ruleset"], timeout: 5), r.status == 0 else { return [] }
        var out: [NftChains] = []
        var family = "", table = "", chain = ""
        for raw in r.output.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            let words = line.split(separator: " ").map(String.init)
            if words.first == "table", words.count >= 3 {
                family = words[1]; table = words[2]
            } else if words.first == "chain", words.count >= 2 {
                chain = words[1]
            } else if words.first == "type", let h = words.firstIndex(of: "hook"), h + 1 < words.count {
                let hook = words[h + 1].trimmingCharacters(in: CharacterSet(charactersIn: ";"))
                var policy = "accept"
                if let p = words.firstIndex(of: "policy"), p + 1 < words.count {
                    policy = words[p + 1].trimmingCharacters(in: CharacterSet(charactersIn: ";"))
                }
                out.append(NftChains(family: family, table: table, chain: chain, hook: hook, policy: policy))
            }
        }
        return out
    }
}

extension String {
    fileprivate func nonEmptyOr(_ other: String) -> String { isEmpty ? other : self }
}

extension Lab {
    /// The explanation of a probe expectation (reachability, ping size, TCP), as text for a
    /// failure report; nil for expectations that are not about a path.
    public func explanationText(for e: LabExpectation) async -> String? {
        let request: (from: String, to: String, proto: ExplainProtocol, size: Int?)
        switch e {
        case let .reachable(f, t), let .unreachable(f, t, _): request = (f, t, .icmp, nil)
        case let .pingSize(f, t, s, _): request = (f, t, .icmp, s)
        case let .ping(f, t, o, _): request = (f, "\(t)", .icmp, o.dontFragment ? o.size : nil)
        case let .tcp(f, t, p, _), let .tcpConnect(f, t, p, _): request = (f, t, .tcp(port: p), nil)
        case let .throughput(f, t, p, _, _, _, _): request = (f, "\(t)", .tcp(port: p), nil)
        default: return nil
        }
        guard let to = IPAddress(request.to) else { return nil }
        do {
            return "\(try await explain(from: request.from, to: to, protocol: request.proto, size: request.size))"
        } catch {
            return "(no explanation: \(error))"
        }
    }
}

import Foundation
import Namespaces
import Netlink
import NetnsModel
import Synchronization

/// One rtnetlink event seen in a lab node: a link, address, route, neighbour or rule that the
/// kernel created, changed or deleted, with when it was seen.
///
/// As a line (``description``): `+0.412 s r1: del route 10.0.2.0/24 via 10.0.3.2 dev eth2 proto static`;
/// as JSON (`Codable`, one object per line in `events.jsonl`):
/// `{"at":0.412,"node":"r1","kind":"del","object":"route","text":"10.0.2.0/24 via …","route":{…}}`.
public struct LabEvent: Sendable, Hashable, Codable, CustomStringConvertible {
    /// What the kernel said happened: `new` (`RTM_NEW*`: created, or changed) or `del` (`RTM_DEL*`).
    public enum Kind: String, Sendable, Hashable, Codable {
        /// `RTM_NEWLINK`, `RTM_NEWADDR`, … (a link set down is a `new` link event with its new state).
        case new
        /// `RTM_DELLINK`, `RTM_DELADDR`, ….
        case del
        /// Not a kernel message: the node's socket overflowed and the kernel dropped events (`ENOBUFS`).
        case lost
    }
    /// The kind of object.
    public enum Object: String, Sendable, Hashable, Codable {
        /// A network device (`RTNLGRP_LINK`).
        case link
        /// An IPv4 or IPv6 address (`RTNLGRP_IPV4_IFADDR`, `RTNLGRP_IPV6_IFADDR`).
        case address
        /// An IPv4 or IPv6 route (`RTNLGRP_IPV4_ROUTE`, `RTNLGRP_IPV6_ROUTE`), any table.
        case route
        /// A neighbour or bridge FDB entry (`RTNLGRP_NEIGH`).
        case neighbor
        /// A policy rule (`RTNLGRP_IPV4_RULE`, `RTNLGRP_IPV6_RULE`).
        case rule
        /// Events the kernel dropped (``Kind/lost``).
        case unknown
    }

    /// Seconds since the lab was up (the time base of ``Lab/changes``), when the event was read.
    public var at: Double
    /// The node whose namespace the event happened in.
    public var node: String
    /// New (created or changed), deleted, or lost.
    public var kind: Kind
    /// Link, address, route, neighbour or rule.
    public var object: Object
    /// The object as `ip` prints it (`eth1 DOWN mtu 1500 (veth)`, `10.0.9.0/24 via 10.0.1.2 dev eth0`).
    public var text: String
    /// The link's fields, for a link event.
    public var link: Link?
    /// The address's fields, for an address event.
    public var address: Address?
    /// The route's fields, for a route event.
    public var route: Route?
    /// The neighbour's fields, for a neighbour event.
    public var neighbor: Neighbor?
    /// The rule's fields, for a rule event.
    public var rule: Rule?

    /// A link event's fields.
    public struct Link: Sendable, Hashable, Codable {
        /// The interface index and name.
        public var index: Int32, name: String
        /// Administratively up (`IFF_UP`), and with carrier (`IFF_LOWER_UP`).
        public var up: Bool, carrier: Bool
        /// The operational state as `ip` prints it (`UP`, `DOWN`, `LOWERLAYERDOWN`, …).
        public var operState: String
        /// The MTU, the driver kind (`veth`, `bridge`; nil for loopback) and the master's name.
        public var mtu: UInt32?, driver: String?, master: String?
        /// The MAC address.
        public var mac: String?
    }
    /// An address event's fields.
    public struct Address: Sendable, Hashable, Codable {
        /// `inet` or `inet6`.
        public var family: String
        /// The address with its prefix length, and the interface.
        public var prefix: String, interface: String
        /// `global`, `link`, `host`, … as `ip addr` prints the scope.
        public var scope: String
    }
    /// A route event's fields.
    public struct Route: Sendable, Hashable, Codable {
        /// `inet` or `inet6`.
        public var family: String
        /// The destination (`default` or a prefix), the gateway and the output device.
        public var destination: String, gateway: String?, device: String?
        /// The table number, the protocol name (`kernel`, `static`, `bird`, or a number) and the type (`unicast`, `local`, …).
        public var table: UInt32, proto: String, type: String
        /// The metric, and the devices of a multipath route's next hops.
        public var metric: UInt32?, nexthops: [String]?
    }
    /// A neighbour event's fields.
    public struct Neighbor: Sendable, Hashable, Codable {
        /// `inet`, `inet6` or `bridge` (an FDB entry).
        public var family: String
        /// The IP address, the link-layer address, the interface and the state (`REACHABLE`, `PERMANENT`, …).
        public var address: String?, mac: String?, interface: String, state: String
    }
    /// A rule event's fields.
    public struct Rule: Sendable, Hashable, Codable {
        /// `inet` or `inet6`.
        public var family: String
        /// The priority, and the table a lookup rule uses.
        public var priority: UInt32?, table: UInt32
    }

    /// `+0.412 s r1: del route 10.0.2.0/24 via 10.0.3.2 dev eth2 proto static`.
    public var description: String {
        "+\(format3(at)) s \(node): \(kind.rawValue) \(object == .unknown ? "events" : object.rawValue) \(text)"
    }

    /// The event as one line of JSON (keys sorted, no newline).
    public var jsonLine: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: e.encode(self), as: UTF8.self)) ?? "{}"
    }
}

// MARK: Decoding

/// Turns rtnetlink notifications of one node into ``LabEvent``s, keeping the node's interface
/// names (from a first dump, then from its link events) so addresses and routes name their device.
public struct LabEventDecoder: Sendable {
    /// The node the notifications come from.
    public let node: String
    /// Interface index to name, as far as known.
    public var names: [Int32: String]

    /// A decoder for `node`, knowing the interfaces in `names`.
    public init(node: String, names: [Int32: String] = [:]) {
        self.node = node; self.names = names
    }

    /// Decodes one notification (nil for a message type that is not an event, or one that does not decode).
    public mutating func decode(_ m: NetlinkMessage, at: Double) -> LabEvent? {
        let kind: LabEvent.Kind
        switch m.type {
        case RTM.newLink, RTM.newAddr, RTM.newRoute, RTM.newNeigh, RTM.newRule: kind = .new
        case RTM.delLink, RTM.delAddr, RTM.delRoute, RTM.delNeigh, RTM.delRule: kind = .del
        default: return nil
        }
        var e = LabEvent(at: at, node: node, kind: kind, object: .unknown, text: "")
        do {
            switch m.type {
            case RTM.newLink, RTM.delLink:
                let l = try LinkInfo(message: m)
                if kind == .new { names[l.index] = l.name } else { names[l.index] = nil }
                let master = l.master.map { names[$0] ?? "#\($0)" }
                var t = "\(l.index): \(l.name) \(l.isUp ? "UP" : "DOWN")"
                if l.isUp { t += l.hasCarrier ? " LOWER_UP" : " NO-CARRIER" }
                t += " state \(l.operStateName)"
                if let mtu = l.mtu { t += " mtu \(mtu)" }
                if let k = l.kind { t += " (\(k))" }
                if let master { t += " master \(master)" }
                if m.body.first == AF.bridge { t += " (bridge port)" }
                e.object = .link
                e.text = t
                e.link = .init(index: l.index, name: l.name, up: l.isUp, carrier: l.hasCarrier, operState: l.operStateName,
                               mtu: l.mtu, driver: l.kind, master: master, mac: l.mac.map { "\($0)" })
            case RTM.newAddr, RTM.delAddr:
                let a = try AddressInfo(message: m)
                let dev = name(Int32(bitPattern: a.index))
                let fam = a.prefix.address.isIPv6 ? "inet6" : "inet"
                let scope = Self.scopeName(a.scope)
                e.object = .address
                e.text = "\(fam) \(a.prefix) dev \(dev) scope \(scope)" + (a.isTentative ? " tentative" : "")
                e.address = .init(family: fam, prefix: "\(a.prefix)", interface: dev, scope: scope)
            case RTM.newRoute, RTM.delRoute:
                let r = try RouteInfo(message: m)
                let proto = Self.protocolName(r.proto)
                var t = RouteText.describe(r, names: names)
                t += " proto \(proto)"
                if r.scope != .universe { t += " scope \(Self.scopeName(r.scope.rawValue))" }
                e.object = .route
                e.text = t
                e.route = .init(family: r.family == AF.inet6 ? "inet6" : "inet", destination: r.destinationText,
                                gateway: r.gateway.map { "\($0)" }, device: r.outputIndex.map { name($0) },
                                table: r.table, proto: proto, type: "\(r.type)", metric: r.metric,
                                nexthops: r.nexthops.isEmpty ? nil : r.nexthops.map { name($0.index) })
            case RTM.newNeigh, RTM.delNeigh:
                let n = try NeighborInfo(message: m)
                let dev = name(n.index)
                let fam = n.family == AF.inet6 ? "inet6" : n.family == AF.bridge ? "bridge" : "inet"
                var t = n.address.map { "\($0) " } ?? ""
                t += "dev \(dev)"
                if let mac = n.mac { t += " lladdr \(mac)" }
                t += " \(n.stateName)"
                e.object = .neighbor
                e.text = t
                e.neighbor = .init(family: fam, address: n.address.map { "\($0)" }, mac: n.mac.map { "\($0)" },
                                   interface: dev, state: n.stateName)
            default:
                let r = try RuleInfo(message: m)
                let fam = r.family == AF.inet6 ? "inet6" : "inet"
                e.object = .rule
                e.text = "\(fam) \(r.summary)"
                e.rule = .init(family: fam, priority: r.priority, table: r.table)
            }
        } catch {
            e.text = "(\(RTM.name(m.type)) that does not decode: \(error))"
        }
        return e
    }

    private func name(_ index: Int32) -> String { names[index] ?? "#\(index)" }

    /// `global`, `site`, `link`, `host`, `nowhere`, or the number, as `ip` prints scopes.
    static func scopeName(_ s: UInt8) -> String {
        switch s {
        case 0: return "global"
        case 200: return "site"
        case 253: return "link"
        case 254: return "host"
        case 255: return "nowhere"
        default: return "\(s)"
        }
    }

    /// The protocol's name as `ip route` prints it, or its number.
    static func protocolName(_ p: UInt8) -> String {
        let names: [UInt8: String] = [0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 9: "ra", 11: "zebra",
                                      12: "bird", 16: "dhcp", 42: "babel", 186: "bgp", 187: "isis", 188: "ospf",
                                      189: "rip", 192: "eigrp"]
        return names[p] ?? "\(p)"
    }
}

// MARK: Recording

/// Records every rtnetlink event of a set of namespaces (a lab's nodes) with a timestamp: one
/// socket per namespace subscribed to the link, address, route, neighbour and rule groups of
/// IPv4 and IPv6, read by one thread of its own.
///
/// ```swift
/// let recorder = try lab.recordEvents()
/// try lab["r1"].linkDown("eth1")
/// let events = recorder.stop()          // the final list, oldest first
/// ```
/// - Important: each socket holds its namespace: ``stop()`` closes them (``Lab/down(waitUntilGone:)``
///   stops a lab's recorder before it closes the namespaces).
public final class EventRecorder: @unchecked Sendable {
    /// The groups every socket joins.
    static let groups = [RTNLGroup.link, RTNLGroup.neigh, RTNLGroup.ipv4IfAddr, RTNLGroup.ipv4Route, RTNLGroup.ipv4Rule,
                         RTNLGroup.ipv6IfAddr, RTNLGroup.ipv6Route, RTNLGroup.ipv6Rule]
    static let ipv6Groups: Set<UInt32> = [RTNLGroup.ipv6IfAddr, RTNLGroup.ipv6Route, RTNLGroup.ipv6Rule]
    /// At most this many events are kept (the oldest go first); ``droppedEvents`` counts the rest.
    public static let capacity = 200_000

    /// Set to nil once the thread has ended, which closes the sockets (they hold their namespaces).
    private nonisolated(unsafe) var listener: NotificationListener?
    private let decoders: Mutex<[LabEventDecoder]>
    private let start: Double
    private let recorded = Mutex<(events: [LabEvent], dropped: Int)>(([], 0))
    private let onEvent: (@Sendable (LabEvent) -> Void)?
    fileprivate let stopRegistered = Mutex(false)
    private let keep: Bool
    private let state = Mutex<(stopping: Bool, thread: pthread_t?, error: String?)>((false, nil, nil))

    /// Opens a socket in each namespace and starts the reading thread.
    /// - Parameters:
    ///   - namespaces: the nodes' names and namespaces.
    ///   - start: the monotonic time (`monotonicNow()`) events are timed from.
    ///   - keep: keep the events in memory (``events``); `nslab events` only streams them.
    ///   - onEvent: called on the recorder's thread with each event, as it arrives.
    /// - Throws: the socket, subscription or thread error; nothing is left open then.
    /// - Important: call from a thread in the process's own namespace (the reading thread is
    ///   created from it).
    public init(namespaces: [(node: String, namespace: NetworkNamespace)], start: Double, keep: Bool = true,
                onEvent: (@Sendable (LabEvent) -> Void)? = nil) throws {
        var sockets: [RTNetlinkSocket] = []
        var decoders: [LabEventDecoder] = []
        for (node, ns) in namespaces {
            let s = try ns.run { try RTNetlinkSocket(label: "ns \(node) (event recording)") }
            for g in Self.groups {
                if Self.ipv6Groups.contains(g) { try? s.subscribe(group: g) } else { try s.subscribe(group: g) } // a kernel may lack IPv6
            }
            // Subscribed first, then the names: a link made in between is in both, never in neither.
            let names = Dictionary(((try? s.links()) ?? []).map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
            sockets.append(s)
            decoders.append(LabEventDecoder(node: node, names: names))
        }
        listener = try NotificationListener(sockets)
        self.decoders = Mutex(decoders)
        self.start = start
        self.keep = keep
        self.onEvent = onEvent
        let thread = try startThread { [self] in self.loop() }
        state.withLock { $0.thread = thread }
    }

    /// The events recorded so far, oldest first.
    public var events: [LabEvent] { recorded.withLock { $0.events } }
    /// How many events were left out because more than ``capacity`` arrived.
    public var droppedEvents: Int { recorded.withLock { $0.dropped } }
    /// Why the reading thread stopped early, if it did (a socket error).
    public var failure: String? { state.withLock { $0.error } }

    private func loop() {
        ProcessFacts.nameThisThread("nk-events")
        while true {
            if state.withLock({ $0.stopping }) {
                // Read what is already queued, then end.
                _ = readOnce(timeout: 0)
                return
            }
            if !readOnce(timeout: -1) { return }
        }
    }

    /// One wait and what it brought. Returns false when the thread should end (an error).
    private func readOnce(timeout: Double) -> Bool {
        let arrivals: [NotificationListener.Arrival]
        guard let listener else { return false }
        do { arrivals = try listener.wait(timeout: timeout) } catch {
            state.withLock { $0.error = "\(error)" }
            return false
        }
        guard !arrivals.isEmpty else { return true }
        let at = monotonicNow() - start
        var out: [LabEvent] = []
        decoders.withLock { d in
            for a in arrivals {
                switch a {
                case .messages(let i, let messages):
                    for m in messages { if let e = d[i].decode(m, at: at) { out.append(e) } }
                case .overflow(let i):
                    out.append(LabEvent(at: at, node: d[i].node, kind: .lost, object: .unknown,
                                        text: "(the socket's receive buffer overflowed: the kernel dropped events here)"))
                }
            }
        }
        if keep {
            recorded.withLock { r in
                r.events += out
                if r.events.count > Self.capacity {
                    let extra = r.events.count - Self.capacity
                    r.events.removeFirst(extra)
                    r.dropped += extra
                }
            }
        }
        if let onEvent { for e in out { onEvent(e) } }
        return true
    }

    /// Stops recording: reads what the kernel has already queued, ends the thread and closes
    /// the sockets. Idempotent.
    /// - Returns: every event recorded, oldest first.
    @discardableResult
    public func stop() -> [LabEvent] {
        let thread = state.withLock { s -> pthread_t? in
            s.stopping = true
            defer { s.thread = nil }
            return s.thread
        }
        if let thread {
            listener?.wake()
            pthread_join(thread, nil)
            listener = nil
        }
        return events
    }

    deinit { stop() }
}

extension Lab {
    /// Starts recording every rtnetlink event of every node (links, addresses, routes,
    /// neighbours, rules; IPv4 and IPv6), timed like ``changes`` (seconds since the lab was up).
    /// Idempotent: a second call returns the running recorder. The teardown stops it.
    ///
    /// It costs a socket and a link dump per node and one thread, so it is off unless asked for
    /// (`.lab(topology, recordEvents: true)`, `NETNSKIT_RECORD_EVENTS=1`, `nslab events`).
    /// - Throws: the error of a socket that could not be opened (nothing is left recording then).
    @discardableResult
    public func recordEvents() throws -> EventRecorder {
        try eventRecorder.withLock { r -> EventRecorder in
            if let r { return r }
            let namespaces = try nodes.map { (node: $0.name, namespace: try $0.namespace) }
            let made = try EventRecorder(namespaces: namespaces, start: changeLog.start)
            r = made
            return made
        }.registeringStop(on: self)
    }

    /// Stops the event recording (if it runs): reads what the kernel has queued, closes the
    /// sockets. Idempotent; the teardown does it too.
    /// - Returns: every event recorded, oldest first (empty when the lab never recorded).
    @discardableResult
    public func stopRecordingEvents() -> [LabEvent] {
        eventRecorder.withLock { $0 }?.stop() ?? []
    }

    /// The events recorded since ``recordEvents()`` was called, oldest first; empty when not recording.
    public var events: [LabEvent] { eventRecorder.withLock { $0 }?.events ?? [] }

    /// The recorded events and the lab's ``changes``, interleaved by time, one line each, for
    /// failure reports (`timeline.txt`).
    public func timeline() -> String {
        var lines: [(Double, Int, String)] = events.enumerated().map { ($0.element.at, $0.offset, "\($0.element)") }
        lines += changes.enumerated().map { ($0.element.at, -1 - $0.offset, "\($0.element)  [change]") }
        lines.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        return lines.map { $0.2 + "\n" }.joined()
    }
}

extension EventRecorder {
    /// Makes the lab's teardown stop this recorder (once), before it closes the namespaces.
    fileprivate func registeringStop(on lab: Lab) -> EventRecorder {
        let first = stopRegistered.withLock { done -> Bool in defer { done = true }; return !done }
        if first { lab.onDown("stopping the event recording") { [self] in _ = self.stop() } }
        return self
    }
}

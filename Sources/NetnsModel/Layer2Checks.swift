// Checks of bridge settings, port flags, FDB entries, VXLAN devices and qdisc trees: each
// value the kernel would refuse becomes an issue at its declaration.

extension Resolution {
    /// The ports of each bridge, by node and bridge name: declared ports, link and tunnel ends
    /// with that master, and VXLAN devices enslaved to it.
    private var bridgePorts: [String: [String: Set<String>]] {
        var ports: [String: [String: Set<String>]] = [:]
        for node in topology.nodes {
            for b in node.bridges { for p in b.ports { ports[node.name, default: [:]][b.name, default: []].insert(p.name) } }
            for x in node.vxlans { if let m = x.master { ports[node.name, default: [:]][m, default: []].insert(x.name) } }
        }
        for link in topology.links {
            for end in link.ends {
                if let m = end.master, let i = end.endpoint.interface { ports[end.node, default: [:]][m, default: []].insert(i) }
            }
        }
        for t in topology.tunnels {
            for end in t.ends {
                if let m = end.master, let i = end.interface { ports[end.node, default: [:]][m, default: []].insert(i) }
            }
        }
        return ports
    }

    mutating func checkLayer2() {
        let ports = bridgePorts
        for (i, _) in uniqueNodes {
            let node = topology.nodes[i]
            let p = "nodes[\(i)]"
            for (j, b) in node.bridges.enumerated() {
                checkBridge(b, in: node.name, at: "\(p).bridges[\(j)]", ports: ports[node.name]?[b.name] ?? [])
            }
            for (j, m) in node.macvlans.enumerated() {
                if let bridge = ports[node.name]?.first(where: { $0.value.contains(m.parent) })?.key {
                    report(.invalidMacvlan, "macvlan \(m.name) is on \(m.parent), a port of bridge \(bridge); the kernel refuses it (EBUSY)",
                           at: "\(p).macvlans[\(j)].parent", m.provenance.location,
                           hint: "put the macvlan on the bridge itself (parent \(bridge)), or take \(m.parent) out of the bridge")
                }
            }
            checkVXLANDevices(node, at: p)
        }
        for (t, tunnel) in original.tunnels.enumerated() {
            if !tunnel.vxlan.isEmpty, tunnel.kind.name != "vxlan" {
                report(.invalidTunnel, "tos, learning, udpChecksum and df are VXLAN settings; tunnel \(tunnel.name) is \(tunnel.kind.name)",
                       at: "tunnels[\(t)]", tunnel.provenance.location, hint: "remove them, or make the tunnel a vxlan")
            }
        }
    }

    private mutating func checkBridge(_ b: Bridge, in node: String, at path: String, ports: Set<String>) {
        let location = b.provenance.location
        // The kernel's ranges (ERANGE outside them): BR_MIN/MAX_HELLO_TIME, BR_MIN/MAX_MAX_AGE.
        if let t = b.helloTime, !(100...1000).contains(t.centiseconds) {
            report(.invalidBridgeSetting, "helloTime \(t.tcText) of bridge \(b.name) is out of the kernel's range 1…10 s",
                   at: "\(path).helloTime", location, hint: "use 1 to 10 seconds (the default is 2)")
        }
        if let t = b.maxAge, !(600...4000).contains(t.centiseconds) {
            report(.invalidBridgeSetting, "maxAge \(t.tcText) of bridge \(b.name) is out of the kernel's range 6…40 s",
                   at: "\(path).maxAge", location, hint: "use 6 to 40 seconds (the default is 20)")
        }
        if let pvid = b.vlanDefaultPvid {
            if pvid > 4094 {
                report(.invalidVLANID, "vlanDefaultPvid \(pvid) of bridge \(b.name) is out of range 0…4094",
                       at: "\(path).vlanDefaultPvid", location, hint: "use 1…4094, or 0 for no default VLAN")
            } else if !b.vlanFiltering {
                report(.invalidVLANID, "bridge \(b.name) has vlanDefaultPvid but does not filter VLANs",
                       at: "\(path).vlanDefaultPvid", location, hint: "add vlanFiltering: true")
            }
        }
        var entries: [String: Int] = [:]
        for (k, e) in b.fdb.enumerated() {
            let at = "\(path).fdb[\(k)]"
            let loc = e.provenance.location ?? location
            reportMalformed(e.provenance, at: at)
            if e.mac == .zero && e.provenance.malformed.isEmpty {
                report(.invalidFDBEntry, "fdb entry 00:00:00:00:00:00 on bridge \(b.name): the kernel refuses the all-zero address on a bridge (EINVAL)",
                       at: "\(at).mac", loc, hint: "use the MAC address of a host; all-zero entries belong on VXLAN devices")
                continue
            }
            // One entry per address and VLAN in a bridge (EEXIST), whatever the port.
            let key = "\(e.mac) \(e.vlan ?? 0)"
            if let first = entries[key] {
                report(.invalidFDBEntry, "fdb entry \(e.mac)\(e.vlan.map { " vlan \($0)" } ?? "") is declared twice in bridge \(b.name) (first at \(path).fdb[\(first)])",
                       at: at, loc, hint: "keep one entry per address and VLAN")
                continue
            }
            entries[key] = k
            if e.dst != nil {
                report(.invalidFDBEntry, "fdb entry \(e.mac) on bridge \(b.name) has a dst; dst is for VXLAN devices",
                       at: "\(at).dst", loc, hint: "say which bridge port the address is behind with port")
            }
            guard let port = e.port else {
                report(.invalidFDBEntry, "fdb entry \(e.mac) on bridge \(b.name) has no port", at: at, loc,
                       hint: "say which bridge port the address is behind with port")
                continue
            }
            guard require(port, in: node, role: "fdb entry \(e.mac)", at: "\(at).port", loc) else { continue }
            if !ports.contains(port) {
                report(.invalidFDBEntry, "fdb entry \(e.mac): \(port) is not a port of bridge \(b.name) (ports: \(ports.sorted().joined(separator: ", ")))",
                       at: "\(at).port", loc, hint: "use one of the bridge's ports")
                continue
            }
            if let vid = e.vlan {
                let declared = b.ports.first { $0.name == port }
                let member = Set((declared?.pvid.map { [$0] } ?? []) + (declared?.vlans ?? [])
                                 + (declared?.pvid == nil ? [b.vlanDefaultPvid ?? 1] : []))
                if !b.vlanFiltering {
                    report(.invalidFDBEntry, "fdb entry \(e.mac) has vlan \(vid) but bridge \(b.name) does not filter VLANs",
                           at: "\(at).vlan", loc, hint: "add vlanFiltering: true to the bridge, or remove vlan")
                } else if !member.contains(vid) {
                    report(.invalidFDBEntry, "fdb entry \(e.mac) has vlan \(vid), which port \(port) does not carry (it carries \(member.sorted().map(String.init).joined(separator: ", ")))",
                           at: "\(at).vlan", loc, hint: "add \(vid) to the port's vlans, or use one of its VLANs")
                }
            }
        }
    }

    private mutating func checkVXLANDevices(_ node: Node, at p: String) {
        // The kernel refuses a second VXLAN device with the same VNI, port and family in one namespace.
        var seen: [String: String] = [:]
        func claim(_ vni: UInt32, _ port: UInt16, v6: Bool, _ name: String, at path: String, _ location: DeclarationLocation?) {
            let key = "\(vni) \(port) \(v6)"
            if let first = seen[key] {
                report(.invalidTunnel, "\(name) and \(first) in \(node.name) both have VNI \(vni) on port \(port); the kernel refuses the second",
                       at: path, location, hint: "declare one VXLAN device with several remotes instead")
            } else {
                seen[key] = name
            }
        }
        for (k, t) in topology.tunnels.enumerated() {
            guard case .vxlan(let vni, let port) = t.kind else { continue }
            for end in t.ends where end.node == node.name {
                let v6 = if case .address(let a) = end.underlay { a.isIPv6 } else { false }
                claim(vni, port, v6: v6, end.interface ?? t.name, at: "tunnels[\(k)]", t.provenance.location)
            }
        }
        for (j, x) in node.vxlans.enumerated() {
            let path = "\(p).vxlans[\(j)]"
            let location = x.provenance.location
            reportMalformed(x.provenance, at: path)
            if x.vni >= 1 << 24 {
                report(.invalidTunnel, "VXLAN id \(x.vni) is out of range 0…16777215", at: "\(path).vni", location)
            }
            let addresses = [x.local, x.group].compactMap { $0 } + x.remotes + x.fdb.compactMap(\.dst)
            let v6 = addresses.first?.isIPv6 ?? false
            if addresses.contains(where: { $0.isIPv6 != v6 }) {
                report(.familyMismatch, "VXLAN \(x.name) mixes IPv4 and IPv6 addresses in local, group, remotes and fdb",
                       at: path, location, hint: "use one family for the underlay")
            }
            claim(x.vni, x.port, v6: v6, x.name, at: path, location)
            if let g = x.group {
                if !g.isMulticast {
                    report(.invalidTunnel, "group \(g) of VXLAN \(x.name) is not a multicast address", at: "\(path).group", location,
                           hint: "use a multicast group (224.0.0.0/4, ff00::/8), or list unicast VTEPs in remotes")
                } else if x.dev == nil {
                    report(.invalidTunnel, "VXLAN \(x.name) has a multicast group but no dev; the kernel needs the interface to join it on",
                           at: "\(path).dev", location, hint: "add dev: the underlay interface")
                }
            }
            for (k, r) in x.remotes.enumerated() where r.isMulticast {
                report(.invalidTunnel, "remote \(r) of VXLAN \(x.name) is a multicast address", at: "\(path).remotes[\(k)]", location,
                       hint: "put a multicast address in group")
            }
            if let dev = x.dev { require(dev, in: node.name, role: "VXLAN dev", at: "\(path).dev", location) }
            if let m = x.master { checkMaster(m, in: node.name, at: "\(path).master", location) }
            for (k, e) in x.fdb.enumerated() {
                let at = "\(path).fdb[\(k)]"
                let loc = e.provenance.location ?? location
                reportMalformed(e.provenance, at: at)
                if e.dst == nil {
                    report(.invalidFDBEntry, "fdb entry \(e.mac) on VXLAN \(x.name) has no dst", at: at, loc,
                           hint: "say which remote VTEP the address is behind with dst")
                }
                if e.port != nil || e.vlan != nil {
                    report(.invalidFDBEntry, "fdb entry \(e.mac) on VXLAN \(x.name) has a port or vlan; those are for bridges",
                           at: at, loc, hint: "remove port and vlan (a VXLAN entry has mac and dst)")
                }
            }
        }
    }

    mutating func checkQdiscs() {
        for (i, _) in uniqueNodes {
            let node = topology.nodes[i]
            var byInterface: [String: [(index: Int, qdisc: Qdisc)]] = [:]
            for (j, q) in node.qdiscs.enumerated() {
                let path = "nodes[\(i)].qdiscs[\(j)]"
                let location = q.provenance.location
                if let ifname = q.interface { byInterface[ifname, default: []].append((j, q)) }
                if q.major == 0 || q.major == 0xffff {
                    report(.invalidQdisc, "qdisc handle \(String(q.major, radix: 16)): is reserved", at: "\(path).handle", location,
                           hint: "use a major number from 1 to fffe (hex)")
                }
                switch q.kind {
                case let .tbf(rate, burst, limit):
                    if rate.bitsPerSecond == 0 {
                        report(.invalidQdisc, "tbf rate is 0", at: "\(path).tbf.rate", location, hint: "give a rate like 10mbit")
                    }
                    if burst <= 0 {
                        report(.invalidQdisc, "tbf burst is \(burst); the kernel refuses a bucket that holds no packet (EINVAL)",
                               at: "\(path).tbf.burst", location, hint: "give at least one MTU, like burst 1600 (or 32K)")
                    }
                    if case .bytes(let n) = limit, n <= 0 {
                        report(.invalidQdisc, "tbf limit is \(n) bytes", at: "\(path).tbf.limit", location,
                               hint: "give a queue limit in bytes (like 3000), or a latency")
                    }
                case let .htb(_, classes):
                    var ids = Set<UInt32>()
                    for (k, c) in classes.enumerated() {
                        let at = "\(path).htb.classes[\(k)]"
                        if c.id == 0 || c.id > 0xffff {
                            report(.invalidQdisc, "htb class id \(c.id) is out of range 1…65535", at: "\(at).id", location)
                        } else if !ids.insert(c.id).inserted {
                            report(.invalidQdisc, "htb class id \(c.id) is declared twice", at: "\(at).id", location,
                                   hint: "give each class its own id")
                        }
                        if c.rate.bitsPerSecond == 0 {
                            report(.invalidQdisc, "htb class \(c.id) has rate 0", at: "\(at).rate", location, hint: "give a rate like 1mbit")
                        }
                    }
                    for (k, c) in classes.enumerated() {
                        if let parent = c.parent, parent == c.id || !classes.contains(where: { $0.id == parent }) {
                            report(.invalidQdisc, "htb class \(c.id) has parent \(parent), which is not another class of this qdisc",
                                   at: "\(path).htb.classes[\(k)].parent", location,
                                   hint: "use the id of another class (known: \(classes.map { String($0.id) }.joined(separator: ", ")))")
                        }
                    }
                case .netem:
                    break
                }
            }
            for (_, list) in byInterface.sorted(by: { $0.key < $1.key }) {
                checkQdiscTree(list, node: i)
            }
        }
    }

    /// One root per interface, unique handles, every parent a class of another qdisc there, and
    /// every qdisc under the root (no cycles).
    private mutating func checkQdiscTree(_ list: [(index: Int, qdisc: Qdisc)], node i: Int) {
        defer { checkQdiscsReachRoot(list, node: i) }
        var handles: [UInt16: Int] = [:]
        var roots = 0
        var parents: Set<TCHandle> = []
        for (j, q) in list {
            let path = "nodes[\(i)].qdiscs[\(j)]"
            let location = q.provenance.location
            let ifname = q.interface ?? ""
            if let first = handles[q.major] {
                report(.invalidQdisc, "qdisc handle \(String(q.major, radix: 16)): on \(ifname) is used twice (first at nodes[\(i)].qdiscs[\(first)])",
                       at: "\(path).handle", location, hint: "give each qdisc on an interface its own handle")
            } else {
                handles[q.major] = j
            }
            guard let parent = q.parent else {
                roots += 1
                if roots == 2 {
                    report(.invalidQdisc, "\(ifname) has a second root qdisc", at: path, location,
                           hint: "attach it under a class of the first with parent (like parent: \"1:10\")")
                }
                continue
            }
            if !parents.insert(parent).inserted {
                report(.invalidQdisc, "two qdiscs on \(ifname) have parent \(parent)", at: "\(path).parent", location,
                       hint: "a class holds one qdisc")
            }
            let owner = list.first { $0.qdisc.major == parent.major && $0.index != j }?.qdisc
            let isClass: Bool = if case .htb(_, let classes)? = owner?.kind {
                classes.contains { $0.id == UInt32(parent.minor) }
            } else { false }
            if !isClass {
                report(.invalidQdisc, "parent \(parent) of the \(q.kind.name) qdisc on \(ifname) is not a class of another qdisc there",
                       at: "\(path).parent", location,
                       hint: "use an htb class of a qdisc on \(ifname); tc writes class ids in hex, so class 16 of 1: is 1:10")
            }
        }
    }

    /// Reports the qdiscs that hang off each other in a loop instead of off the root (each
    /// parent itself being valid), which the planner could not order.
    private mutating func checkQdiscsReachRoot(_ list: [(index: Int, qdisc: Qdisc)], node i: Int) {
        var placed = Set(list.filter { $0.qdisc.parent == nil }.map(\.qdisc.major))
        var pending = list.filter { $0.qdisc.parent != nil }
        while let k = pending.firstIndex(where: { placed.contains($0.qdisc.parent!.major) }) {
            placed.insert(pending.remove(at: k).qdisc.major)
        }
        let parentsExist = pending.filter { p in list.contains { $0.qdisc.major == p.qdisc.parent!.major && $0.index != p.index } }
        for (j, q) in parentsExist {
            report(.invalidQdisc, "the \(q.kind.name) qdisc \(String(q.major, radix: 16)): on \(q.interface ?? "") is not under a root qdisc (its parents form a loop)",
                   at: "nodes[\(i)].qdiscs[\(j)].parent", q.provenance.location,
                   hint: "attach one of them at the root (leave parent out)")
        }
    }
}

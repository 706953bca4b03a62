// Codable conformances that give the file schema documented in FileFormat.md: CIDRs, endpoints,
// rates and times as strings, defaults left out, and short forms (a bare endpoint for a link end,
// a bare prefix for an address, a bare name for a bridge port or dummy).

package struct FieldKey: CodingKey {
    package var stringValue: String
    package var intValue: Int? { nil }
    package init(_ s: String) { stringValue = s }
    package init?(stringValue: String) { self.stringValue = stringValue }
    package init?(intValue: Int) { nil }
}

extension KeyedDecodingContainer where K == FieldKey {
    package func value<T: Decodable>(_ key: String, default fallback: @autoclosure () -> T) throws -> T {
        try placed(key, T.self) { try decodeIfPresent(T.self, forKey: FieldKey(key)) } ?? fallback()
    }
    package func optional<T: Decodable>(_ key: String) throws -> T? {
        try placed(key, T.self) { try decodeIfPresent(T.self, forKey: FieldKey(key)) }
    }
    package func required<T: Decodable>(_ key: String) throws -> T {
        try placed(key, T.self) { try decode(T.self, forKey: FieldKey(key)) }
    }

    /// Foundation's JSONDecoder throws its own internal error for a number that does not fit the
    /// type (a fraction, or too large), which reaches the caller as "The given data was not valid
    /// JSON." with no key path: give it the key and the type instead.
    private func placed<T, R>(_ key: String, _ type: T.Type, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let e where !(e is DecodingError) && String(reflecting: Swift.type(of: e)).contains("JSONError") {
            throw DecodingError.typeMismatch(T.self, DecodingError.Context(
                codingPath: codingPath + [FieldKey(key)], debugDescription: "\(e)"))
        }
    }

    /// Rejects keys the schema does not have, so a typo is an error rather than silently ignored.
    package func only(_ keys: [String]) throws {
        if let unknown = allKeys.first(where: { !keys.contains($0.stringValue) }) {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: codingPath + [unknown],
                debugDescription: "unknown key \"\(unknown.stringValue)\" (expected one of: \(keys.joined(separator: ", ")))"
                    + (closestKey(unknown.stringValue, in: keys).map { "; did you mean \"\($0)\"?" } ?? "")))
        }
    }
}

extension KeyedEncodingContainer where K == FieldKey {
    package mutating func put<T: Encodable>(_ value: T?, _ key: String) throws {
        if let value { try encode(value, forKey: FieldKey(key)) }
    }
    package mutating func put<T: Encodable & Collection>(nonEmpty value: T, _ key: String) throws {
        if !value.isEmpty { try encode(value, forKey: FieldKey(key)) }
    }
    package mutating func put(_ value: Bool, _ key: String, unless fallback: Bool) throws {
        if value != fallback { try encode(value, forKey: FieldKey(key)) }
    }
}

package func corrupted(_ decoder: Decoder, _ message: String) -> DecodingError {
    .dataCorrupted(DecodingError.Context(codingPath: decoder.codingPath, debugDescription: message))
}

/// A sysctl map written with its keys in order, so files are deterministic.
private struct SortedMap: Encodable {
    var values: [String: String]
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        for key in values.keys.sorted() { try c.encode(values[key]!, forKey: FieldKey(key)) }
    }
}

extension Topology: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "nodes", "links", "tunnels"])
        self.init(name: try c.required("name"), nodes: try c.value("nodes", default: []),
                  links: try c.value("links", default: []), tunnels: try c.value("tunnels", default: []))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        try c.put(nonEmpty: nodes, "nodes")
        try c.put(nonEmpty: links, "links")
        try c.put(nonEmpty: tunnels, "tunnels")
    }
}

extension Node: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "kind", "addresses", "routes", "rules", "sysctls", "bridges", "macvlans", "vlans",
                    "dummies", "qdiscs", "neighbors", "firewall"])
        self.init(name: try c.required("name"), kind: try c.value("kind", default: .host),
                  addresses: try c.value("addresses", default: []), routes: try c.value("routes", default: []),
                  rules: try c.value("rules", default: []), sysctls: try c.value("sysctls", default: [:]),
                  bridges: try c.value("bridges", default: []), macvlans: try c.value("macvlans", default: []),
                  vlans: try c.value("vlans", default: []), dummies: try c.value("dummies", default: []),
                  qdiscs: try c.value("qdiscs", default: []), neighbors: try c.value("neighbors", default: []),
                  firewall: try c.value("firewall", default: nil))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        if kind != .host { try c.put(kind, "kind") }
        try c.put(nonEmpty: addresses, "addresses")
        try c.put(nonEmpty: routes, "routes")
        try c.put(nonEmpty: rules, "rules")
        if !sysctls.isEmpty { try c.put(SortedMap(values: sysctls), "sysctls") }
        try c.put(nonEmpty: bridges, "bridges")
        try c.put(nonEmpty: macvlans, "macvlans")
        try c.put(nonEmpty: vlans, "vlans")
        try c.put(nonEmpty: dummies, "dummies")
        try c.put(nonEmpty: qdiscs, "qdiscs")
        try c.put(nonEmpty: neighbors, "neighbors")
        if let f = firewall { try c.put(f, "firewall") }
    }
}

extension InterfaceAddress: Codable {
    /// Decodes `10.0.1.2/24` or `{address: 10.0.1.2/24, on: eth0, nodad: false}`.
    public init(from decoder: Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            guard let prefix = IPPrefix(text) else { throw corrupted(decoder, "not an address/prefix: \"\(text)\"") }
            self.init(interface: nil, prefix: prefix)
            return
        }
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["address", "on", "nodad"])
        self.init(interface: try c.optional("on"), prefix: try c.required("address"), nodad: try c.value("nodad", default: true))
    }

    public func encode(to encoder: Encoder) throws {
        if interface == nil && nodad {
            var c = encoder.singleValueContainer()
            try c.encode(prefix)
            return
        }
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(prefix, "address")
        try c.put(interface, "on")
        try c.put(nodad, "nodad", unless: true)
    }
}

extension Neighbor: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["address", "mac", "on"])
        self.init(interface: try c.optional("on"), address: try c.required("address"), mac: try c.required("mac"))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(address, "address")
        try c.put(mac, "mac")
        try c.put(interface, "on")
    }
}

extension Bridge: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "ports", "stp", "vlanFiltering", "mtu", "mac", "addresses"])
        self.init(name: try c.required("name"), ports: try c.value("ports", default: []),
                  stp: try c.value("stp", default: false), vlanFiltering: try c.value("vlanFiltering", default: false),
                  mtu: try c.optional("mtu"), mac: try c.optional("mac"), addresses: try c.value("addresses", default: []))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        try c.put(nonEmpty: ports, "ports")
        try c.put(stp, "stp", unless: false)
        try c.put(vlanFiltering, "vlanFiltering", unless: false)
        try c.put(mtu, "mtu")
        try c.put(mac, "mac")
        try c.put(nonEmpty: addresses, "addresses")
    }
}

extension BridgePort: Codable {
    /// Decodes `eth1` or `{name: eth1, pvid: 10, vlans: [20, 30]}`.
    public init(from decoder: Decoder) throws {
        if let name = try? decoder.singleValueContainer().decode(String.self) {
            self.init(name: name)
            return
        }
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "pvid", "vlans"])
        self.init(name: try c.required("name"), pvid: try c.optional("pvid"), vlans: try c.value("vlans", default: []))
    }

    public func encode(to encoder: Encoder) throws {
        if pvid == nil && vlans.isEmpty {
            var c = encoder.singleValueContainer()
            try c.encode(name)
            return
        }
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        try c.put(pvid, "pvid")
        try c.put(nonEmpty: vlans, "vlans")
    }
}

extension Macvlan: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "parent", "mode", "mac"])
        self.init(name: try c.required("name"), parent: try c.required("parent"),
                  mode: try c.value("mode", default: .bridge), mac: try c.optional("mac"))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        try c.put(parent, "parent")
        try c.put(mode, "mode")
        try c.put(mac, "mac")
    }
}

extension VLAN: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "parent", "id"])
        let parent: String = try c.required("parent")
        let id: Int = try c.required("id")
        self.init(name: try c.value("name", default: "\(parent).\(id)"), parent: parent, id: id)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        try c.put(parent, "parent")
        try c.put(id, "id")
    }
}

extension Dummy: Codable {
    /// Decodes `d0` or `{name: d0, mtu: 9000}`.
    public init(from decoder: Decoder) throws {
        if let name = try? decoder.singleValueContainer().decode(String.self) {
            self.init(name: name)
            return
        }
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "mtu"])
        self.init(name: try c.required("name"), mtu: try c.optional("mtu"))
    }

    public func encode(to encoder: Encoder) throws {
        if mtu == nil {
            var c = encoder.singleValueContainer()
            try c.encode(name)
            return
        }
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        try c.put(mtu, "mtu")
    }
}

extension Link: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["a", "b", "mtu"])
        self.init(a: try c.required("a"), b: try c.required("b"), mtu: try c.optional("mtu"))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(a, "a")
        try c.put(b, "b")
        try c.put(mtu, "mtu")
    }
}

extension LinkEnd: Codable {
    /// Decodes `h1:eth0` or `{endpoint: h1:eth0, addresses: [...], mtu:, mac:, master:, alias:}`.
    public init(from decoder: Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            self.init(endpoint: Endpoint(text))
            return
        }
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["endpoint", "addresses", "mtu", "mac", "master", "alias"])
        self.init(endpoint: try c.required("endpoint"), mac: try c.optional("mac"), mtu: try c.optional("mtu"),
                  addresses: try c.value("addresses", default: []), master: try c.optional("master"),
                  alias: try c.optional("alias"))
    }

    public func encode(to encoder: Encoder) throws {
        if mac == nil && mtu == nil && addresses.isEmpty && master == nil && alias == nil {
            var c = encoder.singleValueContainer()
            try c.encode(endpoint)
            return
        }
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(endpoint, "endpoint")
        try c.put(nonEmpty: addresses, "addresses")
        try c.put(mtu, "mtu")
        try c.put(mac, "mac")
        try c.put(master, "master")
        try c.put(alias, "alias")
    }
}

extension Underlay: Codable {
    public init(from decoder: Decoder) throws { self.init(try decoder.singleValueContainer().decode(String.self)) }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension Tunnel: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "kind", "vni", "port", "a", "b", "mtu", "ttl"])
        let kindName: String = try c.required("kind")
        let kind: Kind
        switch kindName {
        case "vxlan": kind = .vxlan(vni: try c.required("vni"), port: try c.value("port", default: 4789))
        case "gre": kind = .gre
        case "gretap": kind = .gretap
        case "ipip": kind = .ipip
        case "sit": kind = .sit
        case "ip6tnl": kind = .ip6tnl
        case "wireguard": kind = .wireguard(port: try c.value("port", default: 51820))
        default:
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: c.codingPath + [FieldKey("kind")],
                debugDescription: "unknown tunnel kind \"\(kindName)\" (expected vxlan, gre, gretap, ipip, sit, ip6tnl or wireguard)"))
        }
        self.init(name: try c.required("name"), kind: kind, a: try c.required("a"), b: try c.required("b"),
                  mtu: try c.optional("mtu"), ttl: try c.optional("ttl"))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        try c.put(kind.name, "kind")
        switch kind {
        case .vxlan(let vni, let port):
            try c.put(vni, "vni")
            if port != 4789 { try c.put(port, "port") }
        case .wireguard(let port):
            if port != 51820 { try c.put(port, "port") }
        default: break
        }
        try c.put(a, "a")
        try c.put(b, "b")
        try c.put(mtu, "mtu")
        try c.put(ttl, "ttl")
    }
}

extension TunnelEnd: Codable {
    /// Decodes `h1` or `{node: h1, interface:, underlay:, underlayDevice:, addresses:, master:}`.
    public init(from decoder: Decoder) throws {
        if let node = try? decoder.singleValueContainer().decode(String.self) {
            self.init(node: node)
            return
        }
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["node", "interface", "underlay", "underlayDevice", "addresses", "master"])
        self.init(node: try c.required("node"), interface: try c.optional("interface"), underlay: try c.optional("underlay"),
                  underlayDevice: try c.optional("underlayDevice"), addresses: try c.value("addresses", default: []),
                  master: try c.optional("master"))
    }

    public func encode(to encoder: Encoder) throws {
        if interface == nil && underlay == nil && underlayDevice == nil && addresses.isEmpty && master == nil {
            var c = encoder.singleValueContainer()
            try c.encode(node)
            return
        }
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(node, "node")
        try c.put(interface, "interface")
        try c.put(underlay, "underlay")
        try c.put(underlayDevice, "underlayDevice")
        try c.put(nonEmpty: addresses, "addresses")
        try c.put(master, "master")
    }
}

extension RouteType {
    /// The `ip route` name of the type.
    var name: String { "\(self)" }
}

extension RouteScope {
    /// The `ip route` name of the scope.
    var name: String { "\(self)" }
}

extension Route: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["to", "via", "dev", "metric", "table", "scope", "proto", "src", "onlink", "type", "nexthops"])
        let to: String = try c.required("to")
        let destination: Destination
        if to == "default" { destination = .default } else if let p = IPPrefix(to) { destination = .prefix(p) } else {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: c.codingPath + [FieldKey("to")], debugDescription: "not a destination: \"\(to)\" (expected default or a prefix like 10.0.0.0/8)"))
        }
        func named<T>(_ key: String, _ all: [T], _ name: (T) -> String) throws -> T? {
            guard let text: String = try c.optional(key) else { return nil }
            guard let value = all.first(where: { name($0) == text }) else {
                throw DecodingError.dataCorrupted(DecodingError.Context(
                    codingPath: c.codingPath + [FieldKey(key)],
                    debugDescription: "unknown \(key) \"\(text)\" (expected one of: \(all.map(name).joined(separator: ", ")))"))
            }
            return value
        }
        let types: [RouteType] = [.unicast, .blackhole, .unreachable, .prohibit]
        let scopes: [RouteScope] = [.universe, .site, .link, .host, .nowhere]
        self.init(destination: destination, via: try c.optional("via"), dev: try c.optional("dev"),
                  metric: try c.optional("metric"), table: try c.value("table", default: RouteTable.main),
                  scope: try named("scope", scopes, \.name), proto: try c.optional("proto"), src: try c.optional("src"),
                  onlink: try c.value("onlink", default: false), type: try named("type", types, \.name) ?? .unicast,
                  nexthops: try c.value("nexthops", default: []))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(destination.description, "to")
        try c.put(via, "via")
        try c.put(dev, "dev")
        try c.put(metric, "metric")
        if table != RouteTable.main { try c.put(table, "table") }
        try c.put(scope?.name, "scope")
        try c.put(proto, "proto")
        try c.put(src, "src")
        try c.put(onlink, "onlink", unless: false)
        if type != .unicast { try c.put(type.name, "type") }
        try c.put(nonEmpty: nexthops, "nexthops")
    }
}

extension Nexthop: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["via", "dev", "weight"])
        self.init(via: try c.optional("via"), dev: try c.optional("dev"), weight: try c.value("weight", default: 1))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(via, "via")
        try c.put(dev, "dev")
        if weight != 1 { try c.put(weight, "weight") }
    }
}

extension Rule: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["family", "priority", "from", "to", "iif", "oif", "fwmark", "fwmask", "table", "action"])
        let actionName: String = try c.value("action", default: "lookup")
        let action: Action
        switch actionName {
        case "lookup": action = .lookup(table: try c.value("table", default: RouteTable.main))
        case "blackhole": action = .blackhole
        case "unreachable": action = .unreachable
        case "prohibit": action = .prohibit
        default:
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: c.codingPath + [FieldKey("action")],
                debugDescription: "unknown rule action \"\(actionName)\" (expected lookup, blackhole, unreachable or prohibit)"))
        }
        self.init(family: try c.optional("family"), priority: try c.optional("priority"), from: try c.optional("from"),
                  to: try c.optional("to"), iif: try c.optional("iif"), oif: try c.optional("oif"),
                  fwmark: try c.optional("fwmark"), fwmask: try c.optional("fwmask"), action: action)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(family, "family")
        try c.put(priority, "priority")
        try c.put(from, "from")
        try c.put(to, "to")
        try c.put(iif, "iif")
        try c.put(oif, "oif")
        try c.put(fwmark, "fwmark")
        try c.put(fwmask, "fwmask")
        switch action {
        case .lookup(let table): try c.put(table, "table")
        default: try c.put(action.description, "action")
        }
    }
}

/// A time written like `50ms`, `2s` or `250us`.
private struct TCTime: Codable {
    var value: Duration

    init(_ value: Duration) { self.value = value }

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let ms = try? c.decode(Double.self) {
            value = .microseconds(Int64(ms * 1000))
            return
        }
        let text = try c.decode(String.self)
        guard let d = Duration(tcText: text) else { throw corrupted(decoder, "not a time: \"\(text)\" (expected e.g. 50ms)") }
        value = d
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value.tcText)
    }
}

extension Qdisc: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["on", "tbf", "htb", "netem"])
        let kinds = c.allKeys.map(\.stringValue).filter { ["tbf", "htb", "netem"].contains($0) }
        guard kinds.count == 1 else {
            throw corrupted(decoder, "a qdisc needs exactly one of tbf, htb or netem (found \(kinds.isEmpty ? "none" : kinds.joined(separator: ", ")))")
        }
        let k = try c.nestedContainer(keyedBy: FieldKey.self, forKey: FieldKey(kinds[0]))
        let kind: Kind
        switch kinds[0] {
        case "tbf":
            try k.only(["rate", "burst", "latency", "limit"])
            let limit: TBFLimit
            if let bytes: Int = try k.optional("limit") { limit = .bytes(bytes) } else {
                limit = .latency((try k.required("latency") as TCTime).value)
            }
            kind = .tbf(rate: try k.required("rate"), burst: try k.required("burst"), limit: limit)
        case "htb":
            try k.only(["default", "classes"])
            kind = .htb(defaultClass: try k.required("default"), classes: try k.value("classes", default: []))
        default:
            try k.only(["delay", "jitter", "loss"])
            kind = .netem(delay: (try k.optional("delay") as TCTime?)?.value ?? .zero,
                          jitter: (try k.optional("jitter") as TCTime?)?.value ?? .zero,
                          loss: try k.value("loss", default: 0))
        }
        self.init(interface: try c.optional("on"), kind: kind)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(interface, "on")
        var k = c.nestedContainer(keyedBy: FieldKey.self, forKey: FieldKey(kind.name))
        switch kind {
        case .tbf(let rate, let burst, let limit):
            try k.put(rate, "rate")
            try k.put(burst, "burst")
            switch limit {
            case .latency(let d): try k.put(TCTime(d), "latency")
            case .bytes(let n): try k.put(n, "limit")
            }
        case .htb(let defaultClass, let classes):
            try k.put(defaultClass, "default")
            try k.put(nonEmpty: classes, "classes")
        case .netem(let delay, let jitter, let loss):
            if delay != .zero { try k.put(TCTime(delay), "delay") }
            if jitter != .zero { try k.put(TCTime(jitter), "jitter") }
            if loss != 0 { try k.put(loss, "loss") }
        }
    }
}

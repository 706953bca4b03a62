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

    /// A whole number written as `ip` accepts one: a number, or a string in decimal or `0x` hex
    /// (`fwmark: "0x64"`), or one of `names` (`table: main`).
    package func number<T: FixedWidthInteger & UnsignedInteger & Decodable>(
        _ key: String, _ type: T.Type = T.self, names: [String: T] = [:]
    ) throws -> T? {
        let k = FieldKey(key)
        guard contains(k), try !decodeNil(forKey: k) else { return nil }
        if let n = try? decode(T.self, forKey: k) { return n }
        let words = names.keys.sorted()
        let expected = "a whole number of 0…\(T.max), in decimal or hex like 0x64" + (words.isEmpty ? "" : ", or one of: \(words.joined(separator: ", "))")
        guard let text = try? decode(String.self, forKey: k) else {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: codingPath + [k], debugDescription: "expected \(expected)"))
        }
        if let v = names[text] ?? parseNumber(text, T.self) { return v }
        if !text.isEmpty && text.allSatisfy({ $0.isASCII && $0.isNumber }) {
            // Digits that do not fit: say the range, as for any number.
            throw DecodingError.typeMismatch(T.self, DecodingError.Context(codingPath: codingPath + [k], debugDescription: text))
        }
        throw DecodingError.dataCorrupted(DecodingError.Context(
            codingPath: codingPath + [k], debugDescription: "\(key) \"\(text)\" is not \(expected)"))
    }

    /// One of a fixed set of words, listing them (and the closest) when the text is none of them.
    package func choice<T>(_ key: String, _ all: [T], _ name: (T) -> String) throws -> T? {
        guard let text: String = try optional(key) else { return nil }
        if let value = all.first(where: { name($0) == text }) { return value }
        let names = all.map(name)
        throw DecodingError.dataCorrupted(DecodingError.Context(
            codingPath: codingPath + [FieldKey(key)],
            debugDescription: "unknown \(key) \"\(text)\" (expected one of: \(names.joined(separator: ", ")))"
                + (closestKey(text, in: names).map { "; did you mean \"\($0)\"?" } ?? "")))
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
    /// Reads a topology in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "nodes", "links", "tunnels"])
        self.init(name: try c.required("name"), nodes: try c.value("nodes", default: []),
                  links: try c.value("links", default: []), tunnels: try c.value("tunnels", default: []))
    }

    /// Writes a topology in the topology file form (`FileFormat.md`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        try c.put(nonEmpty: nodes, "nodes")
        try c.put(nonEmpty: links, "links")
        try c.put(nonEmpty: tunnels, "tunnels")
    }
}

extension Node: Codable {
    /// Reads a node in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "kind", "addresses", "routes", "rules", "sysctls", "bridges", "macvlans", "vlans",
                    "dummies", "devices", "vxlans", "qdiscs", "neighbors", "firewall", "isolation"])
        self.init(name: try c.required("name"), kind: try c.choice("kind", NodeKind.allCases, \.rawValue) ?? .host,
                  addresses: try c.value("addresses", default: []), routes: try c.value("routes", default: []),
                  rules: try c.value("rules", default: []), sysctls: try c.value("sysctls", default: [:]),
                  bridges: try c.value("bridges", default: []), macvlans: try c.value("macvlans", default: []),
                  vlans: try c.value("vlans", default: []), dummies: try c.value("dummies", default: []),
                  devices: try c.value("devices", default: []), vxlans: try c.value("vxlans", default: []),
                  qdiscs: try c.value("qdiscs", default: []), neighbors: try c.value("neighbors", default: []),
                  firewall: try c.value("firewall", default: nil), isolation: try c.choice("isolation", Isolation.allCases, \.rawValue) ?? .network)
    }

    /// Writes a node in the topology file form (`FileFormat.md`).
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
        try c.put(nonEmpty: devices, "devices")
        try c.put(nonEmpty: vxlans, "vxlans")
        try c.put(nonEmpty: qdiscs, "qdiscs")
        try c.put(nonEmpty: neighbors, "neighbors")
        if let f = firewall { try c.put(f, "firewall") }
        if isolation != .network { try c.put(isolation, "isolation") }
    }
}

extension InterfaceAddress: Codable {
    /// Decodes `10.0.1.2/24` or `{address: 10.0.1.2/24, on: eth0, nodad: false, metric: 10, noprefixroute: true}`.
    public init(from decoder: Decoder) throws {
        if (try? decoder.singleValueContainer().decode(String.self)) != nil {
            self.init(interface: nil, prefix: try InterfacePrefix(from: decoder).prefix)
            return
        }
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["address", "on", "nodad", "metric", "noprefixroute"])
        self.init(interface: try c.optional("on"), prefix: (try c.required("address") as InterfacePrefix).prefix,
                  nodad: try c.value("nodad", default: true), metric: try c.number("metric"),
                  noprefixroute: try c.value("noprefixroute", default: false))
    }

    /// Writes an address in the topology file form (`FileFormat.md`).
    public func encode(to encoder: Encoder) throws {
        if interface == nil && nodad && metric == nil && !noprefixroute {
            var c = encoder.singleValueContainer()
            try c.encode(prefix)
            return
        }
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(prefix, "address")
        try c.put(interface, "on")
        try c.put(nodad, "nodad", unless: true)
        try c.put(metric, "metric")
        try c.put(noprefixroute, "noprefixroute", unless: false)
    }
}

extension Neighbor: Codable {
    /// Reads a neighbour entry in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["address", "mac", "on"])
        self.init(interface: try c.optional("on"), address: try c.required("address"), mac: try c.required("mac"))
    }

    /// Writes a neighbour entry in the topology file form (`FileFormat.md`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(address, "address")
        try c.put(mac, "mac")
        try c.put(interface, "on")
    }
}

/// A bridge time: a number of seconds (`300`, `0.5`) or a time with its unit (`300s`, `1500ms`).
private struct Seconds: Codable {
    var value: Duration

    init(_ value: Duration) { self.value = value }

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(Double.self) {
            guard s >= 0, s < 4e7 else { throw corrupted(decoder, "not a time: \(s) (expected seconds, like 300 or 1.5)") }
            value = .microseconds(Int64((s * 1e6).rounded()))
            return
        }
        let text = try c.decode(String.self)
        guard text.last?.isLetter == true, let d = Duration(tcText: text) else {
            throw corrupted(decoder, "not a time: \"\(text)\" (expected seconds, like 300, or a time with its unit, like 300s or 1500ms)")
        }
        value = d
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value.tcText)
    }
}

extension KeyedDecodingContainer where K == FieldKey {
    fileprivate func seconds(_ key: String) throws -> Duration? { (try optional(key) as Seconds?)?.value }
}

extension KeyedEncodingContainer where K == FieldKey {
    fileprivate mutating func put(seconds value: Duration?, _ key: String) throws { try put(value.map(Seconds.init), key) }
}

extension Bridge: Codable {
    /// Reads a bridge in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "ports", "stp", "vlanFiltering", "mtu", "mac", "addresses", "ageingTime", "mcastSnooping",
                    "vlanDefaultPvid", "forwardDelay", "helloTime", "maxAge", "fdb"])
        self.init(name: try c.required("name"), ports: try c.value("ports", default: []),
                  stp: try c.value("stp", default: false), vlanFiltering: try c.value("vlanFiltering", default: false),
                  mtu: try c.optional("mtu"), mac: try c.optional("mac"),
                  addresses: try c.value("addresses", default: [InterfacePrefix]()).map(\.prefix),
                  ageingTime: try c.seconds("ageingTime"), mcastSnooping: try c.optional("mcastSnooping"),
                  vlanDefaultPvid: try c.optional("vlanDefaultPvid"), forwardDelay: try c.seconds("forwardDelay"),
                  helloTime: try c.seconds("helloTime"), maxAge: try c.seconds("maxAge"), fdb: try c.value("fdb", default: []))
    }

    /// Writes a bridge in the topology file form (`FileFormat.md`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        try c.put(nonEmpty: ports, "ports")
        try c.put(stp, "stp", unless: false)
        try c.put(vlanFiltering, "vlanFiltering", unless: false)
        try c.put(mtu, "mtu")
        try c.put(mac, "mac")
        try c.put(nonEmpty: addresses, "addresses")
        try c.put(seconds: ageingTime, "ageingTime")
        try c.put(mcastSnooping, "mcastSnooping")
        try c.put(vlanDefaultPvid, "vlanDefaultPvid")
        try c.put(seconds: forwardDelay, "forwardDelay")
        try c.put(seconds: helloTime, "helloTime")
        try c.put(seconds: maxAge, "maxAge")
        try c.put(nonEmpty: fdb, "fdb")
    }
}

extension BridgePort: Codable {
    /// Decodes `eth1` or `{name: eth1, pvid: 10, vlans: [20, 30], learning: false, …}`.
    public init(from decoder: Decoder) throws {
        if let name = try? decoder.singleValueContainer().decode(String.self) {
            self.init(name: name)
            return
        }
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "pvid", "vlans", "learning", "flood", "mcastFlood", "neighSuppress", "isolated", "hairpin"])
        self.init(name: try c.required("name"), pvid: try c.optional("pvid"), vlans: try c.value("vlans", default: []),
                  learning: try c.optional("learning"), flood: try c.optional("flood"), mcastFlood: try c.optional("mcastFlood"),
                  neighSuppress: try c.optional("neighSuppress"), isolated: try c.optional("isolated"),
                  hairpin: try c.optional("hairpin"))
    }

    /// Writes a bridge port in the topology file form (`FileFormat.md`).
    public func encode(to encoder: Encoder) throws {
        if pvid == nil && vlans.isEmpty && !hasFlags {
            var c = encoder.singleValueContainer()
            try c.encode(name)
            return
        }
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        try c.put(pvid, "pvid")
        try c.put(nonEmpty: vlans, "vlans")
        try c.put(learning, "learning")
        try c.put(flood, "flood")
        try c.put(mcastFlood, "mcastFlood")
        try c.put(neighSuppress, "neighSuppress")
        try c.put(isolated, "isolated")
        try c.put(hairpin, "hairpin")
    }
}

extension FDBEntry: Codable {
    /// Reads an FDB entry in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["mac", "dst", "port", "vlan"])
        self.init(mac: try c.required("mac"), dst: try c.optional("dst"), port: try c.optional("port"),
                  vlan: try c.optional("vlan"))
    }

    /// Writes an FDB entry in the topology file form (`FileFormat.md`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(mac, "mac")
        try c.put(dst, "dst")
        try c.put(port, "port")
        try c.put(vlan, "vlan")
    }
}

extension VXLANSettings {
    fileprivate static let keys = ["tos", "learning", "udpChecksum", "df"]

    fileprivate init(_ c: KeyedDecodingContainer<FieldKey>) throws {
        let df: String? = try c.optional("df")
        var parsed: VXLANDF?
        if let df {
            guard let v = VXLANDF(rawValue: df) else {
                throw DecodingError.dataCorrupted(DecodingError.Context(
                    codingPath: c.codingPath + [FieldKey("df")],
                    debugDescription: "unknown df \"\(df)\" (expected one of: \(VXLANDF.allCases.map(\.rawValue).joined(separator: ", ")))"))
            }
            parsed = v
        }
        self.init(tos: try c.optional("tos"), learning: try c.optional("learning"), udpChecksum: try c.optional("udpChecksum"),
                  df: parsed)
    }

    fileprivate func encode(into c: inout KeyedEncodingContainer<FieldKey>) throws {
        try c.put(tos, "tos")
        try c.put(learning, "learning")
        try c.put(udpChecksum, "udpChecksum")
        try c.put(df?.rawValue, "df")
    }
}

extension VXLANDevice: Codable {
    /// Reads a VXLAN device in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "vni", "port", "local", "group", "remotes", "dev", "ttl", "mtu", "master", "fdb"] + VXLANSettings.keys)
        self.init(name: try c.required("name"), vni: try c.required("vni"), port: try c.value("port", default: 4789),
                  local: try c.optional("local"), group: try c.optional("group"), remotes: try c.value("remotes", default: []),
                  dev: try c.optional("dev"), ttl: try c.optional("ttl"), settings: try VXLANSettings(c),
                  mtu: try c.optional("mtu"), master: try c.optional("master"), fdb: try c.value("fdb", default: []))
    }

    /// Writes a VXLAN device in the topology file form (`FileFormat.md`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        try c.put(vni, "vni")
        if port != 4789 { try c.put(port, "port") }
        try c.put(local, "local")
        try c.put(group, "group")
        try c.put(nonEmpty: remotes, "remotes")
        try c.put(dev, "dev")
        try c.put(ttl, "ttl")
        try settings.encode(into: &c)
        try c.put(mtu, "mtu")
        try c.put(master, "master")
        try c.put(nonEmpty: fdb, "fdb")
    }
}

extension Macvlan: Codable {
    /// Reads a macvlan in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "parent", "mode", "mac"])
        self.init(name: try c.required("name"), parent: try c.required("parent"),
                  mode: try c.choice("mode", Mode.allCases, \.rawValue) ?? .bridge, mac: try c.optional("mac"))
    }

    /// Writes a macvlan in the topology file form (`FileFormat.md`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        try c.put(parent, "parent")
        try c.put(mode, "mode")
        try c.put(mac, "mac")
    }
}

extension VLAN: Codable {
    /// Reads a VLAN subinterface in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "parent", "id"])
        let parent: String = try c.required("parent")
        let id: Int = try c.required("id")
        self.init(name: try c.value("name", default: "\(parent).\(id)"), parent: parent, id: id)
    }

    /// Writes a VLAN subinterface in the topology file form (`FileFormat.md`).
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

    /// Writes a dummy interface in the topology file form (`FileFormat.md`).
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
    /// Reads a link in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["a", "b", "mtu"])
        self.init(a: try c.required("a"), b: try c.required("b"), mtu: try c.optional("mtu"))
    }

    /// Writes a link in the topology file form (`FileFormat.md`).
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
                  addresses: try c.value("addresses", default: [InterfacePrefix]()).map(\.prefix),
                  master: try c.optional("master"), alias: try c.optional("alias"))
    }

    /// Writes a link end in the topology file form (`FileFormat.md`).
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
    /// Reads an underlay from text: an IP address, or else an interface name.
    public init(from decoder: Decoder) throws { self.init(try decoder.singleValueContainer().decode(String.self)) }

    /// Writes the underlay as text: the address or the interface name.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension Tunnel: Codable {
    /// Reads a tunnel in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["name", "kind", "vni", "port", "a", "b", "mtu", "ttl"] + VXLANSettings.keys)
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
                  mtu: try c.optional("mtu"), ttl: try c.optional("ttl"), vxlan: try VXLANSettings(c))
    }

    /// Writes a tunnel in the topology file form (`FileFormat.md`).
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
        try vxlan.encode(into: &c)
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
                  underlayDevice: try c.optional("underlayDevice"),
                  addresses: try c.value("addresses", default: [InterfacePrefix]()).map(\.prefix),
                  master: try c.optional("master"))
    }

    /// Writes a tunnel end in the topology file form (`FileFormat.md`).
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
    /// Reads a route in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["to", "via", "dev", "metric", "table", "scope", "proto", "src", "onlink", "type", "nexthops",
                    "mtu", "advmss", "absent"])
        let to: String = try c.required("to")
        let destination: Destination
        if to == "default" { destination = .default } else if let p = IPPrefix(to) { destination = .prefix(p) } else {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: c.codingPath + [FieldKey("to")], debugDescription: "not a destination: \"\(to)\" (expected default or a prefix like 10.0.0.0/8)"))
        }
        let scopes: [RouteScope] = [.universe, .site, .link, .host, .nowhere]
        self.init(destination: destination, via: try c.optional("via"), dev: try c.optional("dev"),
                  metric: try c.number("metric"), table: try c.number("table", names: RouteTable.names) ?? RouteTable.main,
                  scope: try c.choice("scope", scopes, \.name), proto: try c.number("proto"), src: try c.optional("src"),
                  onlink: try c.value("onlink", default: false),
                  type: try c.choice("type", Route.declarableTypes, \.name) ?? .unicast,
                  nexthops: try c.value("nexthops", default: []), mtu: try c.number("mtu"), advmss: try c.number("advmss"),
                  absent: try c.value("absent", default: false))
    }

    /// Writes a route in the topology file form (`FileFormat.md`).
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
        try c.put(mtu, "mtu")
        try c.put(advmss, "advmss")
        try c.put(absent, "absent", unless: false)
    }
}

extension Nexthop: Codable {
    /// Reads a next hop in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["via", "dev", "weight"])
        self.init(via: try c.optional("via"), dev: try c.optional("dev"), weight: try c.value("weight", default: 1))
    }

    /// Writes a next hop in the topology file form (`FileFormat.md`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(via, "via")
        try c.put(dev, "dev")
        if weight != 1 { try c.put(weight, "weight") }
    }
}

extension Rule: Codable {
    /// Reads a policy rule in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["family", "priority", "from", "to", "iif", "oif", "fwmark", "fwmask", "table", "action", "goto",
                    "tos", "uidrange", "ipproto", "sport", "dport", "l3mdev", "suppressPrefixlength"])
        func fail(_ key: String, _ message: String) -> DecodingError {
            .dataCorrupted(DecodingError.Context(codingPath: c.codingPath + [FieldKey(key)], debugDescription: message))
        }
        let action: Action
        if let target: UInt32 = try c.number("goto") {
            if c.contains(FieldKey("action")) || c.contains(FieldKey("table")) {
                throw fail("goto", "a goto rule has no action or table: it continues at rule \(target)")
            }
            action = .goto(priority: target)
        } else {
            let actions = ["lookup", "blackhole", "unreachable", "prohibit"]
            switch try c.choice("action", actions, { $0 }) ?? "lookup" {
            case "lookup": action = .lookup(table: try c.number("table", names: RouteTable.names) ?? RouteTable.main)
            case "blackhole": action = .blackhole
            case "unreachable": action = .unreachable
            default: action = .prohibit
            }
        }
        // `ip rule` writes a mark with its mask as one word: `fwmark 0x64/0xff`.
        var fwmark: UInt32?, fwmask: UInt32? = try c.number("fwmask")
        if let text = try? c.decode(String.self, forKey: FieldKey("fwmark")), text.contains("/") {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, let mark = parseNumber(parts[0], UInt32.self), let mask = parseNumber(parts[1], UInt32.self) else {
                throw fail("fwmark", "fwmark \"\(text)\" is not MARK/MASK with whole numbers, like 0x64/0xff")
            }
            if fwmask != nil { throw fail("fwmark", "fwmark \"\(text)\" has a mask, and fwmask gives another") }
            (fwmark, fwmask) = (mark, mask)
        } else {
            fwmark = try c.number("fwmark")
        }
        func range<T: FixedWidthInteger & UnsignedInteger & Decodable>(_ key: String, _: T.Type) throws -> ClosedRange<T>? {
            guard c.contains(FieldKey(key)) else { return nil }
            if let n = try? c.decode(T.self, forKey: FieldKey(key)) { return n...n }
            let text = (try? c.decode(String.self, forKey: FieldKey(key))) ?? ""
            guard let r = parseRange(text, T.self) else {
                throw fail(key, "\(key) \"\(text)\" is not a number or a range START-END of 0…\(T.max) with START ≤ END, like 1000-2000")
            }
            return r
        }
        self.init(family: try c.choice("family", IPFamily.allCases, \.rawValue), priority: try c.number("priority"),
                  from: try c.optional("from"), to: try c.optional("to"), iif: try c.optional("iif"), oif: try c.optional("oif"),
                  fwmark: fwmark, fwmask: fwmask, action: action, tos: try c.number("tos"),
                  uidrange: try range("uidrange", UInt32.self),
                  ipproto: try c.number("ipproto", names: IPProtocolNames.byName),
                  sport: try range("sport", UInt16.self).map(PortRange.init), dport: try range("dport", UInt16.self).map(PortRange.init),
                  l3mdev: try c.value("l3mdev", default: false), suppressPrefixlength: try c.number("suppressPrefixlength"))
    }

    /// Writes a policy rule in the topology file form (`FileFormat.md`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(family, "family")
        try c.put(priority, "priority")
        try c.put(from, "from")
        try c.put(to, "to")
        try c.put(iif, "iif")
        try c.put(oif, "oif")
        // Marks in hex, as `ip rule` prints them.
        try c.put(fwmark.map { "0x" + String($0, radix: 16) }, "fwmark")
        try c.put(fwmask.map { "0x" + String($0, radix: 16) }, "fwmask")
        try c.put(tos, "tos")
        try c.put(uidrange.map { "\($0.lowerBound)-\($0.upperBound)" }, "uidrange")
        try c.put(ipproto, "ipproto")
        try c.put(sport?.description, "sport")
        try c.put(dport?.description, "dport")
        try c.put(l3mdev, "l3mdev", unless: false)
        try c.put(suppressPrefixlength, "suppressPrefixlength")
        switch action {
        case .lookup(let table): if !l3mdev { try c.put(table, "table") }
        case .goto(let p): try c.put(p, "goto")
        default: try c.put(action.description, "action")
        }
    }
}

/// A size in bytes: a number, or text in tc's units (`128K`, `1mb`, `16kbit`).
private struct TCSize: Decodable {
    var bytes: Int

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self) {
            bytes = n
            return
        }
        let text = try c.decode(String.self)
        guard let n = tcSize(text) else {
            throw corrupted(decoder, "not a size: \"\(text)\" (expected bytes, or tc's units like 128K, 1mb or 16kbit)")
        }
        bytes = n
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
    /// Reads a qdisc in the topology file form (`FileFormat.md`); an unknown key is an error.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["on", "handle", "parent", "tbf", "htb", "netem"])
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
            if let bytes: TCSize = try k.optional("limit") { limit = .bytes(bytes.bytes) } else {
                limit = .latency((try k.required("latency") as TCTime).value)
            }
            kind = .tbf(rate: try k.required("rate"), burst: (try k.required("burst") as TCSize).bytes, limit: limit)
        case "htb":
            try k.only(["default", "classes"])
            kind = .htb(defaultClass: try k.required("default"), classes: try k.value("classes", default: []))
        default:
            try k.only(["delay", "jitter", "loss"])
            kind = .netem(delay: (try k.optional("delay") as TCTime?)?.value ?? .zero,
                          jitter: (try k.optional("jitter") as TCTime?)?.value ?? .zero,
                          loss: try k.value("loss", default: 0))
        }
        var parent: TCHandle?
        if let text: String = try c.optional("parent"), text != "root" {
            guard let p = TCHandle(text) else {
                throw DecodingError.dataCorrupted(DecodingError.Context(
                    codingPath: c.codingPath + [FieldKey("parent")],
                    debugDescription: "not a parent: \"\(text)\" (expected root or a class id like 1:10, in hex as tc writes it)"))
            }
            parent = p
        }
        var handle: UInt16?
        if let number = try? c.decodeIfPresent(UInt16.self, forKey: FieldKey("handle")) {
            handle = number
        } else if let text = try? c.decodeIfPresent(String.self, forKey: FieldKey("handle")) {
            // As tc writes it: `10:` is major 0x10.
            guard let h = TCHandle(text), h.minor == 0 else {
                throw DecodingError.dataCorrupted(DecodingError.Context(
                    codingPath: c.codingPath + [FieldKey("handle")],
                    debugDescription: "not a handle: \"\(text)\" (expected a major number like 10, or tc's hex form like a:)"))
            }
            handle = h.major
        } else {
            handle = try c.optional("handle")
        }
        self.init(interface: try c.optional("on"), kind: kind, handle: handle, parent: parent)
    }

    /// Writes a qdisc in the topology file form (`FileFormat.md`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(interface, "on")
        try c.put(handle, "handle")
        try c.put(parent?.description, "parent")
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

extension RouteTable {
    /// The table names `ip` accepts.
    static let names: [String: UInt32] = ["main": main, "local": local, "default": `default`]
}

/// IP protocol names `ip rule ipproto` accepts, as in `/etc/protocols`.
enum IPProtocolNames {
    static let byName: [String: UInt8] = ["icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
                                          "ipv6-icmp": 58, "sctp": 132, "udplite": 136]
}

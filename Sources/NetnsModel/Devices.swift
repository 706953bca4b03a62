// Devices that live in one node and need no other node: VRF, bond, ipvlan, GENEVE, ifb, tun and
// tap. One type for all of them, so a new kind is one more case here (with its file keys below),
// one resolution check, one plan text and one builder mapping (see README, "Adding a link kind").

/// A virtual device inside a node, declared with its kind and the kind's settings.
public struct Device: Sendable, Hashable {
    /// The kind of device and its kind-specific settings.
    public enum Kind: Sendable, Hashable {
        /// A VRF (an L3 master device) whose routes live in `table`; `members` are enslaved to it.
        case vrf(table: UInt32, members: [String])
        /// A bond of `ports`.
        case bond(BondSettings)
        /// An ipvlan on `parent`.
        case ipvlan(parent: String, mode: IPVLANMode)
        /// A GENEVE tunnel endpoint towards `remote`.
        case geneve(GeneveSettings)
        /// An intermediate functional block (a place to redirect ingress traffic to, to shape it).
        case ifb
        /// A layer-3 tun device (created through `/dev/net/tun`, as root).
        case tun
        /// A layer-2 tap device (created through `/dev/net/tun`, as root).
        case tap

        /// The kernel's name for the kind, as `ip link … type` and files spell it.
        public var name: String {
            switch self {
            case .vrf: "vrf"
            case .bond: "bond"
            case .ipvlan: "ipvlan"
            case .geneve: "geneve"
            case .ifb: "ifb"
            case .tun: "tun"
            case .tap: "tap"
            }
        }

        /// Every kind's name, for messages.
        public static let names = ["vrf", "bond", "ipvlan", "geneve", "ifb", "tun", "tap"]

        /// The interfaces of the node this device is the master of.
        public var members: [String] {
            switch self {
            case .vrf(_, let members): members
            case .bond(let b): b.ports
            default: []
            }
        }

        /// The interface this device is stacked on, if any.
        public var parent: String? {
            if case .ipvlan(let parent, _) = self { return parent }
            return nil
        }
    }

    /// The device's interface name.
    public var name: String
    /// What the device is, with its kind-specific settings.
    public var kind: Kind
    /// The device's MTU, in bytes.
    public var mtu: Int?
    /// Where the device was declared, and values that did not parse.
    public var provenance = Provenance()
}

/// A bond's settings.
public struct BondSettings: Sendable, Hashable {
    /// How the bond spreads traffic over its ports; active-backup by default.
    public var mode: BondMode = .activeBackup
    /// The link monitoring interval in milliseconds (`miimon`); `nil` keeps the kernel's default (0: off).
    public var miimon: Int?
    /// The port the bond prefers while it is up (active-backup, balance-tlb and balance-alb only).
    public var primary: String?
    /// Interfaces of the node enslaved to the bond.
    public var ports: [String] = []

    /// Settings for a bond; `nil` values keep the kernel's defaults.
    public init(mode: BondMode = .activeBackup, miimon: Int? = nil, primary: String? = nil, ports: [String] = []) {
        self.mode = mode; self.miimon = miimon; self.primary = primary; self.ports = ports
    }
}

/// The bonding modes, spelled as `ip link … type bond mode` spells them.
public enum BondMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Round robin, one active port with the others as backups, by hash, and to every port.
    case balanceRR = "balance-rr", activeBackup = "active-backup", balanceXOR = "balance-xor", broadcast
    /// LACP (IEEE 802.3ad), and adaptive transmit (and receive) load balancing.
    case lacp = "802.3ad", balanceTLB = "balance-tlb", balanceALB = "balance-alb"

    /// The kernel's number for the mode (`IFLA_BOND_MODE`).
    public var number: UInt8 { UInt8(BondMode.allCases.firstIndex(of: self)!) }

    /// True for the modes where a primary port means something.
    public var usesPrimary: Bool { self == .activeBackup || self == .balanceTLB || self == .balanceALB }
}

/// The ipvlan modes (`IFLA_IPVLAN_MODE`).
public enum IPVLANMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// L2 (the ipvlan switches frames), L3 (routes packets) and L3S (L3 through netfilter).
    case l2, l3, l3s

    /// The kernel's number for the mode.
    public var number: UInt16 { UInt16(IPVLANMode.allCases.firstIndex(of: self)!) }
}

/// A GENEVE endpoint's settings.
public struct GeneveSettings: Sendable, Hashable {
    /// The virtual network identifier, 0…16777215.
    public var vni: UInt32
    /// The remote endpoint's underlay address.
    public var remote: IPAddress
    /// The UDP destination port.
    public var port: UInt16 = 6081
    /// The outer TTL; `nil` lets the kernel choose.
    public var ttl: UInt8?

    /// Settings for a GENEVE endpoint towards `remote` on `port`.
    public init(vni: UInt32, remote: IPAddress, port: UInt16 = 6081, ttl: UInt8? = nil) {
        self.vni = vni; self.remote = remote; self.port = port; self.ttl = ttl
    }
}

// MARK: DSL

/// Declares a VRF whose routes live in `table`, with the node's `members` enslaved to it.
///
/// The kernel adds the `l3mdev` rule (`1000: from all lookup [l3mdev-table]`) when the first VRF
/// of a namespace is created, and moves each member's connected routes into `table`.
public func VRF(_ name: String, table: UInt32, members: [String] = [], mtu: Int? = nil,
                fileID: String = #fileID, line: Int = #line, column: Int = #column) -> Device {
    Device(name: name, kind: .vrf(table: table, members: members), mtu: mtu, provenance: Provenance(fileID, line, column))
}

/// Declares a bond of `ports` (interfaces of the same node).
public func Bond(_ name: String, mode: BondMode = .activeBackup, miimon: Int? = nil, primary: String? = nil,
                 ports: [String] = [], mtu: Int? = nil,
                 fileID: String = #fileID, line: Int = #line, column: Int = #column) -> Device {
    Device(name: name, kind: .bond(BondSettings(mode: mode, miimon: miimon, primary: primary, ports: ports)), mtu: mtu,
           provenance: Provenance(fileID, line, column))
}

/// Declares an ipvlan on `parent`.
public func IPVLAN(_ name: String, on parent: String, mode: IPVLANMode = .l2, mtu: Int? = nil,
                   fileID: String = #fileID, line: Int = #line, column: Int = #column) -> Device {
    Device(name: name, kind: .ipvlan(parent: parent, mode: mode), mtu: mtu, provenance: Provenance(fileID, line, column))
}

/// Declares a GENEVE endpoint towards `remote`.
public func GENEVE(_ name: String, vni: UInt32, remote: String, port: UInt16 = 6081, ttl: UInt8? = nil, mtu: Int? = nil,
                   fileID: String = #fileID, line: Int = #line, column: Int = #column) -> Device {
    var parser = TextParser()
    let address = parser.address(remote, field: "remote")
    return Device(name: name, kind: .geneve(GeneveSettings(vni: vni, remote: address ?? .v4(0), port: port, ttl: ttl)), mtu: mtu,
                  provenance: Provenance(fileID, line, column, parser))
}

/// Declares an ifb device.
public func IFB(_ name: String, mtu: Int? = nil, fileID: String = #fileID, line: Int = #line, column: Int = #column) -> Device {
    Device(name: name, kind: .ifb, mtu: mtu, provenance: Provenance(fileID, line, column))
}

/// Declares a persistent tun (layer 3) device; building it needs root (`/dev/net/tun`).
public func Tun(_ name: String, mtu: Int? = nil, fileID: String = #fileID, line: Int = #line, column: Int = #column) -> Device {
    Device(name: name, kind: .tun, mtu: mtu, provenance: Provenance(fileID, line, column))
}

/// Declares a persistent tap (layer 2) device; building it needs root (`/dev/net/tun`).
public func Tap(_ name: String, mtu: Int? = nil, fileID: String = #fileID, line: Int = #line, column: Int = #column) -> Device {
    Device(name: name, kind: .tap, mtu: mtu, provenance: Provenance(fileID, line, column))
}

// MARK: Files

extension Device: Codable {
    /// The keys each kind takes, besides `name`, `kind` and `mtu`.
    static let kindKeys: [String: [String]] = [
        "vrf": ["table", "members"], "bond": ["mode", "miimon", "primary", "ports"], "ipvlan": ["parent", "mode"],
        "geneve": ["vni", "remote", "port", "ttl"], "ifb": [], "tun": [], "tap": [],
    ]

    /// Decodes `{name: vrf-a, kind: vrf, table: 10, members: [eth0]}` and the other kinds' forms.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        let kindName: String = try c.required("kind")
        guard let keys = Device.kindKeys[kindName] else {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: c.codingPath + [FieldKey("kind")],
                debugDescription: "unknown device kind \"\(kindName)\" (expected one of: \(Kind.names.joined(separator: ", ")))"
                    + (closestKey(kindName, in: Kind.names).map { "; did you mean \"\($0)\"?" } ?? "")))
        }
        try c.only(["name", "kind", "mtu"] + keys)
        func named<T: RawRepresentable & CaseIterable>(_ key: String, _ fallback: T) throws -> T where T.RawValue == String {
            guard let text: String = try c.optional(key) else { return fallback }
            guard let value = T(rawValue: text) else {
                throw DecodingError.dataCorrupted(DecodingError.Context(
                    codingPath: c.codingPath + [FieldKey(key)],
                    debugDescription: "unknown \(kindName) \(key) \"\(text)\" (expected one of: \(T.allCases.map(\.rawValue).joined(separator: ", ")))"))
            }
            return value
        }
        let kind: Kind
        switch kindName {
        case "vrf": kind = .vrf(table: try c.required("table"), members: try c.value("members", default: []))
        case "bond":
            kind = .bond(BondSettings(mode: try named("mode", BondMode.activeBackup), miimon: try c.optional("miimon"),
                              primary: try c.optional("primary"), ports: try c.value("ports", default: [])))
        case "ipvlan": kind = .ipvlan(parent: try c.required("parent"), mode: try named("mode", IPVLANMode.l2))
        case "geneve":
            kind = .geneve(GeneveSettings(vni: try c.required("vni"), remote: try c.required("remote"),
                                  port: try c.value("port", default: 6081), ttl: try c.optional("ttl")))
        case "ifb": kind = .ifb
        case "tun": kind = .tun
        default: kind = .tap
        }
        self.init(name: try c.required("name"), kind: kind, mtu: try c.optional("mtu"))
    }

    /// Writes the device as a topology file entry (`name`, `kind` and the kind's keys).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(name, "name")
        try c.put(kind.name, "kind")
        switch kind {
        case .vrf(let table, let members):
            try c.put(table, "table")
            try c.put(nonEmpty: members, "members")
        case .bond(let b):
            try c.put(b.mode, "mode")
            try c.put(b.miimon, "miimon")
            try c.put(b.primary, "primary")
            try c.put(nonEmpty: b.ports, "ports")
        case .ipvlan(let parent, let mode):
            try c.put(parent, "parent")
            try c.put(mode, "mode")
        case .geneve(let g):
            try c.put(g.vni, "vni")
            try c.put(g.remote, "remote")
            if g.port != 6081 { try c.put(g.port, "port") }
            try c.put(g.ttl, "ttl")
        case .ifb, .tun, .tap:
            break
        }
        try c.put(mtu, "mtu")
    }
}

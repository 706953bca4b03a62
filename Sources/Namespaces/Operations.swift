import Netlink

/// Typed reads over an rtnetlink socket. Each names its `ip` equivalent.
extension RTNetlinkSocket {
    /// All links with their kind and counters. Equivalent to `ip -d -s link show`.
    public func links(master: Int32? = nil, kind: String? = nil) throws -> [LinkInfo] {
        try dump(.dumpLinks(master: master, kind: kind)).filter { $0.type == RTM.newLink }.map { try LinkInfo(message: $0) }
    }

    /// One link by name. Equivalent to `ip -d -s link show dev NAME`.
    public func link(named name: String) throws -> LinkInfo {
        try LinkInfo(message: get(.getLink(name: name)))
    }

    /// One link by index.
    public func link(index: Int32) throws -> LinkInfo {
        try LinkInfo(message: get(.getLink(index: index)))
    }

    /// Addresses. Equivalent to `ip addr show`.
    public func addresses(family: UInt8 = AF.unspec) throws -> [AddressInfo] {
        try dump(.dumpAddresses(family: family)).filter { $0.type == RTM.newAddr }.map { try AddressInfo(message: $0) }
    }

    /// Routes of a family, optionally of one table (filtered by the kernel). Equivalent to `ip route show table T`.
    /// A table that was never created has no routes (the kernel answers ENOENT, "FIB table does not exist").
    public func routes(family: UInt8 = AF.inet, table: UInt32? = nil) throws -> [RouteInfo] {
        let messages: [NetlinkMessage]
        do {
            messages = try dump(.dumpRoutes(family: family, table: table))
        } catch let e as NetlinkError where table != nil && e.errno == .noSuchFileOrDirectory {
            return []
        }
        return try messages.filter { $0.type == RTM.newRoute }.map { try RouteInfo(message: $0) }
    }

    /// Policy rules. Equivalent to `ip rule show`.
    public func rules(family: UInt8 = AF.inet) throws -> [RuleInfo] {
        try dump(.dumpRules(family: family)).filter { $0.type == RTM.newRule }.map { try RuleInfo(message: $0) }
    }

    /// Neighbours. Equivalent to `ip neigh show`.
    public func neighbors(family: UInt8 = AF.unspec) throws -> [NeighborInfo] {
        try dump(.dumpNeighbors(family: family)).filter { $0.type == RTM.newNeigh }.map { try NeighborInfo(message: $0) }
    }

    /// The bridge forwarding database. Equivalent to `bridge fdb show`.
    public func forwardingDatabase() throws -> [NeighborInfo] {
        try neighbors(family: AF.bridge)
    }

    /// A single route lookup. Equivalent to `ip route get …`.
    public func lookupRoute(_ q: RouteQuery) throws -> RouteInfo {
        try RouteInfo(message: get(.routeLookup(q)))
    }
}

extension RTNetlinkSocket {
    /// Queueing disciplines. Equivalent to `tc qdisc show`.
    public func qdiscs() throws -> [QdiscInfo] {
        try dump(.dumpQdiscs()).filter { $0.type == RTM.newQdisc }.map { try QdiscInfo(message: $0) }
    }
}

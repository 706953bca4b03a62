/// Requests that undo or replace what a build made, for changes to a running lab.
extension NetlinkRequest {
    /// Deletes a neighbour entry. Equivalent to `ip neigh del IP dev IFINDEX`.
    public static func deleteNeighbor(family: UInt8, index: Int32, address: IPAddress, what: String? = nil) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(NdMsg(family: family, index: index).bytes)
        w.put(NDA.dst, address)
        return NetlinkRequest(type: RTM.delNeigh, flags: [.ack], body: w, what: what ?? "deleting neighbour \(address)")
    }

    /// Installs or replaces the root qdisc of an interface.
    /// Equivalent to `tc qdisc replace dev IFINDEX root handle 1: KIND …`.
    public static func replaceQdisc(index: Int32, _ q: QdiscSpec, what: String? = nil) -> NetlinkRequest {
        var r = newQdisc(index: index, q, what: what)
        r.flags = [.create, .replace, .ack]
        return r
    }

    /// Deletes the root qdisc of an interface (the kernel puts its default back).
    /// Equivalent to `tc qdisc del dev IFINDEX root`.
    public static func deleteRootQdisc(index: Int32, what: String? = nil) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(TcMsg(family: AF.unspec, index: index, handle: 0, parent: TcMsg.rootParent).bytes)
        return NetlinkRequest(type: RTM.delQdisc, flags: [.ack], body: w, what: what ?? "deleting the root qdisc of #\(index)")
    }
}

/// A queueing discipline to install on an interface (`tc qdisc add`).
public enum QdiscSpec: Sendable, Hashable {
    /// Token bucket filter: `tc qdisc add dev D root tbf rate R burst B limit L`.
    case tbf(rateBitsPerSecond: UInt64, burstBytes: UInt32, limitBytes: UInt32)
    /// Hierarchical token bucket root with its classes: `tc qdisc add dev D root handle 1: htb default C`
    /// then `tc class add dev D parent 1: classid 1:ID htb rate R ceil C` per class.
    case htb(defaultClass: UInt32, classes: [HTBClass])
    /// Network emulator: `tc qdisc add dev D root netem delay D jitter J loss L%` (often missing from kernels).
    case netem(delayMicroseconds: UInt32, jitterMicroseconds: UInt32, lossPercent: Double, limitPackets: UInt32)
    /// Any other kind with its default options (`tc qdisc add dev D root KIND`), e.g. `fq_codel`.
    case other(kind: String)

    /// The kernel's qdisc kind name.
    public var kind: String {
        switch self {
        case .tbf: return "tbf"
        case .htb: return "htb"
        case .netem: return "netem"
        case .other(let kind): return kind
        }
    }
}

/// One HTB class (`classid MAJ:id`).
public struct HTBClass: Sendable, Hashable {
    /// The class's minor number.
    public var id: UInt32
    /// The guaranteed rate, in bits per second.
    public var rateBitsPerSecond: UInt64
    /// The most it may borrow up to, in bits per second.
    public var ceilBitsPerSecond: UInt64
    /// The minor number of the parent class; nil: directly under the qdisc.
    public var parent: UInt32?
    /// A class with these rates; `ceil` defaults to the rate.
    public init(id: UInt32, rateBitsPerSecond: UInt64, ceilBitsPerSecond: UInt64? = nil, parent: UInt32? = nil) {
        self.id = id; self.rateBitsPerSecond = rateBitsPerSecond; self.ceilBitsPerSecond = ceilBitsPerSecond ?? rateBitsPerSecond
        self.parent = parent
    }
}

/// `struct tc_ratespec` (12 bytes) with the link layer set to Ethernet, so the kernel
/// computes rates itself and needs no rate table.
func tcRatespec(bytesPerSecond: UInt64) -> [UInt8] {
    var b: [UInt8] = []
    b.append(0)                // cell_log
    b.append(1)                // linklayer = TC_LINKLAYER_ETHERNET
    b.appendLE(UInt16(0))      // overhead
    b.appendLE(Int16(0))       // cell_align
    b.appendLE(UInt16(0))      // mpu
    b.appendLE(UInt32(min(bytesPerSecond, UInt64(UInt32.max)))) // rate (bytes/s); RATE64 carries larger rates
    return b
}

/// Packet-scheduler ticks (64 ns each, `PSCHED_SHIFT` = 6) to send `bytes` at `bytesPerSecond`.
func tcTicks(bytes: UInt64, bytesPerSecond: UInt64) -> UInt32 {
    guard bytesPerSecond > 0 else { return 0 }
    let ns = Double(bytes) / Double(bytesPerSecond) * 1e9
    return UInt32(min(Double(UInt32.max), ns / 64))
}

extension NetlinkRequest {
    /// Installs a qdisc on an interface. Equivalent to `tc qdisc add dev IFINDEX root handle 1: KIND …`,
    /// or `… parent MAJ:MIN handle H: …` under a class of another qdisc.
    ///
    /// - Parameters:
    ///   - handle: The qdisc's handle, major number in the upper 16 bits (`1:` is `0x1_0000`).
    ///   - parent: `TcMsg.rootParent`, or the class to attach under (`MAJ << 16 | MIN`).
    public static func newQdisc(index: Int32, _ q: QdiscSpec, handle: UInt32 = 0x1_0000, parent: UInt32 = TcMsg.rootParent,
                                what: String? = nil) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(TcMsg(family: AF.unspec, index: index, handle: handle, parent: parent).bytes)
        w.put(TCA.kind, q.kind)
        switch q {
        case let .tbf(rate, burst, limit):
            let bps = rate / 8
            w.nest(TCA.options) { o in
                var parms = tcRatespec(bytesPerSecond: bps)
                parms += [UInt8](repeating: 0, count: 12) // peakrate: none
                parms.appendLE(limit)
                parms.appendLE(tcTicks(bytes: UInt64(burst), bytesPerSecond: bps)) // buffer
                parms.appendLE(UInt32(0)) // mtu
                o.put(AttrType(1, "TCA_TBF_PARMS"), bytes: parms)
                if bps > UInt64(UInt32.max) { o.put(AttrType(4, "TCA_TBF_RATE64"), bps) }
                o.put(AttrType(6, "TCA_TBF_BURST"), burst)
            }
        case let .htb(defaultClass, _):
            w.nest(TCA.options) { o in
                var glob: [UInt8] = []
                glob.appendLE(UInt32(3))        // version
                glob.appendLE(UInt32(10))       // rate2quantum
                glob.appendLE(defaultClass)     // defcls
                glob.appendLE(UInt32(0))        // debug
                glob.appendLE(UInt32(0))        // direct_pkts
                o.put(AttrType(2, "TCA_HTB_INIT"), bytes: glob)
            }
        case let .netem(delay, jitter, loss, limit):
            // TCA_OPTIONS for netem is a struct tc_netem_qopt followed by attributes.
            var qopt: [UInt8] = []
            qopt.appendLE(UInt32(min(Double(UInt32.max), Double(delay) * 1000 / 64))) // latency (ticks)
            qopt.appendLE(limit)
            qopt.appendLE(UInt32(min(1, max(0, loss / 100)) * Double(UInt32.max)))   // loss probability
            qopt.appendLE(UInt32(0)) // gap
            qopt.appendLE(UInt32(0)) // duplicate
            qopt.appendLE(UInt32(min(Double(UInt32.max), Double(jitter) * 1000 / 64))) // jitter (ticks)
            var extra = AttributeWriter()
            extra.put(AttrType(10, "TCA_NETEM_LATENCY64"), UInt64(delay) * 1000)
            extra.put(AttrType(11, "TCA_NETEM_JITTER64"), UInt64(jitter) * 1000)
            w.put(TCA.options, bytes: qopt + extra.bytes)
        case .other:
            break
        }
        return NetlinkRequest(type: RTM.newQdisc, flags: [.create, .excl, .ack], body: w,
                              what: what ?? "adding qdisc \(q.kind) to #\(index)")
    }

    /// Adds an HTB class to the HTB qdisc with handle `major` (`1:` is `0x1_0000`). Equivalent to
    /// `tc class add dev D parent 1:[PARENT] classid 1:ID htb rate R ceil C`.
    public static func newHTBClass(index: Int32, _ c: HTBClass, major: UInt32 = 0x1_0000, what: String? = nil) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(TcMsg(family: AF.unspec, index: index, handle: major | (c.id & 0xffff),
                             parent: major | ((c.parent ?? 0) & 0xffff)).bytes)
        w.put(TCA.kind, "htb")
        let rate = c.rateBitsPerSecond / 8, ceil = c.ceilBitsPerSecond / 8
        let burst: UInt64 = max(1600, rate / 100) // rate/HZ + mtu, roughly, as tc picks
        w.nest(TCA.options) { o in
            var p = tcRatespec(bytesPerSecond: rate)
            p += tcRatespec(bytesPerSecond: ceil)
            p.appendLE(tcTicks(bytes: burst, bytesPerSecond: rate))  // buffer
            p.appendLE(tcTicks(bytes: burst, bytesPerSecond: ceil))  // cbuffer
            p.appendLE(UInt32(0)) // quantum (computed from rate2quantum)
            p.appendLE(UInt32(0)) // level
            p.appendLE(UInt32(0)) // prio
            o.put(AttrType(1, "TCA_HTB_PARMS"), bytes: p)
            if rate > UInt64(UInt32.max) { o.put(AttrType(6, "TCA_HTB_RATE64"), rate) }
            if ceil > UInt64(UInt32.max) { o.put(AttrType(7, "TCA_HTB_CEIL64"), ceil) }
        }
        return NetlinkRequest(type: RTM.newTClass, flags: [.create, .excl, .ack], body: w,
                              what: what ?? "adding htb class 1:\(c.id) to #\(index)")
    }

    /// Dumps qdiscs. Equivalent to `tc qdisc show`.
    public static func dumpQdiscs() -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(TcMsg().bytes)
        return NetlinkRequest(type: RTM.getQdisc, flags: .dump, body: w, what: "listing qdiscs")
    }
}

/// A qdisc as the kernel reports it.
public struct QdiscInfo: Sendable, Hashable {
    /// The interface index it is on.
    public var index: Int32
    /// Its handle (`major:minor` in one 32-bit value).
    public var handle: UInt32
    /// The handle of its parent; `TC_H_ROOT` for a root qdisc.
    public var parent: UInt32
    /// Its kind (`htb`, `netem`, …).
    public var kind: String
    /// Parses an `RTM_NEWQDISC` message.
    public init(message m: NetlinkMessage) throws {
        let h = try TcMsg(m.body)
        index = h.index; handle = h.handle; parent = h.parent
        kind = try Attribute.parse(m.body.dropFirst(TcMsg.size)).first(TCA.kind)?.string() ?? ""
    }
}

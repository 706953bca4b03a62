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

/// One HTB class (`classid 1:id`).
public struct HTBClass: Sendable, Hashable {
    public var id: UInt32
    public var rateBitsPerSecond: UInt64
    public var ceilBitsPerSecond: UInt64
    public init(id: UInt32, rateBitsPerSecond: UInt64, ceilBitsPerSecond: UInt64? = nil) {
        self.id = id; self.rateBitsPerSecond = rateBitsPerSecond; self.ceilBitsPerSecond = ceilBitsPerSecond ?? rateBitsPerSecond
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
    /// Installs a root qdisc on an interface. Equivalent to `tc qdisc add dev IFINDEX root handle 1: KIND …`.
    public static func newQdisc(index: Int32, _ q: QdiscSpec, what: String? = nil) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(TcMsg(family: AF.unspec, index: index, handle: 0x1_0000, parent: TcMsg.rootParent).bytes)
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

    /// Adds an HTB class under the root `1:`. Equivalent to `tc class add dev D parent 1: classid 1:ID htb rate R ceil C`.
    public static func newHTBClass(index: Int32, _ c: HTBClass, what: String? = nil) -> NetlinkRequest {
        var w = AttributeWriter()
        w.appendHeader(TcMsg(family: AF.unspec, index: index, handle: 0x1_0000 | (c.id & 0xffff), parent: 0x1_0000).bytes)
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
    public var index: Int32
    public var handle: UInt32
    public var parent: UInt32
    public var kind: String
    public init(message m: NetlinkMessage) throws {
        let h = try TcMsg(m.body)
        index = h.index; handle = h.handle; parent = h.parent
        kind = try Attribute.parse(m.body.dropFirst(TcMsg.size)).first(TCA.kind)?.string() ?? ""
    }
}

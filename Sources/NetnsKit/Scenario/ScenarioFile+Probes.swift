import Netlink
import NetnsModel

// The file forms of the probe expectations with options (FileFormat.md, "Pings with options" and
// "Throughput"): `reaches`/`cannotReach` with `count`, `df`, `ttl`, `source`, `dev`,
// a scoped link-local destination (`fe80::1%eth0`), and the failure's `reporter`, `icmpType`,
// `icmpCode`, `mtu`; and `throughput`.

extension LabExpectation {
    /// The keys that turn `reaches`/`cannotReach` into a ``ping(from:to:options:failure:)``.
    static let pingKeys = ["count", "df", "ttl", "source", "dev"]
    /// The failure details only a ``ping(from:to:options:failure:)`` checks.
    static let pingFailureKeys = ["reporter", "icmpType", "icmpCode", "mtu"]
    /// The default TCP port of a throughput check.
    static let throughputPort: UInt16 = 5201

    /// A `reaches`/`cannotReach` entry with ping options, or nil when it has none (the older forms).
    static func pingForm(_ c: KeyedDecodingContainer<FieldKey>, kind: String, node: String) throws -> LabExpectation? {
        guard kind == "reaches" || kind == "cannotReach" else { return nil }
        let text: String = try c.required(kind)
        let scoped = text.contains("%")
        let keys = c.allKeys.map(\.stringValue)
        // A link-local destination is this form too: it needs its device, which only this form has.
        let linkLocal = IPAddress(text)?.isIPv6LinkLocal ?? false
        guard scoped || linkLocal || keys.contains(where: { pingKeys.contains($0) || pingFailureKeys.contains($0) }) else {
            return nil
        }
        for key in ["minRtt", "maxRtt"] where c.contains(FieldKey(key)) {
            throw bad(c, key, "a round-trip bound takes no ping options (count, df, ttl, source, dev)")
        }
        var options = PingOptions()
        let parts = text.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let to = IPAddress(parts[0]) else { throw bad(c, kind, "not an IP address: \"\(text)\"") }
        if scoped {
            guard to.isIPv6LinkLocal else {
                throw bad(c, kind, "only a link-local IPv6 address (fe80::/10) takes a %interface scope: \"\(text)\"")
            }
            options.interface = parts[1]
        }
        if let dev: String = try c.optional("dev") {
            if let scope = options.interface, scope != dev {
                throw bad(c, "dev", "dev \(dev) differs from the destination's scope %\(scope)")
            }
            options.interface = dev
        }
        if to.isIPv6LinkLocal && options.interface == nil {
            throw bad(c, kind, "a link-local destination needs its interface: \(to)%eth0 (or dev: eth0)")
        }
        options.count = try c.value("count", default: 2)
        options.size = try c.optional("size")
        options.dontFragment = try c.value("df", default: false)
        options.ttl = try c.optional("ttl")
        if let src: String = try c.optional("source") {
            guard let a = IPAddress(src) else { throw bad(c, "source", "not an IP address: \"\(src)\"") }
            guard a.isIPv4 == to.isIPv4 else { throw bad(c, "source", "source \(a) and destination \(to) are of different families") }
            options.source = a
        }
        if let p = options.problem {
            let key = p.hasPrefix("count") ? "count" : p.hasPrefix("size") ? "size" : p.hasPrefix("ttl") ? "ttl" : "dev"
            throw bad(c, key, p)
        }
        // (`reaches` rejects the failure keys before this: they are not among its keys.)
        guard kind == "cannotReach" else { return .ping(from: node, to: to, options: options) }
        var failure = PingFailureExpectation()
        let reasonText: String = try c.value("reason", default: "any")
        guard let reason = UnreachableReason(rawValue: reasonText) else {
            throw bad(c, "reason", "unknown reason \"\(reasonText)\" (expected one of: "
                      + UnreachableReason.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        failure.reason = reason
        if let r: String = try c.optional("reporter") {
            guard let a = IPAddress(r) else { throw bad(c, "reporter", "not an IP address: \"\(r)\"") }
            failure.reporter = a
        }
        for key in ["icmpType", "icmpCode"] {
            guard let v: Int = try c.optional(key) else { continue }
            guard (0...255).contains(v) else { throw bad(c, key, "\(key) \(v) is outside 0…255") }
            if key == "icmpType" { failure.icmpType = UInt8(v) } else { failure.icmpCode = UInt8(v) }
        }
        if let m: Int = try c.optional("mtu") {
            guard (68...65535).contains(m) else { throw bad(c, "mtu", "mtu \(m) is outside 68…65535") }
            failure.mtu = m
        }
        return .ping(from: node, to: to, options: options, failure: failure)
    }

    /// A `throughput` entry: `{from: h1, throughput: 10.0.0.2, minMbit: 5, maxMbit: 12}`.
    static func throughputForm(_ c: KeyedDecodingContainer<FieldKey>, node: String) throws -> LabExpectation {
        let text: String = try c.required("throughput")
        guard let to = IPAddress(text) else { throw bad(c, "throughput", "not an IP address: \"\(text)\"") }
        let port = c.contains(FieldKey("port")) ? try c.port("port") : throughputPort
        let bytes: Int = try c.value("bytes", default: 2_000_000)
        guard (1...1_000_000_000).contains(bytes) else { throw bad(c, "bytes", "bytes \(bytes) is outside 1…1000000000") }
        let limit = try c.duration("timeLimit") ?? .seconds(10)
        guard limit >= .milliseconds(100) && limit <= .seconds(600) else {
            throw bad(c, "timeLimit", "timeLimit \(limit.tcText) is outside 100ms…600s")
        }
        let min: Double? = try c.optional("minMbit"), max: Double? = try c.optional("maxMbit")
        if min == nil && max == nil { throw bad(c, "throughput", "give the rate's bounds: minMbit, maxMbit or both") }
        for (key, v) in [("minMbit", min), ("maxMbit", max)] {
            if let v, !(v >= 0 && v <= 1_000_000) { throw bad(c, key, "\(key) \(v) is outside 0…1000000") }
        }
        if let min, let max, min > max { throw bad(c, "maxMbit", "maxMbit \(max) is below minMbit \(min)") }
        return .throughput(from: node, to: to, port: port, bytes: bytes, timeLimit: limit, min: min, max: max)
    }

    /// Writes a ping-with-options or throughput entry, the form ``pingForm(_:kind:node:)`` and
    /// ``throughputForm(_:node:)`` read (a ping always writes `count`, which marks the form).
    func encodeProbe(_ c: inout KeyedEncodingContainer<FieldKey>) throws {
        switch self {
        case let .ping(f, t, o, failure):
            try c.put(f, "from"); try c.put("\(t)", failure == nil ? "reaches" : "cannotReach")
            try c.put(o.count, "count"); try c.put(o.size, "size"); try c.put(o.dontFragment, "df", unless: false)
            try c.put(o.ttl, "ttl"); try c.put(o.source.map { "\($0)" }, "source"); try c.put(o.interface, "dev")
            if let failure {
                if failure.reason != .any { try c.put(failure.reason.rawValue, "reason") }
                try c.put(failure.reporter.map { "\($0)" }, "reporter")
                try c.put(failure.icmpType.map(Int.init), "icmpType"); try c.put(failure.icmpCode.map(Int.init), "icmpCode")
                try c.put(failure.mtu, "mtu")
            }
        case let .throughput(f, t, port, bytes, limit, min, max):
            try c.put(f, "from"); try c.put("\(t)", "throughput")
            if port != Self.throughputPort { try c.put(port, "port") }
            if bytes != 2_000_000 { try c.put(bytes, "bytes") }
            if limit != .seconds(10) { try c.put(limit.tcText, "timeLimit") }
            try c.put(min, "minMbit"); try c.put(max, "maxMbit")
        default:
            preconditionFailure("encodeProbe is for ping and throughput entries")
        }
    }
}

extension IPAddress {
    /// True for an IPv6 link-local address (fe80::/10), which needs an interface to be used.
    var isIPv6LinkLocal: Bool {
        let b = bytes
        return isIPv6 && b[0] == 0xfe && b[1] & 0xc0 == 0x80
    }
}

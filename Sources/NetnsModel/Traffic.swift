/// A rate in bits per second, written like `10mbit`, `500kbit` or `1gbit` (SI units, as `tc` reads them).
public struct Rate: Sendable, Hashable, Comparable, Codable, CustomStringConvertible,
    ExpressibleByIntegerLiteral
{
    public var bitsPerSecond: UInt64

    public init(bitsPerSecond: UInt64) { self.bitsPerSecond = bitsPerSecond }
    public init(integerLiteral value: UInt64) { self.init(bitsPerSecond: value) }

    /// Parses `<number><unit>` with unit `bit`, `kbit`, `mbit`, `gbit` or `tbit` (also `bps`-less bare numbers).
    public init?(_ text: String) {
        let lower = text.lowercased().trimmingWhitespace()
        let digits = lower.prefix { $0.isNumber || $0 == "." }
        let unit = lower.dropFirst(digits.count)
        let scale: Double
        switch unit {
        case "", "bit": scale = 1
        case "kbit": scale = 1e3
        case "mbit": scale = 1e6
        case "gbit": scale = 1e9
        case "tbit": scale = 1e12
        default: return nil
        }
        guard let value = Double(digits), value >= 0, value * scale < 1.8e19 else { return nil }
        self.init(bitsPerSecond: UInt64((value * scale).rounded()))
    }

    public static func mbit(_ n: UInt64) -> Rate { Rate(bitsPerSecond: n * 1_000_000) }
    public static func kbit(_ n: UInt64) -> Rate { Rate(bitsPerSecond: n * 1_000) }
    public static func gbit(_ n: UInt64) -> Rate { Rate(bitsPerSecond: n * 1_000_000_000) }

    /// The largest exact unit: `10mbit`, `1500kbit`, `7bit`.
    public var description: String {
        for (unit, scale) in [("tbit", UInt64(1e12)), ("gbit", 1_000_000_000), ("mbit", 1_000_000), ("kbit", 1_000)]
        where bitsPerSecond >= scale && bitsPerSecond % scale == 0 {
            return "\(bitsPerSecond / scale)\(unit)"
        }
        return "\(bitsPerSecond)bit"
    }

    public static func < (a: Rate, b: Rate) -> Bool { a.bitsPerSecond < b.bitsPerSecond }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(UInt64.self) {
            self.init(bitsPerSecond: n)
            return
        }
        let text = try c.decode(String.self)
        guard let r = Rate(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a rate: \"\(text)\" (expected e.g. 10mbit)")
        }
        self = r
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A queueing discipline at the root of an interface (handle `1:`).
public struct Qdisc: Sendable, Hashable {
    /// The qdisc and its parameters.
    public enum Kind: Sendable, Hashable {
        /// Token bucket filter: shape to `rate` with a bucket of `burst` bytes, queueing at most `limit`.
        case tbf(rate: Rate, burst: Int, limit: TBFLimit)
        /// Hierarchical token bucket with classes `1:<id>` under the root; unclassified traffic goes to `defaultClass`.
        case htb(defaultClass: UInt32, classes: [HTBClass])
        /// Network emulator: delay (with jitter) and random loss in percent.
        case netem(delay: Duration = .zero, jitter: Duration = .zero, loss: Double = 0)

        /// The `tc` name, e.g. `tbf`.
        public var name: String {
            switch self {
            case .tbf: "tbf"
            case .htb: "htb"
            case .netem: "netem"
            }
        }
    }

    /// How much a TBF may queue: as the longest wait, or as bytes.
    public enum TBFLimit: Sendable, Hashable {
        case latency(Duration)
        case bytes(Int)
    }

    /// One class of an HTB qdisc.
    public struct HTBClass: Sendable, Hashable, Codable {
        /// The minor number: the class is `1:<id>`.
        public var id: UInt32
        public var rate: Rate
        /// The most it may borrow up to; `nil` means `rate`.
        public var ceil: Rate?

        public init(id: UInt32, rate: Rate, ceil: Rate? = nil) {
            self.id = id
            self.rate = rate
            self.ceil = ceil
        }
    }

    /// The interface; `nil` means the node's first link interface.
    public var interface: String?
    public var kind: Kind
    public var provenance = Provenance()
}

extension Duration {
    /// `50ms`, `1.5ms`, `2s`, `250us`: the way `tc` prints times.
    var tcText: String {
        let micros = components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
        if micros % 1_000_000 == 0 { return "\(micros / 1_000_000)s" }
        if micros % 1_000 == 0 { return "\(micros / 1_000)ms" }
        return "\(micros)us"
    }

    /// Parses `50ms`, `2s`, `250us`, or a bare number of milliseconds.
    init?(tcText text: String) {
        let lower = text.lowercased().trimmingWhitespace()
        let digits = lower.prefix { $0.isNumber || $0 == "." }
        let scale: Double
        switch lower.dropFirst(digits.count) {
        case "", "ms": scale = 1_000
        case "s": scale = 1_000_000
        case "us": scale = 1
        default: return nil
        }
        guard let value = Double(digits), value >= 0, value * scale < 1e15 else { return nil }
        self = .microseconds(Int64((value * scale).rounded()))
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

/// A rate in bits per second, written like `10mbit`, `500kbit` or `1gbit` (SI units, as `tc` reads them).
public struct Rate: Sendable, Hashable, Comparable, Codable, CustomStringConvertible,
    ExpressibleByIntegerLiteral
{
    /// The rate, in bits per second.
    public var bitsPerSecond: UInt64

    /// A rate of `bitsPerSecond`.
    public init(bitsPerSecond: UInt64) { self.bitsPerSecond = bitsPerSecond }
    /// A rate written as an integer literal, in bits per second.
    public init(integerLiteral value: UInt64) { self.init(bitsPerSecond: value) }

    /// Parses `<number><unit>` as `tc` does, case-insensitively: `bit`, `kbit`, `mbit`, `gbit`,
    /// `tbit` (SI, bits), `kibit` … `tibit` (IEC, bits), `bps`, `kbps` … `tbps` and `kibps` …
    /// `tibps` (bytes per second), or a bare number of bits per second.
    public init?(_ text: String) {
        let lower = text.lowercased().trimmingWhitespace()
        let digits = lower.prefix { $0.isNumber || $0 == "." }
        var unit = Substring(lower.dropFirst(digits.count))
        var scale = 1.0
        if unit.hasSuffix("bps") { scale = 8; unit = unit.dropLast(3) } else if unit.hasSuffix("bit") { unit = unit.dropLast(3) } else if !unit.isEmpty { return nil }
        let prefixes: [Substring: Double] = ["": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12,
                                             "ki": 1024, "mi": 1_048_576, "gi": 1_073_741_824, "ti": 1_099_511_627_776]
        guard let p = prefixes[unit] else { return nil }
        scale *= p
        guard let value = Double(digits), value >= 0, value * scale < 1.8e19 else { return nil }
        self.init(bitsPerSecond: UInt64((value * scale).rounded()))
    }

    /// `n` megabits (10⁶ bits) per second.
    public static func mbit(_ n: UInt64) -> Rate { Rate(bitsPerSecond: n * 1_000_000) }
    /// `n` kilobits (10³ bits) per second.
    public static func kbit(_ n: UInt64) -> Rate { Rate(bitsPerSecond: n * 1_000) }
    /// `n` gigabits (10⁹ bits) per second.
    public static func gbit(_ n: UInt64) -> Rate { Rate(bitsPerSecond: n * 1_000_000_000) }

    /// The largest exact unit: `10mbit`, `1500kbit`, `7bit`.
    public var description: String {
        for (unit, scale) in [("tbit", UInt64(1e12)), ("gbit", 1_000_000_000), ("mbit", 1_000_000), ("kbit", 1_000)]
        where bitsPerSecond >= scale && bitsPerSecond % scale == 0 {
            return "\(bitsPerSecond / scale)\(unit)"
        }
        return "\(bitsPerSecond)bit"
    }

    /// Slower first.
    public static func < (a: Rate, b: Rate) -> Bool { a.bitsPerSecond < b.bitsPerSecond }

    /// Reads a number of bits per second, or text as ``init(_:)`` parses it (`10mbit`).
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

    /// Writes the rate as text in its largest exact unit (`10mbit`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A tc handle or class id, `major:minor`, written in hex as `tc` writes it (`1:10` is minor 16).
public struct TCHandle: Sendable, Hashable, CustomStringConvertible {
    /// The major number (the qdisc's).
    public var major: UInt16
    /// The minor number (the class's; 0 for a qdisc).
    public var minor: UInt16

    /// The handle `major:minor`.
    public init(major: UInt16, minor: UInt16) { self.major = major; self.minor = minor }

    /// Parses `1:10`, `1:` (minor 0) or `ffff:1`, hex like `tc`.
    public init?(_ text: String) {
        let parts = text.trimmingWhitespace().split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let major = UInt16(parts[0], radix: 16) else { return nil }
        if parts[1].isEmpty { self.init(major: major, minor: 0); return }
        guard let minor = UInt16(parts[1], radix: 16) else { return nil }
        self.init(major: major, minor: minor)
    }

    /// `1:10`, or `1:` for minor 0.
    public var description: String {
        String(major, radix: 16) + ":" + (minor == 0 ? "" : String(minor, radix: 16))
    }

    /// The kernel's 32-bit form, major in the upper half.
    public var raw: UInt32 { UInt32(major) << 16 | UInt32(minor) }
}

/// A queueing discipline on an interface: at the root (handle `1:` unless `handle` says
/// otherwise), or under a class of another qdisc on the same interface (`parent`).
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
        /// At most this long a wait in the queue (`latency`).
        case latency(Duration)
        /// At most this many bytes in the queue (`limit`).
        case bytes(Int)
    }

    /// One class of an HTB qdisc.
    public struct HTBClass: Sendable, Hashable, Codable {
        /// The minor number: the class is `1:<id>`.
        public var id: UInt32
        /// The rate the class is guaranteed.
        public var rate: Rate
        /// The most it may borrow up to; `nil` means `rate`.
        public var ceil: Rate?
        /// The minor number of the parent class, for a class tree; `nil`: directly under the qdisc.
        public var parent: UInt32?

        /// A class `1:id` with a guaranteed `rate`, borrowing up to `ceil`, under `parent` when given.
        public init(id: UInt32, rate: Rate, ceil: Rate? = nil, parent: UInt32? = nil) {
            self.id = id
            self.rate = rate
            self.ceil = ceil
            self.parent = parent
        }
    }

    /// The interface; `nil` means the node's first link interface.
    public var interface: String?
    /// The qdisc and its parameters.
    public var kind: Kind
    /// The major number of the qdisc's handle; `nil` means 1 (`1:`).
    public var handle: UInt16?
    /// The class to attach under (`1:10`); `nil` means the root.
    public var parent: TCHandle?
    /// Where the qdisc was declared, and values that did not parse.
    public var provenance = Provenance()

    /// The handle's major number.
    public var major: UInt16 { handle ?? 1 }
}

/// Parses a size in bytes as `tc` does, case-insensitively: a bare number or `b` (bytes), `k`/`kb`,
/// `m`/`mb`, `g`/`gb` (binary multiples of bytes), `kbit`, `mbit`, `gbit` (binary multiples of bits).
func tcSize(_ text: String) -> Int? {
    let lower = text.lowercased().trimmingWhitespace()
    let digits = lower.prefix { $0.isNumber || $0 == "." }
    let scales: [Substring: Double] = ["": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1_048_576, "mb": 1_048_576,
                                       "g": 1_073_741_824, "gb": 1_073_741_824,
                                       "kbit": 128, "mbit": 131_072, "gbit": 134_217_728]
    guard let scale = scales[Substring(lower.dropFirst(digits.count))], let value = Double(digits), value >= 0,
          value * scale < Double(Int32.max) else { return nil }
    return Int((value * scale).rounded())
}

extension Duration {
    /// `50ms`, `1.5ms`, `2s`, `250us`: the way `tc` prints times.
    package var tcText: String {
        let micros = components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
        if micros % 1_000_000 == 0 { return "\(micros / 1_000_000)s" }
        if micros % 1_000 == 0 { return "\(micros / 1_000)ms" }
        return "\(micros)us"
    }

    /// Parses `50ms`, `2s`, `250us`, or a bare number of milliseconds.
    package init?(tcText text: String) {
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

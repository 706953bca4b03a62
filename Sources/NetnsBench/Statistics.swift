import Histogram

/// The distribution of a set of durations: min, median, p50, p99 and max, in seconds.
///
/// The percentiles come from an HdrHistogram (nanoseconds, three significant digits: a
/// percentile is within 0.1 % of a recorded value); `min`, `median` and `max` are exact.
/// `median` is the classic one (the mean of the two middle values for an even count), kept
/// for the runs-based workloads; `p50` is the histogram's value at the 50th percentile.
public struct BenchStats: Sendable, Codable, Equatable, CustomStringConvertible {
    /// The smallest duration, in seconds (0 for none).
    public var min: Double
    /// The median duration, in seconds (0 for none).
    public var median: Double
    /// The 50th percentile, in seconds (0 for none).
    public var p50: Double
    /// The 99th percentile, in seconds (0 for none).
    public var p99: Double
    /// The largest duration, in seconds (0 for none).
    public var max: Double

    /// The statistics of `samples`, durations in seconds in any order (negative ones count as 0).
    public init(_ samples: [Double]) {
        var histogram = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        for s in samples { histogram.record(Self.nanoseconds(s)) }
        let sorted = samples.sorted()
        min = sorted.first ?? 0
        max = sorted.last ?? 0
        median = sorted.isEmpty ? 0
            : sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        // The histogram works in whole nanoseconds; kept within the exact extremes, so that
        // min ≤ p50 ≤ p99 ≤ max holds in seconds too.
        let (lo, hi) = (min, max)
        func percentile(_ p: Double) -> Double {
            samples.isEmpty ? 0 : Swift.min(hi, Swift.max(lo, Double(histogram.valueAtPercentile(p)) / 1e9))
        }
        p50 = percentile(50)
        p99 = percentile(99)
    }

    static func nanoseconds(_ seconds: Double) -> UInt64 {
        guard seconds.isFinite, seconds > 0 else { return 0 }
        return UInt64(Swift.min(seconds * 1e9, Double(UInt64.max / 4)).rounded())
    }

    /// The median with the minimum and maximum, in milliseconds.
    public var description: String { "\(ms(median)) (min \(ms(min)), max \(ms(max)))" }

    /// p50, p99 and max, in milliseconds: how a distribution of cycles reads.
    public var percentiles: String { "p50 \(ms(p50)), p99 \(ms(p99)), max \(ms(max))" }
}

/// A duration in seconds as milliseconds with one decimal, or two below 1 ms ("2.6 ms", "0.37 ms").
func ms(_ s: Double) -> String {
    if s < 0.001 {
        return "\((s * 100_000).rounded() / 100) ms"
    }
    return "\((s * 10_000).rounded() / 10) ms"
}

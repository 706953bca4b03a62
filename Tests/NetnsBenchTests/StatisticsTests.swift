import Foundation
import NetnsBench
import Testing

/// The statistics and the JSON of `nslab bench`, without a kernel.
struct BenchStatisticsTests {
    /// 1, 2, …, 1000 ms: the percentiles are the values at those ranks, within the histogram's
    /// three significant digits; min, median and max are exact.
    @Test func percentilesOfAKnownDistribution() {
        let s = BenchStats((1...1000).reversed().map { Double($0) / 1000 })
        #expect(s.min == 0.001 && s.max == 1.0 && s.median == 0.5005)
        #expect(abs(s.p50 - 0.500) <= 0.0005, "\(s)")
        #expect(abs(s.p99 - 0.990) <= 0.001, "\(s)")
    }

    /// One slow cycle in a hundred moves p99 and max, not p50: the tail is visible.
    @Test func aTailShowsInP99NotP50() {
        let s = BenchStats(Array(repeating: 0.002, count: 98) + [0.040, 0.045])
        #expect(abs(s.p50 - 0.002) <= 0.000_01, "\(s)")
        #expect(abs(s.p99 - 0.040) <= 0.000_05, "\(s)")
        #expect(s.max == 0.045)
    }

    @Test func noSamplesAreZeros() {
        let s = BenchStats([])
        #expect(s.min == 0 && s.median == 0 && s.p50 == 0 && s.p99 == 0 && s.max == 0)
    }

    /// The JSON object of a workload: `create.p50`, `create.p99`, `create.max` and the same for
    /// teardown and total; `gone` only when measured; one line; decodes back to the same result.
    @Test func jsonShape() throws {
        let result = BenchResult(workload: "fixture", file: nil, n: 3, mode: .fixture, runs: 1, cycles: 3,
                                 create: BenchStats([0.002, 0.003, 0.010]), teardown: BenchStats([0.0001, 0.0002, 0.0003]),
                                 gone: nil, total: BenchStats([0.0021, 0.0032, 0.0103]), opsPerSecond: 7000,
                                 labsPerSecond: 250.5, peakRSSBytes: 1 << 20, phases: nil, ipBatch: nil, speedup: nil)
        let line = result.json
        #expect(!line.contains("\n"))
        let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(o["workload"] as? String == "fixture" && o["mode"] as? String == "fixture" && o["cycles"] as? Int == 3)
        #expect(o["gone"] == nil && o["file"] == nil)
        for key in ["create", "teardown", "total"] {
            let s = try #require(o[key] as? [String: Double], "\(key)")
            #expect(Set(s.keys) == ["min", "median", "p50", "p99", "max"], "\(key): \(s)")
        }
        let create = try #require(o["create"] as? [String: Double])
        #expect(create["max"] == 0.010 && create["min"] == 0.002 && create["median"] == 0.003)
        let back = try JSONDecoder().decode(BenchResult.self, from: Data(line.utf8))
        #expect(back.create == result.create && back.total == result.total && back.labsPerSecond == 250.5)
    }
}

extension BenchStatisticsTests {
    /// Durations that are not whole nanoseconds: the histogram's rounding never puts a
    /// percentile outside the exact min and max (seen: p99 above max by 1e-16 s).
    @Test func percentilesStayWithinTheExtremes() {
        for seed in 1...50 {
            var x = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15
            let samples = (0..<(seed * 7)).map { _ -> Double in
                x = x &* 6364136223846793005 &+ 1442695040888963407
                return Double(x >> 11) / Double(1 << 53) * 0.6 + 1e-7
            }
            let s = BenchStats(samples)
            #expect(s.min <= s.p50 && s.p50 <= s.p99 && s.p99 <= s.max, "\(s)")
        }
    }
}

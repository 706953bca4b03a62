import Foundation
import Namespaces

extension Bench {
    /// Waits until the machine is idle (90 % of CPU time idle over 50 ms), for at most 2 s.
    ///
    /// The kernel destroys namespaces asynchronously, after the process has let go of them;
    /// without this, the cleanup of one run (NetnsKit's or `ip`'s) overlaps the next run and
    /// slows it by up to a third.
    static func settle(maxSeconds: Double = 2) {
        func cpu() -> (idle: Double, total: Double)? {
            guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
                  let line = text.split(separator: "\n").first else { return nil }
            let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            guard fields.count >= 5 else { return nil }
            return (fields[3] + fields[4], fields.prefix(8).reduce(0, +))
        }
        let end = monotonicNow() + maxSeconds
        guard var last = cpu() else { return }
        while monotonicNow() < end {
            Thread.sleep(forTimeInterval: 0.05)
            guard let now = cpu() else { return }
            let total = now.total - last.total
            if total > 0 && (now.idle - last.idle) / total >= 0.9 { return }
            last = now
        }
    }

    /// Resets this process's peak RSS (VmHWM) to its current RSS (`/proc/self/clear_refs`).
    static func resetPeakRSS() {
        guard let f = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return }
        try? f.write(contentsOf: Data("5".utf8))
        try? f.close()
    }

    /// VmHWM of this process, in bytes.
    static func peakRSS() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (line.split(separator: " ").compactMap { Int($0) }.first ?? 0) * 1024
        }
        return 0
    }
}

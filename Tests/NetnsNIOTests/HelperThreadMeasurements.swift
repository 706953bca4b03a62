import Dispatch
import Foundation
import Namespaces
import NetnsKit
import NetnsNIO
import NetnsTesting
import NIOCore
import NIOPosix
import Testing

/// Which operations, run on a thread inside a node, start helper threads there.
///
/// The measurements leave threads inside the lab's namespaces (a thread pool's, or libdispatch
/// workers that then run other tests' work), which would trip the process-wide audits of the
/// tests running meanwhile, so they run only on request, alone:
/// `NETNSKIT_MEASURE_HELPERS=1 swift test --filter HelperThreadMeasurements` (or `=caseN` for
/// the N-th operation of ``operations``). The relay test runs always.
@Suite(.serialized) struct HelperThreadMeasurements {
    /// Threads in `node`'s namespace other than its loops and the namespace workers, after a moment.
    static func strays(_ lab: Lab, _ loops: NodeEventLoopGroup) -> [ThreadRecord] {
        usleep(100_000)
        return lab.threadAudit().map(\.thread).filter { !loops.threadIDs.contains($0.tid) }
    }

    /// Awaiting futures completed on a node's loop through `value(of:)` never starts a thread in the node.
    @Test(.lab(line)) func awaitingThroughTheRelayStartsNoThreadInTheNode() async throws {
        let lab = try #require(Lab.current)
        let h1 = try await lab["h1"].eventLoopGroup()
        for i in 0..<50 {
            let v = try await h1.value(of: h1.submit { i })
            #expect(v == i)
        }
        // And concurrently, so that the pool is busy when the resumptions arrive.
        try await withThrowingTaskGroup(of: Int.self) { g in
            for i in 0..<32 { g.addTask { try await h1.value(of: h1.next().scheduleTask(in: .milliseconds(1)) { i }.futureResult) } }
            var sum = 0
            for try await v in g { sum += v }
            #expect(sum == (0..<32).reduce(0, +))
        }
        #expect(Self.strays(lab, h1).isEmpty)
    }

    /// `1`: every case; otherwise the number of the one case to run.
    static var measuring: Bool { ProcessInfo.processInfo.environment["NETNSKIT_MEASURE_HELPERS"] != nil }
    static func selected(_ i: Int) -> Bool {
        let v = ProcessInfo.processInfo.environment["NETNSKIT_MEASURE_HELPERS"] ?? ""
        return v == "1" || v == "case\(i)"
    }

    /// Prints, per operation run on (or completed from) a loop thread in h1, how many threads it
    /// left in h1. Each case gets its own lab.
    @Test(.enabled(if: measuring, "set NETNSKIT_MEASURE_HELPERS=1 and run alone"),
          arguments: operations)
    func measure(_ operation: String) async throws { try await measureOne(operation) }

    static let operations = ["NIOThreadPool.start()", "future.get() x200", "future.get() x64 concurrent", "DispatchQueue.global().async",
                      "DispatchQueue(label:).async", "Task {}", "Task.detached {}", "ClientBootstrap.connect(host:) (GetaddrinfoResolver)",
                      "syncShutdownGracefully without leaving", "NodeEventLoopGroup.shutdown", "FileManager.contentsOfDirectory",
                      "Date/Calendar/String(format:)", "future.get() completed after 7 s idle",
                      "value(of:) completed after 7 s idle", "DispatchQueue.global().async after 7 s idle",
                      "NIO shutdown after 7 s idle", "NodeEventLoopGroup.shutdown after 7 s idle"]

    func measureOne(_ operation: String) async throws {
        guard Self.selected(Self.operations.firstIndex(of: operation) ?? -1) else { return }
        print("measure: [\(operation)] starting")
        let lab = try await Lab.up(line)
        defer { lab.down() }
        let h1 = try await lab["h1"].eventLoopGroup()
        let inode = try lab["h1"].namespace.inode
        switch operation {
        case "NIOThreadPool.start()":
            // Its threads (TP-#0, TP-#1) are born in h1 every time.
            let pool = try await h1.value(of: h1.submit { () -> NIOThreadPoolBox in
                let p = NIOThreadPool(numberOfThreads: 2)
                p.start()
                return NIOThreadPoolBox(pool: p)
            })
            let found = Self.strays(lab, h1)
            print("measure: [\(operation)] threads left in h1: \(found.count) \(found.map(\.description))")
            try await pool.pool.shutdownGracefully()
            return
        case "future.get() x200":
            for i in 0..<200 { _ = try await h1.submit { i }.get() }
        case "future.get() x64 concurrent":
            try await withThrowingTaskGroup(of: Int.self) { g in
                for i in 0..<64 { g.addTask { try await h1.next().scheduleTask(in: .milliseconds(1)) { i }.futureResult.get() } }
                for try await _ in g {}
            }
        case "DispatchQueue.global().async":
            try await h1.value(of: h1.submit { DispatchQueue.global().async { usleep(1000) } })
        case "DispatchQueue(label:).async":
            try await h1.value(of: h1.submit { DispatchQueue(label: "m").async { usleep(1000) } })
        case "Task {}":
            try await h1.value(of: h1.submit { Task { usleep(1000) } })
        case "Task.detached {}":
            try await h1.value(of: h1.submit { Task.detached { usleep(1000) } })
        case "ClientBootstrap.connect(host:) (GetaddrinfoResolver)":
            let f = h1.next().flatSubmit { ClientBootstrap(group: h1.group).connectTimeout(.milliseconds(200)).connect(host: "localhost", port: 1) }
            _ = try? await h1.value(of: f)
        case "syncShutdownGracefully without leaving":
            let g = try await lab["h2"].eventLoopGroup()
            let tids = g.threadIDs
            ThreadAudit.unregister(tids)
            try await g.group.shutdownGracefully()
            print("measure: [\(operation)] threads in h2 after: \(lab.threadAudit().filter { $0.node == "h2" }.map(\.thread))")
        case "NodeEventLoopGroup.shutdown":
            let g = try await lab["h2"].eventLoopGroup()
            try g.shutdown()
            print("measure: [\(operation)] threads in h2 after: \(lab.threadAudit().filter { $0.node == "h2" }.map(\.thread))")
        case "FileManager.contentsOfDirectory":
            try await h1.value(of: h1.submit { _ = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") })
        case "Date/Calendar/String(format:)":
            try await h1.value(of: h1.submit { _ = String(format: "%.3f", 1.5); _ = Calendar.current.component(.year, from: Date()) })
        case "future.get() completed after 7 s idle":
            // Every pool thread idles out (libdispatch ends a worker after about 5 s idle), then
            // the loop completes the future and so resumes the task.
            _ = try await h1.next().scheduleTask(in: .seconds(7)) { 1 }.futureResult.get()
        case "value(of:) completed after 7 s idle":
            _ = try await h1.value(of: h1.next().scheduleTask(in: .seconds(7)) { 1 }.futureResult)
        case "DispatchQueue.global().async after 7 s idle":
            try await h1.value(of: h1.next().scheduleTask(in: .seconds(7)) {
                DispatchQueue.global().async { usleep(1000) }
            }.futureResult)
        case "NIO shutdown after 7 s idle", "NodeEventLoopGroup.shutdown after 7 s idle":
            let g = try await lab["h2"].eventLoopGroup()
            let h2 = try lab["h2"].namespace.inode
            try await Task.sleep(for: .seconds(7))
            if operation.hasPrefix("NIO") {
                ThreadAudit.unregister(g.threadIDs)
                try await g.group.shutdownGracefully()
            } else {
                try g.shutdown()
            }
            usleep(100_000)
            let left = lab.threadAudit().filter { $0.thread.namespaceInode == h2 }.map(\.thread)
            print("measure: [\(operation)] threads in h2 after: \(left.count) \(left.map(\.description))")
        default:
            Issue.record("unknown operation \(operation)")
        }
        let found = Self.strays(lab, h1).filter { $0.namespaceInode == inode }
        print("measure: [\(operation)] threads left in h1: \(found.count) \(found.map(\.description))")
    }
}

struct NIOThreadPoolBox: @unchecked Sendable { let pool: NIOThreadPool }

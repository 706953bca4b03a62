import Namespaces

/// Runs a workload through iproute2's `ip -batch`, one process per namespace, as users write it.
enum IPBatch {
    /// Runs the batches in order (the first one, with no namespace, adds the namespaces), then
    /// deletes every namespace it added in one more batch.
    /// - Parameter batches: (namespace or nil for the global batch, commands), as
    ///   ``BenchWorkload/ipBatches(n:prefix:)`` gives them.
    /// - Returns: (create, teardown) seconds.
    /// - Throws: ``BenchError`` when a batch fails; the namespaces are deleted anyway.
    static func run(_ batches: [(String?, [String])]) throws -> (Double, Double) {
        let names = batches.first?.1.compactMap { $0.hasPrefix("netns add ") ? String($0.dropFirst(10)) : nil } ?? []
        let del = names.map { "netns del \($0)" }.joined(separator: "\n") + "\n"
        var deleted = false
        defer {
            // Always clean up, even after a failure.
            if !deleted { _ = try? Spawner.runBlocking(["ip", "-force", "-batch", "-"], in: nil, stdin: Array(del.utf8), timeout: 120) }
        }
        let start = monotonicNow()
        for (ns, cmds) in batches {
            var argv = ["ip"]
            if let ns { argv += ["-n", ns] }
            argv += ["-batch", "-"]
            let r = try Spawner.runBlocking(argv, in: nil, stdin: Array((cmds.joined(separator: "\n") + "\n").utf8), timeout: 300)
            if r.status != 0 { throw BenchError("ip -batch failed: \(r.errorOutput.prefix(500))") }
        }
        let created = monotonicNow() - start
        let d0 = monotonicNow()
        let r = try Spawner.runBlocking(["ip", "-batch", "-"], in: nil, stdin: Array(del.utf8), timeout: 300)
        if r.status != 0 { throw BenchError("ip -batch netns del failed: \(r.errorOutput.prefix(500))") }
        deleted = true
        return (created, monotonicNow() - d0)
    }
}

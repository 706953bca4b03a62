import Foundation

// `nslab test -j N`: scenarios run concurrently, each on a thread of its own.
//
// A scenario mostly waits (ICMP replies and drops, TCP timeouts, processes), and its probes
// wait in blocking `poll`s. On Swift's cooperative pool (one thread per core: two here) two
// waiting scenarios would hold every thread, so each scenario runs on a dedicated thread, a
// task executor of its own (`withTaskExecutorPreference`). These threads never `setns`: the
// namespace work still goes through the namespace workers.

/// A task executor backed by one dedicated thread, ended by ``finish()``.
final class DedicatedThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var finished = false

    /// Starts the thread (named `name` in `/proc/self/task/*/comm`, at most 15 bytes).
    init(name: String) {
        let thread = Thread { [self] in loop() }
        thread.name = String(name.prefix(15))
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets the thread end once the jobs enqueued so far have run.
    func finish() {
        condition.lock()
        finished = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !finished { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// How `nslab test` schedules its targets: up to `jobs` at once, the serial ones alone.
enum TestSchedule {
    /// The default `-j`: twice the cores this process may use (scenarios mostly wait), 2 to 8.
    static var defaultJobs: Int {
        min(8, max(2, 2 * ProcessInfo.processInfo.activeProcessorCount))
    }

    /// Runs `body` for every index, at most `jobs` at a time, each on a thread of its own; the
    /// indices where `serial` is true run afterwards, one at a time with nothing else running.
    /// - Returns: the results in index order, whatever order they finished in.
    /// Those with the highest `waits` start first (a stable order otherwise): a scenario that waits
    /// for drops and timeouts is the slowest, and started late it would end the run late.
    static func run<R: Sendable>(count: Int, jobs: Int, serial: (Int) -> Bool, waits: (Int) -> Int = { _ in 0 },
                                 _ body: @escaping @Sendable (Int) async -> R) async -> [R] {
        var results = [R?](repeating: nil, count: count)
        let concurrent = (0..<count).filter { !serial($0) }.map { ($0, waits($0)) }
            .enumerated().sorted { ($0.element.1, -$0.offset) > ($1.element.1, -$1.offset) }.map(\.element.0)
        let alone = (0..<count).filter { serial($0) }

        @Sendable func onOwnThread(_ i: Int) async -> (Int, R) {
            let executor = DedicatedThreadExecutor(name: "nslab-test-\(i)")
            defer { executor.finish() }
            let r = await withTaskExecutorPreference(executor) { await body(i) }
            return (i, r)
        }

        await withTaskGroup(of: (Int, R).self) { group in
            var next = 0
            while next < concurrent.count && next < max(1, jobs) {
                let i = concurrent[next]
                group.addTask { await onOwnThread(i) }
                next += 1
            }
            for await (i, r) in group {
                results[i] = r
                if next < concurrent.count {
                    let j = concurrent[next]
                    group.addTask { await onOwnThread(j) }
                    next += 1
                }
            }
        }
        for i in alone {
            let (_, r) = await onOwnThread(i)
            results[i] = r
        }
        return results.map { $0! }
    }
}

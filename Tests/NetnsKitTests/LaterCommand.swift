import Foundation
import Namespaces
import Synchronization

/// A command run in a namespace after a delay, on a thread of its own: a `Task` can wait for a
/// cooperative-pool thread longer than the check that waits for the command (in the full
/// parallel suite on two cores, it did).
final class LaterCommand: Sendable {
    private let result = Mutex<Result<ProcessResult, any Error>?>(nil)

    init(after seconds: Double, _ argv: [String], in ns: NetworkNamespace) {
        Thread {
            usleep(UInt32(seconds * 1_000_000))
            let r = Result { try Spawner.runBlocking(argv, in: ns) }
            self.result.withLock { $0 = r }
        }.start()
    }

    /// The command's result, once it has run.
    func value() throws -> ProcessResult {
        while result.withLock({ $0 == nil }) { usleep(10_000) }
        return try result.withLock { $0! }.get()
    }
}

import Foundation

/// One of N deterministic shares of a test run (`nslab test --shard I/N`).
///
/// The k-th selected target (counting from 0, in the order the run would take them: arguments
/// as given, a directory's files sorted, the catalogue in its order; after `--filter`) belongs
/// to shard `k % N`. Round robin spreads neighbouring (often similar) scenarios over the shards,
/// and the N shards of the same selection together are exactly the unsharded run.
struct Shard: Hashable, CustomStringConvertible {
    /// 0…count−1, as a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` counts.
    var index: Int
    var count: Int

    /// The environment variable `--shard N` takes the index from.
    static let indexVariable = "JOB_COMPLETION_INDEX"

    init(index: Int, count: Int) {
        precondition(count > 0 && index >= 0 && index < count, "shard \(index)/\(count)")
        self.index = index
        self.count = count
    }

    /// Parses `I/N`, or `N` with the index from `JOB_COMPLETION_INDEX` in `environment`.
    init(parsing text: String, environment: [String: String]) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let usage = "use --shard I/N with 0 ≤ I < N (e.g. --shard 0/4), or --shard N to take I from \(Self.indexVariable)"
        guard parts.count == 1 || parts.count == 2, let count = Self.number(parts.last!) else {
            throw NslabError("invalid shard \"\(text)\": expected I/N or N, with whole numbers", hint: usage)
        }
        guard count > 0 else { throw NslabError("invalid shard \"\(text)\": the number of shards must be at least 1", hint: usage) }
        let index: Int
        if parts.count == 2 {
            guard let i = Self.number(parts[0]) else {
                throw NslabError("invalid shard \"\(text)\": the index \"\(parts[0])\" is not a whole number", hint: usage)
            }
            index = i
        } else {
            guard let value = environment[Self.indexVariable] else {
                throw NslabError("--shard \(text) takes the shard index from \(Self.indexVariable), which is not set",
                                 hint: "set it (a Kubernetes Indexed Job does) or give the index: --shard I/\(count)")
            }
            guard let i = Self.number(value.trimmingCharacters(in: .whitespaces)) else {
                throw NslabError("invalid shard index \(Self.indexVariable)=\"\(value)\": not a whole number", hint: usage)
            }
            index = i
        }
        guard index < count else {
            let source = parts.count == 2 ? "" : " (from \(Self.indexVariable))"
            throw NslabError("invalid shard \(index)/\(count)\(source): the index must be below the number of shards (0…\(count - 1))",
                             hint: usage)
        }
        self.init(index: index, count: count)
    }

    /// This shard's share of `items`, in their order.
    func select<T>(_ items: [T]) -> [T] {
        items.enumerated().filter { $0.offset % count == index }.map(\.element)
    }

    /// `1/4`.
    var description: String { "\(index)/\(count)" }

    /// A non-negative decimal number of ASCII digits (no sign, no spaces), at most 9 digits.
    private static func number(_ text: String) -> Int? {
        guard !text.isEmpty, text.count <= 9, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }
}

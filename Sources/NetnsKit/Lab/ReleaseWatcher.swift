import Namespaces
import Netlink
import Synchronization

/// Tells when the kernel has really destroyed namespaces (their cleanup is asynchronous).
///
/// Before the namespaces are closed, it puts a sentinel veth in each, whose peer sits in
/// a private watch namespace of this process. The kernel deletes a veth pair when either
/// namespace dies, so once every sentinel peer is gone from the watch namespace, every
/// watched namespace has been torn down, links included.
struct ReleaseWatcher {
    private static let watch = Mutex<NetworkNamespace?>(nil)
    private static let counter = Atomic<UInt64>(0)
    private let watchNS: NetworkNamespace
    private var sentinels: [String: String] = [:] // peer name in the watch namespace -> label

    init(_ namespaces: [NetworkNamespace]) throws {
        let w = try Self.watch.withLock { w -> NetworkNamespace in
            if let w { return w }
            let n = try NetworkNamespace.create(label: "release-watch")
            w = n
            return n
        }
        watchNS = w
        for ns in namespaces {
            let n = Self.counter.add(1, ordering: .relaxed).newValue
            let peer = "nkw" + String(n, radix: 36)
            try ns.socket.execute(.newLink(LinkSpec(name: "nkwatch", kind: .veth(peer: VethPeer(name: peer, namespaceFD: w.fd, queues: 1)), queues: 1),
                                           what: "adding a release sentinel to \(ns.label)"))
            sentinels[peer] = ns.label
        }
    }

    /// Polls the watch namespace until every sentinel peer is gone or the deadline passes.
    /// - Returns: the labels of namespaces not yet released (empty when all are gone).
    func waitUntilReleased(deadline: Double) -> [String] {
        var left = Set(sentinels.keys)
        while true {
            guard let names = try? watchNS.socket.links().map(\.name) else { break }
            left = left.intersection(names)
            if left.isEmpty || monotonicNow() >= deadline { break }
            ProcessFacts.sleep(microseconds: 500)
        }
        return left.compactMap { sentinels[$0] }.sorted()
    }
}

import Foundation
import Namespaces
import Netlink
import Testing

/// Runs `ip` (iproute2) inside a namespace and decodes its JSON output: the independent view.
func ipJSON(_ ns: NetworkNamespace, _ args: [String]) throws -> [[String: Any]] {
    let r = try Spawner.runBlocking(["ip", "-j"] + args, in: ns, timeout: 10)
    guard r.status == 0 else { throw TestFailure("ip -j \(args.joined(separator: " ")) failed: \(r)") }
    let obj = try JSONSerialization.jsonObject(with: Data(r.stdout))
    return obj as? [[String: Any]] ?? []
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// True when this process can create network namespaces (root or a user namespace with caps).
let canCreateNamespaces: Bool = {
    (try? NetworkNamespace.create(label: "probe"))?.close() != nil
}()

/// A unique short suffix so parallel tests never collide on host-visible names.
func uniqueSuffix() -> String {
    String(UInt32.random(in: 0..<UInt32.max), radix: 36)
}

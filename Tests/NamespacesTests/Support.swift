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

/// Link names in a namespace, as `ip -j link show` lists them.
/// The links `ip` shows in a namespace: `lo` and the test's own (the fallback devices some
/// kernels add to every namespace by themselves are left out: see
/// `NetworkNamespace.kernelFallbackDevices`).
func ipLinkNames(_ ns: NetworkNamespace) throws -> Set<String> {
    Set(try ipJSON(ns, ["link", "show"]).compactMap { $0["ifname"] as? String }).subtracting(NetworkNamespace.kernelFallbackDevices)
}

/// Link names from a dump, without the kernel's own fallback devices.
func ours(_ names: [String]) -> Set<String> { Set(names).subtracting(NetworkNamespace.kernelFallbackDevices) }

/// The running kernel's release as numbers (`6.1.0-57-amd64` → [6, 1, 0]).
let kernelVersion: [Int] = {
    var u = utsname()
    uname(&u)
    let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    return release.split(whereSeparator: { !$0.isNumber }).prefix(3).compactMap { Int($0) }
}()

/// Whether the running kernel is at least `major.minor`.
func kernelAtLeast(_ major: Int, _ minor: Int) -> Bool {
    kernelVersion.lexicographicallyPrecedes([major, minor]) == false
}

/// One link as `ip -j -d link show dev NAME` reports it.
func ipLink(_ ns: NetworkNamespace, _ name: String) throws -> [String: Any] {
    guard let l = try ipJSON(ns, ["-d", "link", "show", "dev", name]).first else { throw TestFailure("ip shows no link \(name)") }
    return l
}

/// `linkinfo.info_data` of a link in `ip -j -d` output.
func infoData(_ link: [String: Any]) -> [String: Any] {
    ((link["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any]) ?? [:]
}

/// Creates `count` fresh anonymous namespaces, runs `body`, closes them.
@discardableResult
func withNamespaces<R>(_ labels: String..., body: ([NetworkNamespace]) throws -> R) throws -> R {
    var made: [NetworkNamespace] = []
    defer { made.forEach { $0.close() } }
    for l in labels { made.append(try NetworkNamespace.create(label: l)) }
    return try body(made)
}

/// Polls `condition` every 10 ms for up to `timeout` seconds.
func eventually(timeout: Double = 3, _ condition: () throws -> Bool) rethrows -> Bool {
    let end = monotonicNow() + timeout
    repeat {
        if try condition() { return true }
        usleep(10_000)
    } while monotonicNow() < end
    return try condition()
}

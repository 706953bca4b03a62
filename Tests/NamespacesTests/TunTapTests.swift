import Foundation
import Namespaces
import Netlink
import Testing

@Suite(.enabled(if: canCreateNamespaces, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"),
       .enabled(if: access("/dev/net/tun", R_OK | W_OK) == 0, "/dev/net/tun is not accessible to this user"))
struct TunTapTests {
    @Test func tunAndTapAreCreatedInsideTheNamespace() throws {
        let ns = try NetworkNamespace.create(label: "tun")
        defer { ns.close() }
        try ns.addTunTap(name: "tun0", mode: .tun)
        try ns.addTunTap(name: "tap0", mode: .tap)
        let links = try ipJSON(ns, ["-d", "link", "show"])
        let tun = try #require(links.first { $0["ifname"] as? String == "tun0" })
        let tap = try #require(links.first { $0["ifname"] as? String == "tap0" })
        #expect((tun["linkinfo"] as? [String: Any])?["info_kind"] as? String == "tun")
        #expect(((tap["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any])?["type"] as? String == "tap")
        #expect(try ns.socket.link(named: "tap0").kind == "tun")
        // Persistent: still there after the creating descriptor was closed; the host has neither.
        // (Names, not text: on a kernel with ip_gre loaded the host has a `gretap0`.)
        let host = Set(try Spawner.runBlocking(["ip", "-br", "link"], in: nil).output.split(separator: "\n").compactMap {
            $0.split(separator: " ").first.map { String($0.split(separator: "@")[0]) }
        })
        #expect(!host.contains("tun0") && !host.contains("tap0"), "\(host.sorted())")
    }
}

import Foundation
import Namespaces
import NetnsKit
import NetnsTesting
import Scenarios
import Testing

/// On a kernel whose IP-tunnel modules are loaded, every new namespace is born with fallback
/// tunnel devices (`gre0`, `gretap0`, `erspan0`, `tunl0`, `sit0`, `ip6tnl0`, `ip6gre0`…) at
/// ifindex 2, 3, …, and the host's `net.core.fb_tunnels_only_for_init_net` (which we never
/// change) decides it. Builds must allocate their indexes around them. This kernel (no modules)
/// never shows it; the kernel-matrix VM (Debian's modular 6.1) does.
@Suite(.netnsPrivileges, .serialized) struct KernelDeviceTests {
    /// Loads the GRE, IPIP, SIT and IPv6 tunnel modules the way a build would: by creating
    /// each kind once in a scratch namespace.
    static func loadTunnelModules() -> Bool {
        ["gre", "gretap", "ipip", "sit", "ip6tnl", "ip6gre"].map { KernelFeatures.shared.link($0).supported }.contains(true)
    }

    @Test(.kernelHas(linkKind: "gre"))
    func newNamespacesHoldTheKernelsFallbackDevices() throws {
        #expect(Self.loadTunnelModules())
        let ns = try NetworkNamespace.create(label: "fallback")
        defer { ns.close() }
        let names = try ns.socket.links().map(\.name)
        // What this test exists for: the kernel really adds devices by itself here.
        #expect(names.contains("gre0"), "\(names)")
        #expect(names.count > 1)
    }

    @Test(.kernelHas(linkKind: "gre"), arguments: Catalogue.all.map(\.name))
    func catalogueBuildsAndPassesWithFallbackDevices(_ name: String) async throws {
        #expect(Self.loadTunnelModules())
        let scenario = try #require(Catalogue.named(name))
        for feature in scenario.requires where KernelFeatures.shared.probe(feature)?.supported == false {
            Issue.record("the kernel-matrix kernel should have \(feature)")
            return
        }
        let lab = try await Lab.up(scenario.topology)
        defer { lab.down() }
        // The kernel's own devices are there, and ours are all there besides them.
        for node in scenario.topology.nodes.map(\.name) {
            let names = Set(try lab[node].links().map(\.name))
            #expect(names.contains("gre0"), "\(node): \(names.sorted())")
        }
        // The whole scenario as `nslab test` runs it (setup, its processes such as the
        // firewall's servers, checks, verifications), on namespaces the modules fill too.
        let report = await scenario.test()
        #expect(report.status == .pass, "\(name): \(report.failures) \(report.reason ?? "")")
        #expect(report.total > 0)
    }

    /// A tunnel whose module is not loaded yet loads it mid-build on a modular kernel; the
    /// builder loads it first, so the fallback devices never take an index it handed out.
    @Test(.kernelHas(linkKind: "ipip"))
    func aTunnelThatLoadsItsModuleBuilds() throws {
        let lab = try Lab.up(Topology("ipip-mid") {
            Host("a") { Address("10.44.0.1/24") }
            Host("b") { Address("10.44.0.2/24") }
            Link("a", "b")
            Tunnel("ipip1", .ipip, between: "a", "b", aUnderlay: "eth0", bUnderlay: "eth0",
                   aAddress: "10.45.0.1/30", bAddress: "10.45.0.2/30")
        })
        defer { lab.down() }
        #expect(try lab["a"].links().contains { $0.name == "ipip1" })
        #expect(try lab["a"].links().contains { $0.name == "tunl0" })
    }
}

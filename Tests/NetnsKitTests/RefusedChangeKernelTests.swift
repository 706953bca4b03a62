import Foundation
import NetnsKit
import NetnsModel
import NetnsTesting
import SystemPackage
import Testing

/// Refused changes against a real lab: the kernel's errno and extack as declared, and the
/// failures when they differ or when the kernel accepts the change.
@Suite(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct RefusedChangeKernelTests {
    @Test func refusalsMatchErrnoAndExtackAndFailOtherwise() async throws {
        let lab = try await Lab.up(Topology("refuse") {
            Host("h1") { Address("10.64.0.1/24"); Address("fd00:64::1/64") }
            Host("h2") { Address("10.64.0.2/24"); Address("fd00:64::2/64") }
            Link("h1", "h2")
        })
        defer { lab.down() }
        let linkLocal = TimelineChange.addRoute(node: "h1", Route("fd00:99::/64", via: "fe80::1"))
        let ok = RefusedChangeExpectation(linkLocal, errno: .invalidArgument, extack: "Egress device not specified")
        #expect(await lab.verify(.refused(ok)) == nil)
        #expect(await lab.verify(.refused(RefusedChangeExpectation(.addRoute(node: "h1", Route("10.99.0.0/24", via: "10.99.99.1")),
                                                                    errno: .networkUnreachable, extack: "invalid gateway"))) == nil)

        var f = await lab.verify(.refused(RefusedChangeExpectation(linkLocal, errno: .networkUnreachable)))
        #expect(f?.observed.contains("errno: expected ENETUNREACH, got EINVAL") == true, "\(f?.description ?? "nil")")
        f = await lab.verify(.refused(RefusedChangeExpectation(linkLocal, errno: .invalidArgument, extack: "No route")))
        #expect(f?.observed.contains("extack: expected \"No route\", got \"Egress device not specified\"") == true,
                "\(f?.description ?? "nil")")
        // A change the kernel accepts fails the expectation, and says the lab changed.
        let accepted = TimelineChange.addRoute(node: "h1", Route("10.98.0.0/24", via: "10.64.0.2"))
        f = await lab.verify(.refused(RefusedChangeExpectation(accepted, errno: .invalidArgument)))
        #expect(f?.observed.contains("the kernel accepted the change") == true, "\(f?.description ?? "nil")")
        #expect(try lab["h1"].routes(.ipv4).contains { "\($0)".contains("10.98.0.0/24") })

        await lab["h1"].expectRefused(.setMTU(node: "h1", link: "eth0", mtu: 70000), errno: .invalidArgument)
        await withKnownIssue {
            await lab["h1"].expectRefused(.setMTU(node: "h1", link: "eth0", mtu: 1400), errno: .invalidArgument)
        } matching: { issue in "\(issue)".contains("accepted") }
    }
}

import Foundation
import NetnsKit
import NetnsTesting
import Testing

/// Child half: with NK_CAP_CHILD set, tries to build and prints the error.
@Test func capabilityChild() throws {
    guard ProcessInfo.processInfo.environment["NK_CAP_CHILD"] != nil else { return }
    do {
        let lab = try Lab.up(routed)
        lab.down()
        FileHandle.standardOutput.write(Data("BUILT\n".utf8))
    } catch {
        FileHandle.standardOutput.write(Data("ERROR: \(error)\n".utf8))
    }
}

@Suite(.netnsPrivileges) struct CapabilityTests {
    /// With CAP_NET_ADMIN and CAP_SYS_ADMIN dropped (capsh), the error names them and says how to get them.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/capsh"), "needs capsh (libcap2-bin)"),
          arguments: ["cap_sys_admin", "cap_net_admin", "cap_net_admin,cap_sys_admin"])
    func droppedCapabilitiesAreNamed(_ drop: String) throws {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let r = try Spawner.runBlocking(
            ["/usr/sbin/capsh", "--drop=\(drop)", "--", "-c", "exec \"$0\" --testing-library swift-testing --filter capabilityChild", exe],
            in: nil, environment: ["NK_CAP_CHILD=1"], timeout: 60)
        let out = r.output
        #expect(out.contains("ERROR: "), "the build should fail without \(drop): \(out.suffix(800))")
        for cap in drop.split(separator: ",") {
            #expect(out.contains(cap.uppercased()), "the error should name \(cap.uppercased()): \(out.suffix(800))")
        }
        #expect(out.contains("--cap-add") && out.contains("unshare --user --map-root-user --net"))
    }
}

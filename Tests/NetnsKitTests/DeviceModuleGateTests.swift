import Foundation
import Namespaces
import Netlink
import NetnsKit
import NetnsTesting
import Synchronization
import Testing

/// A tunnel module loaded by another thread while a build is between its namespaces and its
/// last link (another lab's GRE tunnel, a `kernelHas(linkKind:)` probe) puts `gre0`, `gretap0`
/// and `erspan0` into every namespace, at indexes the build has handed out, and the build's
/// link fails with EEXIST (seen in the kernel-matrix run of the catalogue under 6.1: `firewall`
/// failed beside `gre-tunnel`). What may load such a module holds ``DeviceModuleGate``
/// exclusively (``KernelFeatures/link(_:)`` for those kinds), builds hold it shared.
@Suite struct DeviceModuleGateTests {
    static let topology = Topology("gate") {
        for i in 1...4 { Host("h\(i)") { Address("10.44.0.\(i)/24") } }
        Switch("sw")
        for i in 1...4 { Link("h\(i)", "sw") }
    }

    /// On the fake kernel: a "module load" started once the namespaces exist runs only after
    /// the build's last link.
    @Test func aModuleLoadStartedMidBuildWaitsForTheLastLink() throws {
        let kernel = FakeKernel()
        let loadedAfter = Mutex<Int?>(nil)   // operations the kernel had seen when the load ran
        let started = Mutex(false)
        var options = LabOptions()
        options.progress = { phase, _, _ in
            guard phase == "namespaces", !started.withLock({ let s = $0; $0 = true; return s }) else { return }
            Thread {
                DeviceModuleGate.shared.exclusive { loadedAfter.withLock { $0 = kernel.operations.count } }
            }.start()
            // Without the gate the load is done well within this wait, before the first link.
            let deadline = monotonicNow() + 1
            while loadedAfter.withLock({ $0 == nil }) && monotonicNow() < deadline { usleep(5_000) }
        }
        try Lab.build(Self.topology, options: options, on: kernel)
        let deadline = monotonicNow() + 10
        while loadedAfter.withLock({ $0 == nil }) && monotonicNow() < deadline { usleep(5_000) }
        let at = try #require(loadedAfter.withLock { $0 }, "the load never ran")
        let links = kernel.operations.filter { $0.kind == .request(RTM.newLink) }
        #expect(links.count >= 5)
        #expect(links.allSatisfy { $0.number < at }, "links after the load: \(links.filter { $0.number >= at })")
    }

    /// The probe of a kind whose module adds fallback devices waits for a build in progress.
    /// (`erspan` is such a kind that no other test probes, so the probe is not cached yet; the
    /// scratch-namespace probe itself answers "not a link kind NetnsKit knows".)
    @Test func probingSuchAKindWaitsForBuildsInProgress() throws {
        let probed = Mutex(false)
        let inBuild = Mutex(true)
        let sawBuildEnd = Mutex<Bool?>(nil)
        DeviceModuleGate.shared.shared {
            Thread {
                _ = KernelFeatures.shared.link("erspan")
                sawBuildEnd.withLock { $0 = !inBuild.withLock { $0 } }
                probed.withLock { $0 = true }
            }.start()
            usleep(300_000)
            #expect(!probed.withLock { $0 }, "the probe ran inside a build")
            inBuild.withLock { $0 = false }
        }
        let deadline = monotonicNow() + 10
        while !probed.withLock({ $0 }) && monotonicNow() < deadline { usleep(5_000) }
        #expect(sawBuildEnd.withLock { $0 } == true)
    }
}

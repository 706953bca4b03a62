import SystemPackage
import NetnsKit
import NetnsTesting
import Testing

/// Ten nodes (so namespaces are created two at a time), with every kind of operation a build
/// has: namespace sysctls, a per-interface sysctl, a bridge, veths, multipath and policy
/// routing, a tap device, a firewall.
let wideRealistic = Topology("wide") {
    Switch("sw")
    for i in 1...6 {
        Host("h\(i)") { Address("10.0.1.\(i + 1)/24"); Route(.default, via: "10.0.1.1") }
    }
    Router("r1") {
        Sysctl("net.ipv4.conf.eth1.rp_filter", "2")
        Route("10.9.0.0/16", nexthops: [Nexthop(via: "10.0.2.2", weight: 1), Nexthop(via: "10.0.3.2", weight: 2)])
        Rule(priority: 100, from: "10.0.1.3/32", table: 100)
        Route(.default, via: "10.0.2.2", table: 100)
        Firewall("table inet nkf { chain forward { type filter hook forward priority 0; tcp dport 22 drop; }; }")
    }
    Host("h7") { Address("10.9.0.1/16"); Route(.default, via: "10.0.2.1"); Tap("tap0", mtu: 1400) }
    Host("h8") { Address("10.9.0.2/16"); Route(.default, via: "10.0.3.1") }
    for i in 1...6 { Link("h\(i)", "sw") }
    Link("r1:eth0", "sw", aAddress: "10.0.1.1/24")
    Link("r1:eth1", "h7:eth0", aAddress: "10.0.2.1/24", bAddress: "10.0.2.2/24")
    Link("r1:eth2", "h8:eth0", aAddress: "10.0.3.1/24", bAddress: "10.0.3.2/24")
}

/// The errno an error of a failed build carries, whatever its type.
private func errnoOf(_ e: any Error) -> Errno? {
    (e as? any ErrnoCarrying)?.errno
}

/// Builds and rollbacks against the fake kernel: no privileges, no user namespace.
@Suite struct FakeKernelTests {
    /// Fails each operation of a clean build in turn (namespace creations and their sysctls,
    /// pins, every request, interface sysctls, the tap device, the firewall, the dumps), with
    /// errors the kernel can return: every build rolls back completely (the fake holds no
    /// namespace, link or pin after) and names the declaration that failed. Two topologies: one
    /// whose namespaces are created one at a time, one (10 nodes) created two at a time.
    @Test(arguments: [false, true])
    func faultAtEveryOperationRollsBackCompletely(pinned: Bool) throws {
        for topology in [realistic, wideRealistic] {
            let options = LabOptions(mode: pinned ? .pinned(prefix: "nkfake") : .fixture)
            let clean = FakeKernel()
            try Lab.build(topology, options: options, on: clean)
            let total = clean.operations.count
            #expect(total > 40, "expected a realistic number of operations, got \(total)")
            let kinds = Set(clean.operations.map { "\($0.kind)" })
            var expectedKinds: Set<String> = ["create namespace", "sysctl", "RTM_NEWLINK", "RTM_NEWADDR", "RTM_NEWROUTE", "RTM_NEWRULE", "dump"]
            if pinned { expectedKinds.insert("pin") }
            if topology.name == "wide" { expectedKinds.formUnion(["tun/tap", "process"]) }
            #expect(kinds.isSuperset(of: expectedKinds), "\(topology.name): \(kinds.sorted())")
            try clean.finish()

            let errnos: [Errno] = [.noBufferSpace, .resourceBusy, .fileExists, .operationNotSupportedByDevice]
            for k in 0..<total {
                let kernel = FakeKernel()
                let e = errnos[k % errnos.count]
                // An extack on requests only: a process given one exits 1 instead of failing to start.
                let isRequest = if case .request = clean.operations[k].kind { true } else { false }
                let extack = isRequest && k.isMultiple(of: 2) ? "scripted failure \(k)" : nil
                kernel.fail(operation: k, errno: e, extack: extack)
                let context = "\(topology.name) operation \(k) (\(clean.operations[k]))"
                do {
                    try Lab.build(topology, options: options, on: kernel)
                    Issue.record("\(context) was set to fail but the build succeeded")
                } catch let b as BuildError {
                    let failed = kernel.operations.first { $0.error != nil }
                    #expect(failed?.number == k, "\(context): \(kernel.operations.filter { $0.error != nil })")
                    #expect(!b.declaration.isEmpty, "\(context): \(b)")
                    if failed?.kind != .dump { #expect(!b.command.isEmpty, "\(context): \(b)") }
                    #expect(errnoOf(b.underlying) == e, "\(context): \(b)")
                    if case .request = failed?.kind, let extack {
                        #expect(b.netlinkError?.kernelMessage == extack, "\(context): \(b)")
                        #expect(b.description.contains(extack), "\(context): \(b)")
                    }
                    #expect(b.rollbackProblems.isEmpty, "\(context): \(b.rollbackProblems)")
                }
                #expect(kernel.namespaces.isEmpty, "\(context): namespaces survived the rollback: \(kernel.namespaces)")
                #expect(kernel.links.isEmpty, "\(context): links survived the rollback: \(kernel.links)")
                #expect(kernel.pinnedNames.isEmpty, "\(context): pins survived the rollback: \(kernel.pinnedNames)")
                try kernel.finish()
            }
        }
    }

    /// The ten namespaces are created from both lanes, and a failure there rolls back what
    /// the other lane made (the parallel path is fault-tested too).
    @Test func parallelNamespaceCreationIsFaultTested() throws {
        let clean = FakeKernel()
        try Lab.build(wideRealistic, on: clean)
        #expect(Set(clean.operations.filter { $0.kind == .createNamespace }.compactMap(\.lane)) == [0, 1])

        let kernel = FakeKernel()
        kernel.fail(.createNamespace, nth: 7, errno: .noMemory)
        let b = try #require(throws: BuildError.self) { try Lab.build(wideRealistic, on: kernel) }
        #expect(errnoOf(b.underlying) == .noMemory, "\(b)")
        #expect(kernel.operations.filter { $0.kind == .destroyNamespace }.count >= 6, "\(kernel.operations)")
        #expect(kernel.namespaces.isEmpty)
        try kernel.finish()

        // One lane: one at a time, in plan order.
        let serial = FakeKernel(lanes: 1)
        try Lab.build(wideRealistic, on: serial)
        #expect(Set(serial.operations.filter { $0.kind == .createNamespace }.compactMap(\.lane)) == [0])
    }

    /// The fake keeps what a build made, and records every request in order.
    @Test func recordsWhatTheBuildMade() throws {
        let kernel = FakeKernel()
        try Lab.build(realistic, on: kernel)
        try kernel.finish()
        #expect(kernel.namespaces == ["h1", "h2", "h3", "h4", "r1", "sw"])
        for l in ["h1:eth0", "h2:eth0", "r1:eth0", "r1:eth1", "r1:eth2", "h3:eth0", "h4:eth0"] {
            #expect(kernel.links.contains(l), "\(l) not in \(kernel.links)")
        }
        // Namespaces first, then every link before any address.
        let ops = kernel.operations
        let firstRequest = ops.firstIndex { if case .request = $0.kind { true } else { false } }!
        #expect(ops.filter { $0.kind == .createNamespace }.allSatisfy { $0.number < firstRequest })
        let lastLink = ops.lastIndex { $0.kind == .request(RTM.newLink) && $0.request!.flags.contains(.create) }!
        let firstAddress = ops.firstIndex { $0.kind == .request(RTM.newAddr) }!
        #expect(lastLink < firstAddress)
        #expect(kernel.requests.filter { $0.type == RTM.newAddr }.count == 9)
        #expect(kernel.sysctls(in: "h1")["net.ipv6.conf.all.accept_dad"] == "0")
        #expect(try kernel.links(in: "r1").first { $0.name == "eth1" }?.isUp == true)
    }

    /// A fault scripted by request kind and order reaches the caller with its errno and extack,
    /// blaming the declaration the request came from.
    @Test func scriptedErrnoAndExtackByKindAndOrder() throws {
        let kernel = FakeKernel()
        kernel.fail(.request(RTM.newAddr), nth: 2, errno: .fileExists, extack: "ipv4: Address already assigned")
        let b = try #require(throws: BuildError.self) { try Lab.build(realistic, on: kernel) }
        let failed = try #require(kernel.operations.first { $0.error != nil })
        #expect(failed.kind == .request(RTM.newAddr))
        #expect(kernel.operations.filter { $0.kind == .request(RTM.newAddr) }.firstIndex { $0.number == failed.number } == 1)
        #expect(b.netlinkError?.errno == .fileExists)
        #expect(b.netlinkError?.kernelMessage == "ipv4: Address already assigned")
        #expect(b.command.contains("addr add"), "\(b)")
        #expect(b.description.contains("File exists (EEXIST): \"ipv4: Address already assigned\""), "\(b)")
        #expect(kernel.namespaces.isEmpty)
        try kernel.finish()

        // By node and text: a namespace sysctl blames its own declaration.
        let k2 = FakeKernel()
        k2.fail(.sysctl, whatContains: "rp_filter", in: "r1", errno: .permissionDenied)
        let b2 = try #require(throws: BuildError.self) { try Lab.build(wideRealistic, on: k2) }
        #expect(b2.command.contains("rp_filter"), "\(b2)")
        #expect((b2.underlying as? SysctlWriteError)?.key == "net.ipv4.conf.eth1.rp_filter")
        #expect(k2.namespaces.isEmpty)
        try k2.finish()
    }

    /// `finish()` reports scripts no operation used, with where they were scripted.
    @Test func finishReportsUnusedScripts() throws {
        let kernel = FakeKernel()
        kernel.fail(.request(RTM.newNeigh), errno: .invalidArgument)
        kernel.fail(.request(RTM.newAddr), nth: 100, errno: .invalidArgument)
        try Lab.build(realistic, on: kernel)
        let e = try #require(throws: FakeKernel.UnusedScriptsError.self) { try kernel.finish() }
        #expect(e.scripts.count == 2)
        #expect(e.description.contains("1st RTM_NEWNEIGH -> EINVAL"), "\(e)")
        #expect(e.description.contains("100th RTM_NEWADDR"), "\(e)")
        #expect(e.description.contains("FakeKernelTests.swift"), "\(e)")
    }

    /// The fake's kernel refuses what a real one refuses: a failure the builder did not script.
    @Test func theFakeRefusesWhatTheKernelRefuses() throws {
        // Devices every new namespace is born with take indexes 2 and 3: the builder numbers
        // its own above them (learnt from a dump), so nothing collides.
        let kernel = FakeKernel(devicesInNewNamespaces: ["gre0", "tunl0"])
        try Lab.build(realistic, on: kernel)
        let created = kernel.requests.filter { $0.type == RTM.newLink && $0.flags.contains(.create) }
        #expect(!created.isEmpty)
        for node in kernel.namespaces {
            for l in try kernel.links(in: node) where !["lo", "gre0", "tunl0"].contains(l.name) {
                #expect(l.index > 3, "\(node):\(l.name) has index \(l.index)")
            }
        }
        #expect(kernel.operations.allSatisfy { $0.error == nil }, "\(kernel.operations.filter { $0.error != nil })")

        // A name already pinned: refused before any namespace is made.
        let taken = FakeKernel(pinned: ["nkfake-h2"])
        let b = try #require(throws: BuildError.self) {
            try Lab.build(realistic, options: LabOptions(mode: .pinned(prefix: "nkfake")), on: taken)
        }
        #expect("\(b)".contains("nkfake-h2"), "\(b)")
        #expect(taken.operations.isEmpty)
        #expect(taken.pinnedNames == ["nkfake-h2"])
    }

    /// A bare EPERM names the missing capabilities (asked of the transport, not of this process).
    @Test func epermNamesMissingCapabilities() throws {
        let kernel = FakeKernel(missingCapabilities: [.netAdmin])
        kernel.fail(.request(RTM.newLink), errno: .notPermitted)
        let b = try #require(throws: BuildError.self) { try Lab.build(realistic, on: kernel) }
        #expect((b.underlying as? MissingCapabilitiesError)?.missing == [.netAdmin], "\(b)")
        #expect(kernel.namespaces.isEmpty)

        let plain = FakeKernel()
        plain.fail(.request(RTM.newLink), errno: .notPermitted)
        let b2 = try #require(throws: BuildError.self) { try Lab.build(realistic, on: plain) }
        #expect(b2.netlinkError?.errno == .notPermitted, "\(b2)")
    }

    /// A removal that fails during the rollback is reported, not hidden.
    @Test func rollbackProblemsAreReported() throws {
        let kernel = FakeKernel()
        kernel.fail(.request(RTM.newRoute), errno: .networkUnreachable)
        kernel.fail(.destroyNamespace, in: "h3", errno: .resourceBusy)
        let b = try #require(throws: BuildError.self) { try Lab.build(realistic, on: kernel) }
        #expect(b.rollbackProblems == ["could not remove namespace h3: EBUSY"], "\(b)")
        #expect(kernel.namespaces == ["h3"])
        try kernel.finish()
    }
}

/// A transport that loses the last answer of every batch of more than one request.
private final class LosesAnAnswer: KernelTransport {
    let inner = FakeKernel()
    var namespaceCreationLanes: Int { 1 }
    func pinnedNamespaceExists(_ name: String) -> Bool { inner.pinnedNamespaceExists(name) }
    func prepare(linkKinds: [String]) {}
    func createNamespace(_ node: String, sysctls: [SysctlWrite], lane: Int) throws -> NamespaceRef {
        try inner.createNamespace(node, sysctls: sysctls, lane: lane)
    }
    func namespace(_ node: String) -> NetworkNamespace? { nil }
    func pin(_ node: String, as name: String) throws { try inner.pin(node, as: name) }
    func send(_ requests: [NetlinkRequest], in node: String) throws -> [NetlinkError?] {
        let r = try inner.send(requests, in: node)
        return r.count > 1 ? Array(r.dropLast()) : r
    }
    func writeSysctls(_ writes: [SysctlWrite], in node: String) throws { try inner.writeSysctls(writes, in: node) }
    func addTunTap(name: String, mode: NetworkNamespace.TunTapMode, index: Int32, in node: String) throws {
        try inner.addTunTap(name: name, mode: mode, index: index, in: node)
    }
    func run(_ argv: [String], stdin: [UInt8], in node: String, timeout: Double) throws -> ProcessResult {
        try inner.run(argv, stdin: stdin, in: node, timeout: timeout)
    }
    func links(in node: String) throws -> [LinkInfo] { try inner.links(in: node) }
    func addresses(in node: String) throws -> [AddressInfo] { try inner.addresses(in: node) }
    func qdiscs(in node: String) throws -> [QdiscInfo] { try inner.qdiscs(in: node) }
    func destroyNamespace(_ node: String) -> [String] { inner.destroyNamespace(node) }
    func missingCapabilities() -> [Capabilities.Capability] { [] }
}

/// A transport that answers a batch with too few results fails the build (a lost ack is never a success).
@Test func aLostAnswerFailsTheBuild() throws {
    let t = LosesAnAnswer()
    let b = try #require(throws: BuildError.self) { try Lab.build(realistic, on: t) }
    #expect("\(b.underlying)".contains("the transport answered"), "\(b)")
    #expect(t.inner.namespaces.isEmpty)
}

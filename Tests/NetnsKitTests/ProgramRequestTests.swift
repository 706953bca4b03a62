@testable import NetnsKit
import Testing

/// The mapping from program steps to requests, without a kernel: golden requests.
@Suite struct ProgramRequestTests {
    static let star = Topology("star") {
        Switch("sw")
        Host("h1") { Address("10.0.0.1/24"); Route(.default, via: "10.0.0.254") }
        Link("h1:eth0", "sw:p1")
    }

    /// Maps every step of the program, namespaces bound to made-up descriptors (sw 8, h1 7).
    static func mapped(_ program: BuildProgram) throws -> [(node: String, step: ProgramStep, calls: [RequestMapper.Call])] {
        var mapper = RequestMapper()
        for (ns, fd) in zip(program.namespaces, [Int32(8), 7]) { mapper.addNamespace(ns.node, fd: fd) }
        var out: [(String, ProgramStep, [RequestMapper.Call])] = []
        for phase in program.phases {
            for batch in phase.batches {
                for step in batch.steps {
                    out.append((batch.node, step, try mapper.calls(for: step, in: batch.node, what: step.command(in: batch.node))))
                }
            }
        }
        return out
    }

    static func requests(_ calls: [RequestMapper.Call]) -> [NetlinkRequest] {
        calls.compactMap { if case .request(let r) = $0 { r } else { nil } }
    }

    @Test func aVethIsCreatedUpWithItsPeerInPlaceAndThePeersMasterComesLast() throws {
        let program = try Self.star.plan().program()
        #expect(program.namespaces.map(\.node) == ["sw", "h1"])
        let all = try Self.mapped(program)
        // br0 is 2, then h1:eth0 3 and its peer sw:p1 4 (indexes unique across the lab).
        let veth = try #require(all.first { if case .operation(.addVeth, _) = $0.step.action { true } else { false } })
        #expect(veth.node == "h1")
        let expected = NetlinkRequest.newLink(LinkSpec(name: "eth0", index: 3,
                                                       kind: .veth(peer: VethPeer(name: "p1", index: 4, namespaceFD: 8, mtu: nil,
                                                                                  mac: nil, queues: 1)),
                                                       mtu: nil, mac: nil, up: true, master: nil, queues: 1))
        let got = try #require(Self.requests(veth.calls).first)
        #expect(got.type == expected.type && got.flags == expected.flags && got.body == expected.body)
        // The peer's master is not in the veth (the kernel ignores it in VETH_INFO_PEER): the
        // last step sets it, `ip -n sw link set p1 master br0`, as one RTM_NEWLINK.
        let last = try #require(all.last)
        #expect(last.node == "sw" && last.step.command(in: "sw").hasPrefix("ip -n sw link set p1"))
        let master = try #require(Self.requests(last.calls).first)
        #expect(master.type == 16 && master.flags == [.ack])
        #expect(master.body == [
            0, 0, 0, 0,        // ifi_family AF_UNSPEC, pad, ifi_type 0
            4, 0, 0, 0,        // ifi_index 4 (sw:p1)
            0, 0, 0, 0,        // ifi_flags
            0, 0, 0, 0,        // ifi_change: up not touched
            8, 0, 10, 0,       // IFLA_MASTER, 8 bytes
            2, 0, 0, 0,        // br0
        ], "\(master.body)")
    }

    @Test func aRouteNamesItsDeviceByTheBoundIndex() throws {
        let all = try Self.mapped(try Self.star.plan().program())
        let route = try #require(all.first { if case .operation(.addRoute, _) = $0.step.action { true } else { false } })
        var info = RouteInfo(family: AF.inet, destination: nil, gateway: IPAddress("10.0.0.254")!, outputIndex: 3)
        info.table = RouteTable.main
        info.scope = .universe
        info.proto = RouteProtocol.static
        info.type = .unicast
        let expected = NetlinkRequest.newRoute(info, what: "")
        let got = try #require(Self.requests(route.calls).first)
        #expect(got.type == expected.type && got.flags == expected.flags && got.body == expected.body)
    }

    @Test func anInterfaceTheProgramHasNotCreatedIsAnError() throws {
        var mapper = RequestMapper()
        mapper.addNamespace("h1", fd: 7)
        let step = ProgramStep(planStep: 0, action: .setLink("eth9", up: true, master: nil, alias: nil))
        #expect(throws: LabError.self) { try mapper.calls(for: step, in: "h1", what: "x") }
    }

    @Test func devicesTheKernelAddsByItselfAreSkipped() throws {
        var mapper = RequestMapper()
        mapper.addNamespace("h1", fd: 7)
        mapper.reserve(below: 9)   // e.g. gre0 … ip6tnl0 at 2…8
        let calls = try mapper.calls(for: ProgramStep(planStep: 0, action: .operation(.addDummy(name: "d0", mtu: nil), up: false)),
                                     in: "h1", what: "x")
        #expect(Self.requests(calls).count == 1 && mapper.indexes["h1"]?["d0"] == 9)
    }
}

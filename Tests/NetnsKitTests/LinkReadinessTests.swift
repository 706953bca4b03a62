import Foundation
import NetnsKit
import NetnsTesting
import Testing

/// Right after a build every link that is up has its real qdisc: no packet is dropped by
/// `noop` while the kernel's linkwatch catches up (veth ends with equal ifindexes made that
/// wait up to a second).
@Test(.netnsPrivileges) func linksAreReadyWhenTheBuildReturns() throws {
    for _ in 0..<10 {
        let lab = try Lab.up(routed)
        defer { lab.down() }
        for node in lab.nodes {
            let up = Set(try node.links().filter { $0.isUp && $0.name != "lo" }.map(\.index))
            let noop = try node.qdiscs().filter { $0.kind == "noop" && up.contains($0.index) }
            #expect(noop.isEmpty, "\(node.name): links still on noop: \(noop.map(\.index))")
        }
    }
}

import Foundation
import NetnsKit
import NetnsTesting
import Testing

/// The rtnetlink event recording (`Lab.recordEvents()`): every change made to the lab appears as
/// the kernel's own event, decoded, timed, and as JSON; a failing test saves them.
@Suite(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
struct EventTests {
    /// Waits until an event matching `match` was recorded (the recorder's thread reads them as
    /// they come), or two seconds pass.
    func waitForEvent(_ lab: Lab, _ match: (LabEvent) -> Bool) -> LabEvent? {
        let deadline = Date().addingTimeInterval(2)
        while Date() < deadline {
            if let e = lab.events.first(where: match) { return e }
            usleep(5_000)
        }
        return lab.events.first(where: match)
    }

    @Test func recordedEventsFollowTheChangesMade() async throws {
        let lab = try await Lab.up(routed)
        defer { lab.down() }
        try lab.recordEvents()
        #expect(lab.events.isEmpty, "nothing changed yet: \(lab.events)")

        // A link set down: a link event carrying the new state.
        try lab["r1"].linkDown("eth1")
        let down = try #require(waitForEvent(lab) { $0.node == "r1" && $0.object == .link && $0.link?.name == "eth1" && $0.link?.up == false },
                                "\(lab.events)")
        #expect(down.kind == .new && down.text.contains("eth1 DOWN"), "\(down)")
        // Its consequence on the other end: h2's eth0 is still up but has lost its carrier.
        #expect(waitForEvent(lab) { $0.node == "h2" && $0.link?.name == "eth0" && $0.link?.up == true && $0.link?.carrier == false } != nil,
                "\(lab.events)")
        try lab["r1"].linkUp("eth1")
        #expect(waitForEvent(lab) { $0.node == "r1" && $0.link?.name == "eth1" && $0.link?.up == true } != nil)

        // Routes, IPv4 and IPv6: added, then deleted.
        try lab["h1"].addRoute(Route("10.77.0.0/24", via: "10.0.1.1"))
        let added = try #require(waitForEvent(lab) { $0.node == "h1" && $0.kind == .new && $0.route?.destination == "10.77.0.0/24" })
        #expect(added.route?.gateway == "10.0.1.1" && added.route?.device == "eth0" && added.route?.proto == "static", "\(added)")
        #expect(added.text == "10.77.0.0/24 via 10.0.1.1 dev eth0 proto static", "\(added.text)")
        try lab["h1"].removeRoute(Route("10.77.0.0/24", via: "10.0.1.1"))
        #expect(waitForEvent(lab) { $0.node == "h1" && $0.kind == .del && $0.route?.destination == "10.77.0.0/24" } != nil)
        try lab["h1"].addRoute(Route("fd00:77::/64", via: "fd00:1::1"))
        let six = try #require(waitForEvent(lab) { $0.kind == .new && $0.route?.destination == "fd00:77::/64" })
        #expect(six.route?.family == "inet6" && six.node == "h1", "\(six)")

        // Addresses (the interface by name), a rule, a neighbour.
        try lab["h2"].addAddress("10.0.2.9/24", on: "eth0")
        let addr = try #require(waitForEvent(lab) { $0.object == .address && $0.address?.prefix == "10.0.2.9/24" })
        #expect(addr.node == "h2" && addr.address?.interface == "eth0" && addr.kind == .new, "\(addr)")
        try lab["h2"].addAddress("fd00:2::9/64", on: "eth0")
        #expect(waitForEvent(lab) { $0.address?.prefix == "fd00:2::9/64" && $0.address?.family == "inet6" } != nil)
        try lab["r1"].addRule(Rule(priority: 1234, from: "10.0.1.0/24", table: 100))
        let rule = try #require(waitForEvent(lab) { $0.object == .rule && $0.rule?.priority == 1234 })
        #expect(rule.node == "r1" && rule.rule?.table == 100 && rule.text.contains("from 10.0.1.0/24 lookup 100"), "\(rule)")
        try lab["h1"].addNeighbor(Neighbor("10.0.1.77", mac: "02:00:00:00:00:77", on: "eth0"))
        let neigh = try #require(waitForEvent(lab) { $0.object == .neighbor && $0.neighbor?.address == "10.0.1.77" })
        #expect(neigh.neighbor?.state == "PERMANENT" && neigh.neighbor?.mac == "02:00:00:00:00:77", "\(neigh)")

        // Times grow, are relative to the lab's start, and share the change log's time base.
        let times = lab.events.map(\.at)
        #expect(times == times.sorted() && times.first! > 0)
        let change = try #require(lab.changes.first { $0.command == "ip link set eth1 down" })
        #expect(down.at >= change.at && down.at - change.at < 1, "event at \(down.at), change sent at \(change.at)")
        // The timeline interleaves changes and events.
        let timeline = lab.timeline()
        let changeLine = try #require(timeline.range(of: "r1: ip link set eth1 down"))
        let eventLine = try #require(timeline.range(of: "r1: new link"))
        #expect(changeLine.lowerBound < eventLine.lowerBound, "\(timeline)")

        // JSON: one object per line that decodes to the same event.
        for e in lab.events {
            #expect(!e.jsonLine.contains("\n"))
            #expect(try JSONDecoder().decode(LabEvent.self, from: Data(e.jsonLine.utf8)) == e)
        }
    }

    @Test func stoppingClosesTheSocketsSoTheLabIsReleased() async throws {
        let lab = try await Lab.up(routed)
        let recorder = try lab.recordEvents()
        #expect(try lab.recordEvents() === recorder, "a second call returns the running recorder")
        try lab["h1"].setMTU("eth0", 1400)
        #expect(waitForEvent(lab) { $0.link?.mtu == 1400 } != nil)
        // The teardown stops the recorder first: its sockets would hold the namespaces.
        let report = lab.down(waitUntilGone: 5)
        #expect(report.ok, "\(report)")
        let after = recorder.events.count
        #expect(recorder.stop().count == after, "stopped: nothing more is recorded")
        #expect(recorder.failure == nil)
    }

    @Test func aLabNotRecordingHasNoEventsAndNoSockets() async throws {
        let lab = try await Lab.up(routed)
        defer { lab.down() }
        try lab["r1"].linkDown("eth1")
        usleep(50_000)
        #expect(lab.events.isEmpty)
        #expect(lab.stopRecordingEvents().isEmpty)
    }
}

/// With `recordEvents`, a failing test leaves `events.jsonl` and `timeline.txt` in its failure
/// directory, and says where.
@Test(.netnsPrivileges) func recordEventsSavesEventsOfAFailedTest() async throws {
    let dir = NSTemporaryDirectory() + "netnskit-events-\(UInt32.random(in: 0..<UInt32.max))"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try await FailureCaptures.$directoryOverride.withValue(dir) {
        let trait = LabTrait.lab(routed, recordEvents: true)
        let test = try #require(Test.current)
        // The trait sees the failure (its handler is inside); this outer one keeps it from failing this test.
        try await IssueHandlingTrait.filterIssues { _ in false }.provideScope(for: test, testCase: nil) {
            try await trait.provideScope(for: test, testCase: nil) {
                let lab = try #require(Lab.current)
                try lab["r1"].linkDown("eth1")
                try lab["h1"].addRoute(Route("10.88.0.0/24", via: "10.0.1.1"))
                await lab["h1"].expectReachable("10.0.2.2")        // fails: r1's eth1 is down
            }
        }
    }
    let saved = try FileManager.default.contentsOfDirectory(atPath: dir)
    let run = try #require(saved.first)
    let files = Set(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/\(run)"))
    #expect(files.isSuperset(of: ["events.jsonl", "timeline.txt", "state.txt"]), "\(files)")
    let lines = try String(contentsOfFile: "\(dir)/\(run)/events.jsonl", encoding: .utf8).split(separator: "\n")
    let events = try lines.map { try JSONDecoder().decode(LabEvent.self, from: Data($0.utf8)) }
    #expect(events.contains { $0.node == "r1" && $0.link?.name == "eth1" && $0.link?.up == false }, "\(lines)")
    #expect(events.contains { $0.node == "h1" && $0.kind == .new && $0.route?.destination == "10.88.0.0/24" }, "\(lines)")
    let timeline = try String(contentsOfFile: "\(dir)/\(run)/timeline.txt", encoding: .utf8)
    #expect(timeline.contains("r1: ip link set eth1 down") && timeline.contains("r1: new link"), "\(timeline)")
}

/// A passing test with `recordEvents` saves nothing.
@Test(.netnsPrivileges) func recordEventsSavesNothingForAPassingTest() async throws {
    let dir = NSTemporaryDirectory() + "netnskit-events-\(UInt32.random(in: 0..<UInt32.max))"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try await FailureCaptures.$directoryOverride.withValue(dir) {
        let trait = LabTrait.lab(routed, recordEvents: true)
        let test = try #require(Test.current)
        try await trait.provideScope(for: test, testCase: nil) {
            let lab = try #require(Lab.current)
            try lab["r1"].setMTU("eth1", 1400)
            #expect(lab.events.count >= 0)
        }
    }
    #expect(!FileManager.default.fileExists(atPath: dir))
}

/// The decoder alone, on messages the codec encodes (no kernel): names from its table, kinds
/// from the message type, and a message that is no event left out.
@Test func theDecoderNamesDevicesAndKinds() throws {
    var d = LabEventDecoder(node: "r1", names: [2: "eth0"])
    var info = RouteInfo(family: AF.inet, destination: IPPrefix("10.9.0.0/24")!, gateway: IPAddress("10.0.1.2")!, outputIndex: 2)
    info.proto = RouteProtocol.static
    let add = try #require(NetlinkMessage.parse(NetlinkRequest.newRoute(info).encoded(sequence: 1)).first)
    let decoded = d.decode(add, at: 1.5)
    let e = try #require(decoded)
    #expect(e.kind == .new && e.object == .route && e.node == "r1" && e.at == 1.5)
    #expect(e.text == "10.9.0.0/24 via 10.0.1.2 dev eth0 proto static", "\(e.text)")
    #expect(e.description == "+1.5 s r1: new route 10.9.0.0/24 via 10.0.1.2 dev eth0 proto static")
    let del = try #require(NetlinkMessage.parse(NetlinkRequest.deleteRoute(info).encoded(sequence: 2)).first)
    let deleted = d.decode(del, at: 2)
    #expect(deleted?.kind == .del)
    // An index the decoder does not know is named by its number (`#7`), as the state dump does.
    info.outputIndex = 7
    let other = try #require(NetlinkMessage.parse(NetlinkRequest.newRoute(info).encoded(sequence: 3)).first)
    let unknown = d.decode(other, at: 3)
    #expect(unknown?.route?.device == "#7")
    // A dump request is no event.
    let dump = try #require(NetlinkMessage.parse(NetlinkRequest.dumpRules(family: AF.inet).encoded(sequence: 4)).first)
    let none = d.decode(dump, at: 4)
    #expect(none == nil)
}

import Foundation
import Testing

/// `nslab plan`: the program as text, as a script (`--script --name`) and as data (`--json`).
@Suite struct PlanCLITests {
    @Test func theScriptNamesEveryNamespaceAfterTheLab() throws {
        let r = try nslab("plan", "bridge", "--script", "--name", "demo")
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.hasPrefix("#!/bin/sh\n") && r.stdout.contains("\nset -eu\n"), "\(r)")
        for node in ["sw", "h1", "h2", "h3", "h4"] {
            #expect(r.stdout.contains("\nip netns add demo-\(node)\n"), "\(node): \(r.stdout)")
        }
        // Every command runs in a lab namespace: no `ip` without `-n`, no bare node name.
        let commands = r.stdout.split(separator: "\n").filter { $0.hasPrefix("ip ") || $0.hasPrefix("tc ") || $0.hasPrefix("bridge ") }
        #expect(!commands.isEmpty)
        for c in commands {
            #expect(c.contains(" demo-") , "\(c)")
        }
        // The veth peers join br0 in the last phase.
        #expect(r.stdout.contains("# phase 3: bridge ports\nip -n demo-sw link set p1 master br0\n"), "\(r.stdout)")
    }

    @Test func theProgramIsData() throws {
        let r = try nslab("plan", "bridge", "--json")
        #expect(r.status == 0, "\(r)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let phases = try #require(json["phases"] as? [[String: Any]])
        #expect(phases.map { $0["name"] as? String } == ["links", "masters, ups, addresses, routes", "bridge ports"])
        let first = try #require((phases[0]["batches"] as? [[String: Any]])?.first)
        let step = try #require((first["steps"] as? [[String: Any]])?.first)
        #expect(step["operation"] as? String == "addBridge" && step["up"] as? Bool == true, "\(step)")
        #expect((step["interfaces"] as? [[String: String]])?.first == ["node": "sw", "name": "br0"], "\(step)")
        #expect((json["namespaces"] as? [[String: Any]])?.count == 5)
    }

    @Test func badOptionsAreRefused() throws {
        let noScript = try nslab("plan", "bridge", "--name", "demo")
        #expect(noScript.status == 64 && noScript.stderr.contains("--name names the lab of --script"), "\(noScript)")
        let both = try nslab("plan", "bridge", "--script", "--json")
        #expect(both.status == 64 && both.stderr.contains("choose one"), "\(both)")
        let badName = try nslab("plan", "bridge", "--script", "--name", "Demo_1")
        #expect(badName.status != 0 && badName.stderr.contains("invalid lab name \"Demo_1\""), "\(badName)")
        #expect(badName.stdout.isEmpty)
    }
}

import Foundation
import NetnsModel
import Testing

/// Inputs that used to be accepted and build something other than what they say.
@Suite struct RefusedInputTests {
    /// The validation messages (or the file error) of loading `yaml`.
    private func problems(yaml: String) -> String {
        do {
            _ = try Topology.load(yaml: yaml)
            return ""
        } catch {
            return "\(error)"
        }
    }

    private func problems(json: String) -> String {
        do {
            _ = try Topology.load(json: json)
            return ""
        } catch {
            return "\(error)"
        }
    }

    /// Two hosts on one link; `h1` gets `extra` appended to its mapping.
    private func pair(_ extra: String) -> String {
        "name: t\nnodes:\n- {name: h1\(extra)}\n- {name: h2, addresses: [10.0.0.2/24]}\nlinks:\n- {a: h1, b: h2}\n"
    }

    @Test func duplicateKeysInJSON() {
        let top = problems(json: #"{"name": "x", "nodes": [], "name": "y"}"#)
        #expect(top.contains(#"duplicate key "name""#) && top.contains("line 1"), "\(top)")
        let nested = problems(json: """
            {"name": "x",
             "nodes": [{"name": "h1", "kind": "host", "kind": "router"}]}
            """)
        #expect(nested.contains(#"duplicate key "kind""#) && nested.contains("line 2"), "\(nested)")
        // The same key in two objects, and escaped keys that differ, are fine.
        #expect(problems(json: #"{"name": "x", "nodes": [{"name": "h1"}, {"name": "h2", "kind": "host"}]}"#) == "")
        #expect(problems(json: #"{"name": "x\"y", "nodes": []}"#).isEmpty || !problems(json: #"{"name": "x\"y", "nodes": []}"#).contains("duplicate"))
    }

    @Test(arguments: [("0.0.0.0/0", "unspecified"), ("0.0.0.0/8", "unspecified"), ("::/0", "unspecified"),
                      ("224.0.0.1/24", "multicast"), ("ff02::1/64", "multicast"),
                      ("255.255.255.255/32", "broadcast"), ("10.0.0.255/24", "broadcast address of 10.0.0.0/24")])
    func addressesAnInterfaceCannotHave(_ address: String, _ why: String) {
        let p = problems(yaml: pair(", addresses: ['\(address)']"))
        #expect(p.contains(address) && p.contains(why), "\(address): \(p)")
    }

    @Test func addressesThatAreFine() {
        // /31 and /32 have no broadcast address; a network address is unusual but valid.
        for a in ["10.0.0.1/31", "10.0.0.255/32", "10.0.0.255/23", "10.0.1.0/24", "2001:db8::ff/64"] {
            #expect(problems(yaml: pair(", addresses: [\(a)]")) == "", "\(a)")
        }
    }

    @Test func sysctlValuesWithControlCharacters() {
        let p = problems(yaml: pair(", sysctls: {net.ipv4.ip_forward: \"1\\nnet.ipv4.conf.all.rp_filter=0\"}"))
        #expect(p.contains("net.ipv4.ip_forward") && p.contains("control character"), "\(p)")
        let key = problems(yaml: pair(", sysctls: {\"net.ipv4.ip_forward\\t\": \"1\"}"))
        #expect(key.contains("control character"), "\(key)")
    }

    @Test(arguments: ["null", "~", "yes", "no", "true", "False", "on", "OFF", "Null"])
    func nodeNamesThatYAMLReadsAsSomethingElse(_ name: String) {
        let p = problems(yaml: "name: t\nnodes:\n- name: \(name)\n")
        #expect(p.contains("YAML"), "\(name): \(p)")
    }

    @Test func gatewayThatIsTheNodesOwnAddress() {
        let p = problems(yaml: pair(", addresses: [10.0.0.1/24], routes: [{to: default, via: 10.0.0.1}]"))
        #expect(p.contains("gateway 10.0.0.1 is h1's own address"), "\(p)")
    }
}

/// Error messages that say where and what, and never print more than a reader can use.
@Suite struct ErrorMessageTests {
    private func problems(json: String) -> String {
        do { _ = try Topology.load(json: json); return "" } catch { return "\(error)" }
    }
    private func problems(yaml: String) -> String {
        do { _ = try Topology.load(yaml: yaml); return "" } catch { return "\(error)" }
    }

    @Test func numbersOfTheWrongKindNameTheirKeyAndRange() {
        let pair = #"{"name": "x", "nodes": [{"name": "a"}, {"name": "b"}], "links": [{"a": "a", "b": "b", "mtu": MTU}]}"#
        let float = problems(json: pair.replacingOccurrences(of: "MTU", with: "1500.5"))
        #expect(float.hasPrefix("line 1: links[0].mtu: expected a whole number"), "\(float)")
        let huge = problems(json: pair.replacingOccurrences(of: "MTU", with: "99999999999999999999"))
        #expect(huge.hasPrefix("line 1: links[0].mtu: expected a whole number"), "\(huge)")
        let table = problems(yaml: "name: x\nnodes:\n- {name: a, routes: [{to: default, type: blackhole, table: 5000000000}]}\n")
        #expect(table.contains("nodes[0].routes[0].table: expected a whole number from 0 to 4294967295"), "\(table)")
    }

    @Test func jsonSyntaxErrorsHaveLineAndColumn() {
        let p = problems(json: "{\"name\": \"x\",\n \"nodes\": [\n  {\"name\": nope}\n]}")
        #expect(p.hasPrefix("line 3, column 12: not valid JSON"), "\(p)")
    }

    @Test func longListsAndValuesAreCut() {
        var y = "name: big\nnodes:\n"
        for i in 0..<10_000 { y += "- name: n\(i)\n" }
        y += "links:\n- {a: n0, b: nosuch}\n"
        let unknown = problems(yaml: y)
        #expect(unknown.contains(#"unknown node "nosuch""#) && unknown.contains("and 9990 more"), "\(unknown.prefix(300))")
        #expect(unknown.count < 2_000, "\(unknown.count) characters")

        let value = String(repeating: "x", count: 1_000_000)
        let long = problems(yaml: "name: t\nnodes:\n- {name: h1, addresses: [\(value)]}\n")
        #expect(long.contains("xxxx") && long.contains("more characters"), "\(long.prefix(300))")
        #expect(long.count < 2_000, "\(long.count) characters")
    }
}

@Suite struct KernelLimitTests {
    /// The kernel gives a bridge at most 1023 ports (port numbers 1…1023, `BR_MAX_PORTS`); the
    /// 1024th fails with EXFULL at the very end of a long build. Refused before building.
    @Test func bridgeWithMoreThan1023Ports() throws {
        func star(_ n: Int) -> Topology {
            Topology("star") {
                Switch("sw")
                for i in 0..<n { Host("h\(i)"); Link("h\(i)", "sw") }
            }
        }
        #expect(star(1023).validate() == [])
        let issues = star(1024).validate()
        #expect(issues.count == 1 && issues.first?.message == "bridge br0 of sw would have 1024 ports; the kernel allows at most 1023",
                "\(issues)")
    }
}

import ArgumentParser
import Foundation
import NetnsKit
import Scenarios

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the build plan of a scenario or file: one `ip`-like command per step.",
        discussion: "Validates the topology first and touches nothing in the kernel.")

    @Argument(help: "A scenario name or a .yaml/.yml/.json topology file.")
    var target: String

    func run() throws {
        let t = try resolveTarget(target)
        print(try t.topology.plan().description)
    }
}

struct Graph: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case dot, mermaid }

    static let configuration = CommandConfiguration(abstract: "Print a scenario or file as a Graphviz DOT or Mermaid graph.")

    @Argument(help: "A scenario name or a .yaml/.yml/.json topology file.")
    var target: String

    @Option(help: "dot or mermaid.")
    var format: Format = .dot

    func run() throws {
        let t = try resolveTarget(target)
        _ = try t.topology.validated()
        print(format == .dot ? t.topology.dot() : t.topology.mermaid(), terminator: "")
    }
}

struct Scenarios: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the built-in scenarios.")

    @Flag(help: "Print JSON (with descriptions, nodes, expectations and required features).")
    var json = false

    @Flag(name: .shortAndLong, help: "Also print each description.")
    var verbose = false

    struct Entry: Encodable {
        var name: String
        var summary: String
        var description: String
        var nodes: [String]
        var expectations: [String]
        var verifications: [String]
        var setup: [String]
        var processes: [String]
        var requires: [String]
    }

    func run() throws {
        if !Catalogue.problems.isEmpty {
            throw NslabError("the built-in catalogue is broken: " + Catalogue.problems.joined(separator: "; "))
        }
        if json {
            print(try jsonText(Catalogue.all.map {
                Entry(name: $0.name, summary: $0.summary, description: $0.description,
                      nodes: $0.topology.nodes.map(\.name), expectations: $0.expectations.map(\.description),
                      verifications: $0.verifications.map(\.description), setup: $0.setup.map(\.description),
                      processes: $0.processes.map(\.description), requires: $0.requires)
            }))
            return
        }
        var t = TextTable("SCENARIO", "SUMMARY")
        for s in Catalogue.all { t.add([s.name, s.summary]) }
        print(t.text, terminator: "")
        if verbose {
            for s in Catalogue.all {
                print("\n\(s.name)\n  \(s.description)")
                for e in s.expectations { print("  • \(e)") }
                for v in s.verifications { print("  • \(v)") }
                for p in s.processes { print("  ▸ \(p)") }
            }
        }
    }
}

struct Export: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case yaml, json }

    static let configuration = CommandConfiguration(
        abstract: "Print a scenario as a file (YAML or JSON, the format `up`, `plan` and `test` read).",
        discussion: """
            A built-in scenario prints its file from the catalogue as written (comments and repeat \
            blocks included); a file is printed in the normal form, repeat blocks expanded. Either way \
            the whole scenario: topology, setup, processes, expectations and verifications; \
            `nslab test` of the output runs the same checks.
            """)

    @Argument(help: "A scenario name (or a topology file, to convert it).")
    var target: String

    @Option(help: "yaml or json.")
    var format: Format = .yaml

    func run() throws {
        let t = try resolveTarget(target)
        let scenario = t.scenario ?? Scenario(name: t.topology.name, topology: t.topology)
        let asWritten = looksLikeFile(target) ? nil : scenario.source.text
        let text = format == .yaml ? (asWritten ?? scenario.yaml()) : scenario.json()
        print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
    }
}

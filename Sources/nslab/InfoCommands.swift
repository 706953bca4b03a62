import ArgumentParser
import Foundation
import NetnsKit
import Scenarios

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print what building a scenario or file sends: its phases and per-namespace batches, one `ip`/`tc`/`nft` command per step.",
        discussion: """
            Validates the topology first and touches nothing in the kernel. The steps are the \
            builder's: a `link set up` folded into the link's creation, a veth peer's master and the \
            aliases set after the links exist, the no-DAD sysctls of every namespace. \
            --script prints a POSIX shell script that builds the same lab with ip, bridge, tc, sysctl \
            and nft, every namespace named <NAME>-<node> (e.g. nslab plan router --script --name demo \
            | sudo sh; remove it with ip netns del); it stops at the first failure and deletes the \
            namespaces it created. --json prints the program as data.
            """)

    @Argument(help: "A scenario name or a .yaml/.yml/.json topology file.")
    var target: String

    @Flag(help: "Print a shell script that builds the lab (namespaces <NAME>-<node>).")
    var script = false

    @Option(name: .long, help: "The lab name of --script: a-z, 0-9 and '-', at most 24 characters (default: the scenario or topology name).")
    var name: String?

    @Flag(help: "Print the program as JSON.")
    var json = false

    func validate() throws {
        if script && json { throw ArgumentParser.ValidationError("--script and --json print different things; choose one") }
        if name != nil && !script { throw ArgumentParser.ValidationError("--name names the lab of --script; add --script") }
    }

    func run() throws {
        let t = try resolveTarget(target)
        let program = try t.topology.plan().program()
        if script {
            let lab = name ?? t.name
            try validateLabName(lab)
            print(program.script(lab: lab), terminator: "")
        } else if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(program), as: UTF8.self))
        } else {
            print(program.description)
        }
    }
}

struct Graph: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case dot, mermaid }

    static let configuration = CommandConfiguration(
        abstract: "Print a scenario or file as a Graphviz DOT or Mermaid graph, or render it to SVG or PNG.",
        discussion: """
            Each node is a box listing its interfaces and their addresses; links join interfaces, \
            tunnels are dashed. --output FILE.svg or FILE.png renders the DOT graph with Graphviz's \
            `dot` (apt install graphviz), e.g. nslab graph bridge --output bridge.svg.
            """)

    @Argument(help: "A scenario name or a .yaml/.yml/.json topology file.")
    var target: String

    @Option(help: "dot or mermaid.")
    var format: Format = .dot

    @Option(name: .shortAndLong, help: ArgumentHelp("Render to this .svg or .png file with Graphviz instead of printing.", valueName: "file"))
    var output: String?

    func validate() throws {
        if let output {
            let ext = (output as NSString).pathExtension.lowercased()
            guard ext == "svg" || ext == "png" else {
                throw ArgumentParser.ValidationError("--output renders SVG or PNG: give a file name ending in .svg or .png, not \"\(output)\"")
            }
            if format == .mermaid { throw ArgumentParser.ValidationError("--output renders the DOT graph; leave out --format mermaid") }
        }
    }

    func run() throws {
        let t = try resolveTarget(target)
        _ = try t.topology.validated()
        guard let output else {
            print(format == .dot ? t.topology.dot() : t.topology.mermaid(), terminator: "")
            return
        }
        try render(t.topology.dot(), to: output)
        print("wrote \(output)")
    }

    /// Runs `dot -T<svg|png> -o FILE` on the graph.
    private func render(_ dot: String, to output: String) throws {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/dot" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            throw NslabError("--output needs Graphviz's `dot`, which is not installed (not on PATH)",
                             hint: "install it (apt install graphviz), or print DOT and render it elsewhere: nslab graph \(target) > graph.dot")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = ["-T" + (output as NSString).pathExtension.lowercased(), "-o", output]
        let input = Pipe(), errors = Pipe()
        p.standardInput = input
        p.standardError = errors
        try p.run()
        input.fileHandleForWriting.write(Data(dot.utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw NslabError("dot could not render \(output) (exit \(p.terminationStatus)): \(text.trimmedText)")
        }
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

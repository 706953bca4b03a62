import Foundation
import Namespaces
import NetnsModel

/// A topology with the behaviour it is expected to show: a whole test.
///
/// A scenario is written in Swift or as a file (YAML or JSON, see FileFormat.md): the two are
/// spellings of one value, so ``load(yaml:file:)`` of ``yaml()`` gives back an equal scenario.
/// `nslab test` (and ``test(features:)``) builds it in fixture mode, runs ``setup``, starts
/// ``processes``, checks ``expectations`` in order, then ``verifications``, then runs the fault
/// timeline ``steps``, and tears it down;
/// `nslab up` builds it as a pinned lab and runs ``setup``.
public struct Scenario: Sendable, Hashable {
    /// A short unique name in `[a-z0-9-]`, usable as a lab name.
    public var name: String
    /// One line for listings.
    public var summary: String
    /// What the scenario shows and how, in a few sentences.
    public var description: String
    /// The lab the scenario builds.
    public var topology: Topology
    /// What the kernel must do once the lab is built, set up and its processes started; checked in order.
    public var expectations: [LabExpectation]
    /// Commands run inside nodes after the build, in order (e.g. loading an nftables ruleset).
    public var setup: [SetupCommand]
    /// Checks that run a command in a node and look at its output, for state no ``LabExpectation`` covers.
    public var verifications: [Verification]
    /// Listeners and commands that run from after the setup until teardown.
    public var processes: [ScenarioProcess]
    /// A fault timeline run after the expectations and verifications: changes and checks in
    /// order, each at its time, every check retried until it holds within its bound (see ``Lab/run(_:)``).
    public var steps: [TimelineStep]
    /// Kernel features the scenario needs beyond veth (link kinds like `vxlan`, qdiscs like `tbf`, `nftables`).
    public var requires: [String]
    /// Whether the scenario measures time or throughput, so `nslab test` runs it alone, never
    /// next to other scenarios (the file key `serial: true`).
    public var serial: Bool
    /// Where the scenario was written (its file and each entry's line); ignored by `==`.
    public var source: ScenarioSource

    /// A scenario with these parts; only a name and a topology are required.
    public init(name: String, summary: String = "", description: String = "", topology: Topology,
                expectations: [LabExpectation] = [], setup: [SetupCommand] = [], verifications: [Verification] = [],
                processes: [ScenarioProcess] = [], steps: [TimelineStep] = [], requires: [String] = [], serial: Bool = false,
                source: ScenarioSource = ScenarioSource()) {
        self.name = name
        self.summary = summary
        self.description = description
        self.topology = topology
        self.expectations = expectations
        self.setup = setup
        self.verifications = verifications
        self.processes = processes
        self.steps = steps
        self.requires = requires
        self.serial = serial
        self.source = source
    }

    /// How many checks a run makes: expectations, verifications and the checks among the ``steps``.
    public var checkCount: Int { expectations.count + verifications.count + steps.filter(\.isCheck).count }
}

/// Where a scenario was written: the file, its text, and the line of each entry; ignored by `==` and hashing.
public struct ScenarioSource: Sendable, Hashable {
    /// The file's name as messages show it (`router.yaml`), nil for a scenario written in Swift.
    public var file: String?
    /// The path it was loaded from, when it was loaded from one (``Scenario/load(path:maxBytes:)``).
    public var path: String?
    /// The file's text as written (comments and `repeat` blocks included), what `nslab export` prints.
    public var text: String?
    /// The place of each expectation, setup command, verification and process, by index.
    public var expectations: [DeclarationLocation?] = []
    /// The place of each setup command, by index.
    public var setup: [DeclarationLocation?] = []
    /// The place of each verification, by index.
    public var verifications: [DeclarationLocation?] = []
    /// The place of each process, by index.
    public var processes: [DeclarationLocation?] = []
    /// The place of each timeline step, by index.
    public var steps: [DeclarationLocation?] = []

    /// A source with a file name and text and, until they are recorded, no places.
    public init(file: String? = nil, text: String? = nil) {
        self.file = file
        self.text = text
    }

    /// `router.yaml:31`, the file and line of expectation `i`, when it came from a file.
    public func place(ofExpectation i: Int) -> String? { Self.place(expectations, i) }
    /// The declaration of expectation `i` (file name, line, column), when it came from a file.
    public func location(ofExpectation i: Int) -> DeclarationLocation? {
        expectations.indices.contains(i) ? expectations[i] : nil
    }
    /// Where verification `i` was declared, nil when unknown or out of range.
    public func location(ofVerification i: Int) -> DeclarationLocation? {
        verifications.indices.contains(i) ? verifications[i] : nil
    }
    /// Where verification `i` was declared, as `file:line`; nil when unknown.
    public func place(ofVerification i: Int) -> String? { Self.place(verifications, i) }
    /// Where setup command `i` was declared, as `file:line`; nil when unknown.
    public func place(ofSetup i: Int) -> String? { Self.place(setup, i) }
    /// Where process `i` was declared, as `file:line`; nil when unknown.
    public func place(ofProcess i: Int) -> String? { Self.place(processes, i) }
    /// Where timeline step `i` was declared, as `file:line`; nil when unknown.
    public func place(ofStep i: Int) -> String? { Self.place(steps, i) }
    /// Where timeline step `i` was declared, nil when unknown or out of range.
    public func location(ofStep i: Int) -> DeclarationLocation? {
        steps.indices.contains(i) ? steps[i] : nil
    }

    private static func place(_ list: [DeclarationLocation?], _ i: Int) -> String? {
        guard list.indices.contains(i), let l = list[i] else { return nil }
        return "\(l.fileID):\(l.line)"
    }

    /// Always true: where a scenario was written does not change what it is.
    public static func == (_: ScenarioSource, _: ScenarioSource) -> Bool { true }
    /// Hashes nothing, as `==` compares nothing.
    public func hash(into hasher: inout Hasher) {}
}

/// Something that runs in a node from after the setup until teardown.
public struct ScenarioProcess: Sendable, Hashable, CustomStringConvertible {
    /// What runs: a built-in listener or a command.
    public enum Kind: Sendable, Hashable {
        /// A built-in TCP or UDP listener on each port: it accepts, sends `reply` (or echoes what it
        /// gets when there is none) and records the peer address of every connection or datagram.
        case listener(TransportProtocol, address: String?, ports: [UInt16], reply: String?)
        /// A command, the escape hatch: started with `argv`; when `ready` is given, the scenario waits
        /// (up to ``ScenarioProcess/readyTimeout``) for that text in its output before checking.
        case command([String], ready: String?)
    }

    /// How long a command may take to print its `ready` text.
    public static let readyTimeout: Double = 10
    /// The most a listener may run.
    public static let maxLifetime: Double = 3600

    /// The node it runs in.
    public var node: String
    /// What runs.
    public var kind: Kind
    /// Seconds after which a listener stops on its own, even without teardown.
    public var lifetime: Double
    /// For a command: a configuration file written from a template into the node's private
    /// `/tmp` or `/run` before the command starts (the node needs `isolation: .full`).
    public var config: ProcessConfig?
    /// For a command: how to install its program (`apt-get install bird2`). When the program is
    /// missing, the scenario is skipped with this as the reason, instead of failing.
    public var install: String?

    /// A process of `kind` in `node`; a listener stops on its own after `lifetime` seconds.
    public init(in node: String, _ kind: Kind, lifetime: Double = 600, config: ProcessConfig? = nil, install: String? = nil) {
        self.node = node
        self.kind = kind
        self.lifetime = lifetime
        self.config = config
        self.install = install
    }

    /// A TCP or UDP listener on `ports` in `node`.
    public static func listener(in node: String, _ proto: TransportProtocol = .tcp, address: String? = nil,
                                ports: [UInt16], reply: String? = nil) -> ScenarioProcess {
        ScenarioProcess(in: node, .listener(proto, address: address, ports: ports, reply: reply))
    }

    /// A command in `node`, optionally waited for until its output contains `ready`, with a
    /// configuration file written before it starts and the way to install its program.
    public static func command(in node: String, _ argv: [String], ready: String? = nil, config: ProcessConfig? = nil,
                               install: String? = nil) -> ScenarioProcess {
        ScenarioProcess(in: node, .command(argv, ready: ready), config: config, install: install)
    }

    /// Whether this is a command (the escape hatch) rather than a built-in listener.
    public var isCommand: Bool { if case .command = kind { true } else { false } }

    /// The process as the scenario file states it (`in h2: tcp listener on 80`, or the command).
    public var description: String {
        switch kind {
        case let .listener(proto, address, ports, reply):
            let portText = ports.map(String.init).joined(separator: ",")
            return "\(proto) listener on \(address ?? "*"):\(portText) in \(node)" + (reply.map { " replying \($0.debugDescription)" } ?? "")
        case let .command(argv, ready):
            return "command in \(node): \(argv.joined(separator: " "))" + (ready.map { " (ready on \($0.debugDescription))" } ?? "")
                + (config.map { ", config \($0.path)" } ?? "")
        }
    }
}

/// A configuration file a command's daemon reads, generated from the node it runs in.
///
/// The template's placeholders: `{node}` (the node's name), `{routerId}` (the node's first IPv4
/// address, in interface order: a router id), and `{interface}`: a line that holds it is written
/// once per interface of the node (`lo` left out, in interface order), with `{interface}` replaced
/// by the interface's name. Any other brace is text (a BIRD block is `{ … }`).
public struct ProcessConfig: Sendable, Hashable {
    /// The placeholders a template may use.
    public static let placeholders = ["node", "routerId", "interface"]

    /// Where the file is written in the node: under `/tmp/` or `/run/`, which are the node's own
    /// with `isolation: .full`.
    public var path: String
    /// The text, with placeholders.
    public var template: String

    /// A file at `path` made from `template`.
    public init(path: String, template: String) {
        self.path = path
        self.template = template
    }

    /// Why `path` cannot be written in an isolated node (nil when it can).
    public static func problem(withPath path: String) -> String? {
        guard path.hasPrefix("/tmp/") || path.hasPrefix("/run/") else {
            return "a config file goes in the node's private /tmp or /run (e.g. /tmp/bird.conf), not \"\(path)\""
        }
        let parts = path.split(separator: "/")
        if parts.contains("..") || parts.contains(".") || path.hasSuffix("/") {
            return "\"\(path)\" is not a plain file path (no . or .. parts, no trailing /)"
        }
        return nil
    }

    /// The `{word}` placeholders of the template that are not known, in order.
    public var unknownPlaceholders: [String] {
        var out: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            rest = rest[rest.index(after: open)...]
            let word = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            if !word.isEmpty, rest.dropFirst(word.count).first == "}", !Self.placeholders.contains(String(word)),
               !out.contains(String(word)) {
                out.append(String(word))
            }
        }
        return out
    }

    /// The file for one node: its name, router id and interfaces put in.
    /// - Parameters:
    ///   - node: the node's name, for `{node}`.
    ///   - routerId: the node's first IPv4 address; nil when it has none (then `{routerId}` is an error).
    ///   - interfaces: the node's interfaces; a template line with `{interface}` is repeated once for each.
    /// - Throws: ``InvalidChangeError`` when the template uses `{routerId}` and there is none.
    public func render(node: String, routerId: String?, interfaces: [String]) throws -> String {
        if template.contains("{routerId}") && routerId == nil {
            throw InvalidChangeError(reason: "{routerId}: node \(node) has no IPv4 address to use as its router id")
        }
        func fill(_ line: String) -> String {
            line.replacingOccurrences(of: "{node}", with: node).replacingOccurrences(of: "{routerId}", with: routerId ?? "")
        }
        return template.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let l = String(line)
            guard l.contains("{interface}") else { return fill(l) }
            return interfaces.map { fill(l.replacingOccurrences(of: "{interface}", with: $0)) }.joined(separator: "\n")
        }.joined(separator: "\n")
    }
}

/// A command run inside a node after the lab is built.
public struct SetupCommand: Sendable, Hashable, CustomStringConvertible {
    /// The node the command runs in.
    public var node: String
    /// The program and its arguments (no shell: use `sh -c` for one).
    public var argv: [String]
    /// Text written to the command's standard input.
    public var stdin: String?

    /// A command `argv` to run in `node`, with `stdin` as its input when given.
    public init(in node: String, _ argv: [String], stdin: String? = nil) {
        self.node = node
        self.argv = argv
        self.stdin = stdin
    }

    /// `in NODE: ARGV`, with the size of the input when there is one.
    public var description: String {
        "in \(node): \(argv.joined(separator: " "))" + (stdin == nil ? "" : " < (\(stdin!.utf8.count) bytes)")
    }
}

/// A command whose output must contain some text, e.g. `tc qdisc show dev eth0` showing `qdisc tbf`.
public struct Verification: Sendable, Hashable, CustomStringConvertible {
    /// The node the command runs in.
    public var node: String
    /// The program and its arguments.
    public var argv: [String]
    /// Every one of these must appear in the command's standard output, and the command must exit 0.
    public var outputContains: [String]

    /// A check that `argv`, run in `node`, exits 0 and prints every string of `outputContains`.
    public init(in node: String, _ argv: [String], outputContains: [String]) {
        self.node = node
        self.argv = argv
        self.outputContains = outputContains
    }

    /// The command and the texts it must show.
    public var description: String {
        "in \(node), `\(argv.joined(separator: " "))` shows " + outputContains.map { "\"\($0)\"" }.joined(separator: ", ")
    }

    /// Runs the command in the lab and reports whether its output held every expected piece.
    public func check(in lab: Lab) async -> VerificationResult {
        let start = monotonicNow()
        do {
            let r = try await lab.node(node).run(argv, timeout: 10)
            let missing = outputContains.filter { !r.output.contains($0) }
            let ok = r.status == 0 && missing.isEmpty
            let observed = r.status != 0
                ? "exit \(r.status): \(r.errorOutput.trimmed)"
                : (missing.isEmpty ? "found" : "missing \(missing.joined(separator: ", ")) in: \(r.output.trimmed)")
            return VerificationResult(verification: self, passed: ok, observed: observed, seconds: monotonicNow() - start)
        } catch {
            return VerificationResult(verification: self, passed: false, observed: "error: \(error)",
                                      seconds: monotonicNow() - start)
        }
    }
}

/// The outcome of a ``Verification``.
public struct VerificationResult: Sendable, CustomStringConvertible {
    /// The verification that ran.
    public var verification: Verification
    /// Whether the command exited 0 and showed every text.
    public var passed: Bool
    /// What the command did instead: its exit status, or the texts missing from its output.
    public var observed: String
    /// How long the command took, in seconds.
    public var seconds: Double

    /// `✔` and the verification, or `✘`, the verification and what was observed.
    public var description: String {
        "\(passed ? "✔" : "✘") \(verification)" + (passed ? "" : " — observed: \(observed)")
    }
}

extension String {
    var trimmed: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

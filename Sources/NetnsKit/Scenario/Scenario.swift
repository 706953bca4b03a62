import Namespaces
import NetnsModel

/// A topology with the behaviour it is expected to show: a whole test.
///
/// A scenario is written in Swift or as a file (YAML or JSON, see FileFormat.md): the two are
/// spellings of one value, so ``load(yaml:file:)`` of ``yaml()`` gives back an equal scenario.
/// `nslab test` (and ``test(features:)``) builds it in fixture mode, runs ``setup``, starts
/// ``processes``, checks ``expectations`` in order and then ``verifications``, and tears it down;
/// `nslab up` builds it as a pinned lab and runs ``setup``.
public struct Scenario: Sendable, Hashable {
    /// A short unique name in `[a-z0-9-]`, usable as a lab name.
    public var name: String
    /// One line for listings.
    public var summary: String
    /// What the scenario shows and how, in a few sentences.
    public var description: String
    public var topology: Topology
    /// What the kernel must do once the lab is built, set up and its processes started; checked in order.
    public var expectations: [LabExpectation]
    /// Commands run inside nodes after the build, in order (e.g. loading an nftables ruleset).
    public var setup: [SetupCommand]
    /// Checks that run a command in a node and look at its output, for state no ``LabExpectation`` covers.
    public var verifications: [Verification]
    /// Listeners and commands that run from after the setup until teardown.
    public var processes: [ScenarioProcess]
    /// Kernel features the scenario needs beyond veth (link kinds like `vxlan`, qdiscs like `tbf`, `nftables`).
    public var requires: [String]
    /// Where the scenario was written (its file and each entry's line); ignored by `==`.
    public var source: ScenarioSource

    public init(name: String, summary: String = "", description: String = "", topology: Topology,
                expectations: [LabExpectation] = [], setup: [SetupCommand] = [], verifications: [Verification] = [],
                processes: [ScenarioProcess] = [], requires: [String] = [], source: ScenarioSource = ScenarioSource()) {
        self.name = name
        self.summary = summary
        self.description = description
        self.topology = topology
        self.expectations = expectations
        self.setup = setup
        self.verifications = verifications
        self.processes = processes
        self.requires = requires
        self.source = source
    }

    /// How many checks a run makes: expectations plus verifications.
    public var checkCount: Int { expectations.count + verifications.count }
}

/// Where a scenario was written: the file, its text, and the line of each entry; ignored by `==` and hashing.
public struct ScenarioSource: Sendable, Hashable {
    /// The file's name as messages show it (`router.yaml`), nil for a scenario written in Swift.
    public var file: String?
    /// The path it was loaded from, when it was loaded from one (``Scenario/load(path:)``).
    public var path: String?
    /// The file's text as written (comments and `repeat` blocks included), what `nslab export` prints.
    public var text: String?
    /// The place of each expectation, setup command, verification and process, by index.
    public var expectations: [DeclarationLocation?] = []
    public var setup: [DeclarationLocation?] = []
    public var verifications: [DeclarationLocation?] = []
    public var processes: [DeclarationLocation?] = []

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
    public func location(ofVerification i: Int) -> DeclarationLocation? {
        verifications.indices.contains(i) ? verifications[i] : nil
    }
    public func place(ofVerification i: Int) -> String? { Self.place(verifications, i) }
    public func place(ofSetup i: Int) -> String? { Self.place(setup, i) }
    public func place(ofProcess i: Int) -> String? { Self.place(processes, i) }

    private static func place(_ list: [DeclarationLocation?], _ i: Int) -> String? {
        guard list.indices.contains(i), let l = list[i] else { return nil }
        return "\(l.fileID):\(l.line)"
    }

    public static func == (_: ScenarioSource, _: ScenarioSource) -> Bool { true }
    public func hash(into hasher: inout Hasher) {}
}

/// Something that runs in a node from after the setup until teardown.
public struct ScenarioProcess: Sendable, Hashable, CustomStringConvertible {
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

    public var node: String
    public var kind: Kind
    /// Seconds after which a listener stops on its own, even without teardown.
    public var lifetime: Double

    public init(in node: String, _ kind: Kind, lifetime: Double = 600) {
        self.node = node
        self.kind = kind
        self.lifetime = lifetime
    }

    /// A TCP or UDP listener on `ports` in `node`.
    public static func listener(in node: String, _ proto: TransportProtocol = .tcp, address: String? = nil,
                                ports: [UInt16], reply: String? = nil) -> ScenarioProcess {
        ScenarioProcess(in: node, .listener(proto, address: address, ports: ports, reply: reply))
    }

    /// A command in `node`, optionally waited for until its output contains `ready`.
    public static func command(in node: String, _ argv: [String], ready: String? = nil) -> ScenarioProcess {
        ScenarioProcess(in: node, .command(argv, ready: ready))
    }

    /// Whether this is a command (the escape hatch) rather than a built-in listener.
    public var isCommand: Bool { if case .command = kind { true } else { false } }

    public var description: String {
        switch kind {
        case let .listener(proto, address, ports, reply):
            let portText = ports.map(String.init).joined(separator: ",")
            return "\(proto) listener on \(address ?? "*"):\(portText) in \(node)" + (reply.map { " replying \($0.debugDescription)" } ?? "")
        case let .command(argv, ready):
            return "command in \(node): \(argv.joined(separator: " "))" + (ready.map { " (ready on \($0.debugDescription))" } ?? "")
        }
    }
}

/// A command run inside a node after the lab is built.
public struct SetupCommand: Sendable, Hashable, CustomStringConvertible {
    public var node: String
    public var argv: [String]
    /// Text written to the command's standard input.
    public var stdin: String?

    public init(in node: String, _ argv: [String], stdin: String? = nil) {
        self.node = node
        self.argv = argv
        self.stdin = stdin
    }

    public var description: String {
        "in \(node): \(argv.joined(separator: " "))" + (stdin == nil ? "" : " < (\(stdin!.utf8.count) bytes)")
    }
}

/// A command whose output must contain some text, e.g. `tc qdisc show dev eth0` showing `qdisc tbf`.
public struct Verification: Sendable, Hashable, CustomStringConvertible {
    public var node: String
    public var argv: [String]
    /// Every one of these must appear in the command's standard output, and the command must exit 0.
    public var outputContains: [String]

    public init(in node: String, _ argv: [String], outputContains: [String]) {
        self.node = node
        self.argv = argv
        self.outputContains = outputContains
    }

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
    public var verification: Verification
    public var passed: Bool
    public var observed: String
    public var seconds: Double

    public var description: String {
        "\(passed ? "✔" : "✘") \(verification)" + (passed ? "" : " — observed: \(observed)")
    }
}

extension String {
    var trimmed: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}

import NetnsKit

/// A ready topology with the behaviour it is expected to show.
///
/// `nslab test` builds it in fixture mode, runs ``setup``, checks ``expectations`` and
/// ``verifications``, and tears it down; `nslab up` builds it as a pinned lab and runs ``setup``.
public struct Scenario: Sendable {
    /// A short unique name in `[a-z0-9-]`, usable as a lab name.
    public var name: String
    /// One line for listings.
    public var summary: String
    /// What the scenario shows and how, in a few sentences.
    public var description: String
    public var topology: Topology
    /// What the kernel must do once the lab is built and set up.
    public var expectations: [LabExpectation]
    /// Commands run inside nodes after the build, in order (e.g. loading an nftables ruleset).
    public var setup: [SetupCommand]
    /// Checks that run a command in a node and look at its output, for state no ``LabExpectation`` covers.
    public var verifications: [Verification]
    /// Kernel features the scenario needs beyond veth (link kinds like `vxlan`, qdiscs like `tbf`, `nftables`).
    public var requires: [String]

    public init(name: String, summary: String, description: String, topology: Topology,
                expectations: [LabExpectation], setup: [SetupCommand] = [], verifications: [Verification] = [],
                requires: [String] = []) {
        self.name = name
        self.summary = summary
        self.description = description
        self.topology = topology
        self.expectations = expectations
        self.setup = setup
        self.verifications = verifications
        self.requires = requires
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

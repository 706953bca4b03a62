import Foundation
import Netlink
import NetnsModel
import Yams

// The scenario file format (FileFormat.md): a topology file plus `summary`, `description`,
// `requires`, `setup`, `processes`, `expect`, `verifications` and `steps`. Loading keeps the line of every
// entry and reports every problem at once, each with its key path and line.

extension Scenario {
    /// The top-level keys a scenario adds to a topology file.
    static let scenarioKeys = ["summary", "description", "requires", "serial", "setup", "processes", "expect", "verifications", "steps"]

    /// Reads a scenario (or a plain topology file, which is a scenario without checks) from YAML or JSON text.
    ///
    /// - Parameters:
    ///   - text: the YAML (or JSON, which is YAML) text.
    ///   - file: the name messages use (`router.yaml`); each expectation remembers `file:line`.
    /// - Throws: `FileProblems` listing every problem (schema, values, unknown nodes, topology
    ///   validation), each with its key path and line.
    public static func load(yaml text: String, file: String? = nil) throws(FileProblems) -> Scenario {
        let source: YAMLSource
        do {
            source = try YAMLSource(text: text, file: file)
        } catch {
            throw FileProblems(file: file, problems: [error])
        }
        let (topology, topologyProblems) = source.topology(otherKeys: scenarioKeys)
        var problems = topologyProblems

        func one<T: Decodable>(_ key: String, _ type: T.Type) -> T? {
            guard source.node(at: [.key(key)]) != nil else { return nil }
            switch source.decode(T.self, at: [.key(key)]) {
            case .success(let v): return v
            case .failure(let e): problems.append(e); return nil
            }
        }
        /// Each entry that decoded, with its place and its index in the file's list.
        func entries<T: Decodable>(_ key: String, _ type: T.Type) -> [(T, DeclarationLocation?, Int)] {
            guard let node = source.node(at: [.key(key)]) else { return [] }
            if node.null != nil { return [] }
            guard let count = source.count(at: [.key(key)]) else {
                problems.append(source.problem("expected a list", at: [.key(key)]))
                return []
            }
            var out: [(T, DeclarationLocation?, Int)] = []
            for i in 0..<count {
                let path: [PathStep] = [.key(key), .index(i)]
                switch source.decode(T.self, at: path) {
                case .success(let v): out.append((v, source.location(at: path), i))
                case .failure(let e): problems.append(e)
                }
            }
            return out
        }
        let summary = one("summary", String.self) ?? ""
        let description = one("description", String.self) ?? ""
        let requires = one("requires", [String].self) ?? []
        let serial = one("serial", Bool.self) ?? false
        let setup = entries("setup", SetupCommand.self)
        let processes = entries("processes", ScenarioProcess.self)
        let expect = entries("expect", LabExpectation.self)
        let verifications = entries("verifications", Verification.self)
        let steps = entries("steps", TimelineStep.self)

        // Nodes named by the scenario's entries must exist (checked even when the topology has
        // other problems, from the names the file declares).
        var names: [String] = []
        for i in 0..<(source.count(at: [.key("nodes")]) ?? 0) {
            if case .success(let n) = source.decode(String.self, at: [.key("nodes"), .index(i), .key("name")]) { names.append(n) }
        }
        let known = names.joined(separator: ", ")
        func requireNode(_ node: String, _ path: [PathStep]) {
            if !names.contains(node) {
                problems.append(source.problem("unknown node \"\(node)\" (known: \(known))", at: path))
            }
        }
        for (e, _, i) in expect {
            let key = source.keys(at: [.key("expect"), .index(i)]).first { $0 == "from" || $0 == "in" } ?? "in"
            requireNode(Lab.nodeName(of: e) ?? "", [.key("expect"), .index(i), .key(key)])
            if case .multipath(_, let m) = e, let sender = m.sender { requireNode(sender, [.key("expect"), .index(i), .key("sender")]) }
        }
        for (s, _, i) in setup { requireNode(s.node, [.key("setup"), .index(i), .key("node")]) }
        for (v, _, i) in verifications { requireNode(v.node, [.key("verifications"), .index(i), .key("node")]) }
        for (p, _, i) in processes {
            requireNode(p.node, [.key("processes"), .index(i), .key("node")])
            if p.config != nil, let declared = topology?.nodes.first(where: { $0.name == p.node }), declared.isolation != .full {
                problems.append(source.problem("a config file is written into the node's private /tmp or /run: node "
                                               + "\(p.node) needs isolation: full", at: [.key("processes"), .index(i), .key("config")]))
            }
        }
        for (step, _, i) in steps {
            switch step.action {
            case .change(let change):
                requireNode(change.node, [.key("steps"), .index(i), .key("node")])
            case let .check(e, _):
                let key = source.keys(at: [.key("steps"), .index(i)]).first { $0 == "from" || $0 == "in" } ?? "in"
                requireNode(Lab.nodeName(of: e) ?? "", [.key("steps"), .index(i), .key(key)])
            }
        }

        var scenario: Scenario?
        if let topology {
            do {
                _ = try topology.validated()
            } catch {
                for issue in error.issues {
                    let path = PathStep.steps(parsing: issue.path)
                    problems.append(source.problem(issue.message + (issue.hint.map { " — hint: \($0)" } ?? ""), at: path))
                }
            }
            var src = ScenarioSource(file: file, text: text)
            src.expectations = expect.map(\.1)
            src.setup = setup.map(\.1)
            src.verifications = verifications.map(\.1)
            src.processes = processes.map(\.1)
            src.steps = steps.map(\.1)
            scenario = Scenario(name: topology.name, summary: summary, description: description, topology: topology,
                                expectations: expect.map(\.0), setup: setup.map(\.0),
                                verifications: verifications.map(\.0), processes: processes.map(\.0),
                                steps: steps.map(\.0), requires: requires, serial: serial, source: src)
        }
        guard problems.isEmpty, let scenario else {
            throw FileProblems(file: file, problems: problems.sorted { ($0.line ?? 0) < ($1.line ?? 0) })
        }
        return scenario
    }

    /// Reads a `.yaml`, `.yml` or `.json` scenario or topology file.
    /// - Throws: `FileProblems`.
    /// - Parameters:
    ///   - path: the file to read; messages name it by its last path component.
    ///   - maxBytes: a larger file is refused before it is read (as is anything but a
    ///     regular file: a directory, a FIFO, a device).
    public static func load(path: String, maxBytes: Int = Topology.maxFileBytes) throws(FileProblems) -> Scenario {
        let name = (path as NSString).lastPathComponent
        let data: Data
        do {
            data = try Topology.readFile(path: path, maxBytes: maxBytes)
        } catch {
            throw FileProblems(file: name, problems: [error])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw FileProblems(file: name, problems: [TopologyFileError(place: path, message: "the file is not UTF-8 text")])
        }
        // JSON is read by the same YAML parser (flow style; tab indentation included), so its
        // problems have lines too.
        var scenario: Scenario
        do {
            scenario = try load(yaml: text, file: name)
        } catch where path.lowercased().hasSuffix(".json") {
            throw FileProblems(file: error.file, problems: error.problems.map(\.inJSON))
        }
        scenario.source.path = path
        return scenario
    }

    /// The scenario as YAML in the file format; ``load(yaml:file:)`` reads it back as an equal scenario.
    public func yaml() -> String {
        (try? YAMLEncoder().encode(ScenarioFileForm(self))) ?? ""
    }

    /// The scenario as pretty-printed JSON (same schema as ``yaml()``).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes]
        return (try? encoder.encode(ScenarioFileForm(self))).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

/// The encoded shape of a scenario file, keys in the documented order.
private struct ScenarioFileForm: Encodable {
    var s: Scenario
    init(_ s: Scenario) { self.s = s }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(s.topology.name, "name")
        if !s.summary.isEmpty { try c.put(s.summary, "summary") }
        if !s.description.isEmpty { try c.put(s.description, "description") }
        try c.put(nonEmpty: s.requires, "requires")
        if s.serial { try c.put(true, "serial") }
        try c.put(nonEmpty: s.topology.nodes, "nodes")
        try c.put(nonEmpty: s.topology.links, "links")
        try c.put(nonEmpty: s.topology.tunnels, "tunnels")
        try c.put(nonEmpty: s.setup, "setup")
        try c.put(nonEmpty: s.processes, "processes")
        try c.put(nonEmpty: s.expectations, "expect")
        try c.put(nonEmpty: s.verifications, "verifications")
        try c.put(nonEmpty: s.steps, "steps")
    }
}

func bad(_ c: KeyedDecodingContainer<FieldKey>, _ key: String, _ message: String) -> DecodingError {
    .dataCorrupted(DecodingError.Context(codingPath: c.codingPath + [FieldKey(key)], debugDescription: message))
}

extension KeyedDecodingContainer where K == FieldKey {
    /// A required string that must be an IP address.
    fileprivate func address(_ key: String) throws -> String {
        let text: String = try required(key)
        guard IPAddress(text) != nil else { throw bad(self, key, "not an IP address: \"\(text)\"") }
        return text
    }

    fileprivate func optionalAddress(_ key: String) throws -> String? {
        guard let text: String = try optional(key) else { return nil }
        guard IPAddress(text) != nil else { throw bad(self, key, "not an IP address: \"\(text)\"") }
        return text
    }

    /// A time like `50ms`, `2s` or `250us`, if the key is there.
    func duration(_ key: String) throws -> Duration? {
        guard let text: String = try optional(key) else { return nil }
        guard let d = Duration(tcText: text), d >= .zero else { throw bad(self, key, "not a time: \"\(text)\" (expected e.g. 50ms)") }
        return d
    }

    func port(_ key: String) throws -> UInt16 {
        let n: Int = try required(key)
        guard (1...65535).contains(n) else { throw bad(self, key, "port \(n) is outside 1…65535") }
        return UInt16(n)
    }
}

extension LabExpectation: Codable {
    /// The key that names each kind of expectation in a file, with the node key it takes.
    static let fileKinds: [(key: String, node: String, keys: [String])] = [
        ("reaches", "from", ["size", "minRtt", "maxRtt"] + pingKeys),
        ("cannotReach", "from", ["reason", "size", "reporter", "icmpType", "icmpCode", "mtu"] + pingKeys),
        ("tcp", "from", ["port", "open"] + TransportExpectation.fileKeys),
        ("connect", "from", ["port", "open", "proto"] + TransportExpectation.fileKeys),
        ("udp", "from", ["port"] + TransportExpectation.fileKeys),
        ("route", "in", routeKeys),
        ("multipath", "in", multipathKeys),
        ("link", "in", ["up", "mtu"]),
        ("sysctl", "in", ["value"]),
        ("counters", "in", ["minRx", "minTx"]),
        ("address", "in", ["on"]),
        ("interface", "in", ["master"]),
        ("rule", "in", []),
        ("neighbor", "in", ["states"]),
        ("routes", "in", routesKeys),
        ("throughput", "from", ["port", "bytes", "timeLimit", "minMbit", "maxMbit"]),
        ("nftCounter", "in", NftCounterExpectation.fileKeys),
        ("mibCounter", "in", MIBCounterExpectation.fileKeys),
        ("linkAttributes", "in", LinkAttributesExpectation.fileKeys),
        ("qdisc", "in", QdiscExpectation.fileKeys),
        ("refuses", "in", RefusedChangeExpectation.fileKeys),
        ("through", "in", TrafficPathExpectation.fileKeys),
        ("addressCount", "in", AddressCountExpectation.fileKeys),
        ("addressFlags", "in", AddressFlagsExpectation.fileKeys),
        ("fdb", "in", FDBExpectation.fileKeys),
    ]

    /// Decodes one `expect` entry, e.g. `{from: h1, reaches: 10.0.2.2}`; see FileFormat.md for every kind.
    public init(from decoder: Decoder) throws {
        try self.init(from: decoder, allowing: [])
    }

    /// Decodes an expectation from a mapping that may also hold the keys `extra` (a timeline
    /// step's `within`, `at`, `after`), which the caller reads.
    init(from decoder: Decoder, allowing extra: [String]) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        let keys = c.allKeys.map(\.stringValue)
        let kinds = Self.fileKinds.filter { keys.contains($0.key) }
        guard kinds.count == 1, let kind = kinds.first else {
            let all = Self.fileKinds.map(\.key).joined(separator: ", ")
            throw corrupted(decoder, kinds.isEmpty
                ? "an expectation needs one of: \(all)"
                    + (keys.lazy.filter { $0 != "from" && $0 != "in" && !extra.contains($0) }
                        .compactMap { closestKey($0, in: Self.fileKinds.map(\.key)) }
                        .first.map { " (did you mean \"\($0)\"?)" } ?? "")
                : "an expectation has one kind, found \(kinds.map(\.key).joined(separator: " and "))")
        }
        try c.only([kind.key, kind.node] + kind.keys + extra)
        let node: String = try c.required(kind.node)
        if let ping = try Self.pingForm(c, kind: kind.key, node: node) {
            self = ping
            return
        }
        switch kind.key {
        case "throughput":
            self = try Self.throughputForm(c, node: node)
        case "reaches":
            let to = try c.address("reaches")
            let min = try c.duration("minRtt"), max = try c.duration("maxRtt")
            if min != nil || max != nil {
                if c.contains(FieldKey("size")) { throw bad(c, "size", "a round-trip bound takes no size; drop size or minRtt/maxRtt") }
                self = .rtt(from: node, to: to, min: min, max: max)
            } else if let size: Int = try c.optional("size") {
                guard (0...65_000).contains(size) else { throw bad(c, "size", "size \(size) is outside 0…65000") }
                self = .pingSize(from: node, to: to, size: size, succeeds: true)
            } else {
                self = .reachable(from: node, to: to)
            }
        case "cannotReach":
            let to = try c.address("cannotReach")
            if let size: Int = try c.optional("size") {
                guard (0...65_000).contains(size) else { throw bad(c, "size", "size \(size) is outside 0…65000") }
                if c.contains(FieldKey("reason")) {
                    throw bad(c, "reason", "a sized (DF) ping that fails has no reason to check; drop reason or size")
                }
                self = .pingSize(from: node, to: to, size: size, succeeds: false)
            } else {
                let text: String = try c.value("reason", default: "any")
                guard let reason = UnreachableReason(rawValue: text) else {
                    throw bad(c, "reason", "unknown reason \"\(text)\" (expected one of: \(UnreachableReason.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                self = .unreachable(from: node, to: to, reason: reason)
            }
        case "tcp" where !Set(keys).isDisjoint(with: TransportExpectation.fileKeys),
             "connect" where !Set(keys).isDisjoint(with: TransportExpectation.fileKeys + ["proto"]), "udp":
            self = .transport(try TransportExpectation(file: c, from: node, kind: kind.key))
        case "nftCounter": self = .nftCounter(try NftCounterExpectation(file: c, in: node))
        case "mibCounter": self = .mibCounter(try MIBCounterExpectation(file: c, in: node))
        case "linkAttributes": self = .linkAttributes(try LinkAttributesExpectation(file: c, in: node))
        case "qdisc": self = .qdisc(try QdiscExpectation(file: c, in: node))
        case "refuses": self = .refused(try RefusedChangeExpectation(file: c, in: node))
        case "through": self = .path(try TrafficPathExpectation(file: c, in: node))
        case "addressCount": self = .addressCount(try AddressCountExpectation(file: c, in: node))
        case "addressFlags": self = .addressFlags(try AddressFlagsExpectation(file: c, in: node))
        case "fdb": self = .fdb(try FDBExpectation(file: c, in: node))
        case "tcp":
            self = .tcp(from: node, to: try c.address("tcp"), port: try c.port("port"), open: try c.value("open", default: true))
        case "connect":
            self = .tcpConnect(from: node, to: try c.address("connect"), port: try c.port("port"), open: try c.value("open", default: true))
        case "route", "multipath", "routes", "rule":
            self = try Self.decodeRouting(kind.key, c, node: node)!
        case "link":
            let mtu: Int? = try c.optional("mtu")
            if let mtu, !(68...65535).contains(mtu) { throw bad(c, "mtu", "mtu \(mtu) is outside 68…65535") }
            self = .link(in: node, name: try c.required("link"), up: try c.value("up", default: true), mtu: mtu)
        case "sysctl":
            self = .sysctl(in: node, key: try c.required("sysctl"), value: try c.required("value"))
        case "counters":
            let rx: UInt64 = try c.value("minRx", default: 0), tx: UInt64 = try c.value("minTx", default: 0)
            self = .counters(in: node, name: try c.required("counters"), minRxPackets: rx, minTxPackets: tx)
        case "address":
            let text: String = try c.required("address")
            guard IPPrefix(text) != nil else { throw bad(c, "address", "not an address/prefix: \"\(text)\" (e.g. 10.0.0.1/24)") }
            self = .address(in: node, prefix: text, on: try c.required("on"))
        case "interface":
            let master: String = try c.required("master")
            self = .master(in: node, name: try c.required("interface"), master: master == "none" ? nil : master)
        default:
            let states: [String] = try c.required("states")
            if states.isEmpty { throw bad(c, "states", "list at least one state (REACHABLE, STALE, PERMANENT, …)") }
            self = .neighbor(in: node, address: try c.address("neighbor"), states: states)
        }
    }

    /// Writes the expectation as a scenario file entry, the form ``init(from:)`` reads.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        switch self {
        case let .reachable(f, t):
            try c.put(f, "from"); try c.put(t, "reaches")
        case let .unreachable(f, t, r):
            try c.put(f, "from"); try c.put(t, "cannotReach")
            if r != .any { try c.put(r.rawValue, "reason") }
        case let .pingSize(f, t, size, ok):
            try c.put(f, "from"); try c.put(t, ok ? "reaches" : "cannotReach"); try c.put(size, "size")
        case let .rtt(f, t, min, max):
            try c.put(f, "from"); try c.put(t, "reaches"); try c.put(min?.tcText, "minRtt"); try c.put(max?.tcText, "maxRtt")
        case let .tcp(f, t, port, open):
            try c.put(f, "from"); try c.put(t, "tcp"); try c.put(port, "port")
            try c.put(open, "open", unless: true)
        case let .tcpConnect(f, t, port, open):
            try c.put(f, "from"); try c.put(t, "connect"); try c.put(port, "port")
            try c.put(open, "open", unless: true)
        case .route, .multipath, .routes, .rule:
            _ = try encodeRouting(&c)
        case let .link(n, name, up, mtu):
            try c.put(n, "in"); try c.put(name, "link"); try c.put(up, "up", unless: true); try c.put(mtu, "mtu")
        case let .sysctl(n, k, v):
            try c.put(n, "in"); try c.put(k, "sysctl"); try c.put(v, "value")
        case let .counters(n, name, rx, tx):
            try c.put(n, "in"); try c.put(name, "counters")
            if rx > 0 { try c.put(rx, "minRx") }
            if tx > 0 { try c.put(tx, "minTx") }
        case let .address(n, p, on):
            try c.put(n, "in"); try c.put(p, "address"); try c.put(on, "on")
        case let .master(n, name, m):
            try c.put(n, "in"); try c.put(name, "interface"); try c.put(m ?? "none", "master")
        case let .neighbor(n, a, states):
            try c.put(n, "in"); try c.put(a, "neighbor"); try c.put(states, "states")
        case .ping, .throughput:
            try encodeProbe(&c)
        case let .transport(t): try t.encode(file: &c)
        case let .nftCounter(e): try e.encode(file: &c)
        case let .mibCounter(e): try e.encode(file: &c)
        case let .linkAttributes(e): try e.encode(file: &c)
        case let .qdisc(e): try e.encode(file: &c)
        case let .refused(e): try e.encode(file: &c)
        case let .path(e): try e.encode(file: &c)
        case let .addressCount(e): try e.encode(file: &c)
        case let .addressFlags(e): try e.encode(file: &c)
        case let .fdb(e): try e.encode(file: &c)
        }
    }
}

extension SetupCommand: Codable {
    /// `{node: r1, run: [nft, -f, -], stdin: "…"}`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["node", "run", "stdin"])
        let argv: [String] = try c.required("run")
        if argv.isEmpty { throw bad(c, "run", "give the command as a non-empty list: [prog, arg, …]") }
        self.init(in: try c.required("node"), argv, stdin: try c.optional("stdin"))
    }

    /// Writes the command as a scenario file `setup` entry (`node`, `run`, `stdin`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(node, "node"); try c.put(argv, "run"); try c.put(stdin, "stdin")
    }
}

extension Verification: Codable {
    /// `{node: h1, run: [tc, qdisc, show, dev, eth0], shows: ["qdisc tbf"]}`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        try c.only(["node", "run", "shows"])
        let argv: [String] = try c.required("run")
        if argv.isEmpty { throw bad(c, "run", "give the command as a non-empty list: [prog, arg, …]") }
        let shows: [String] = try c.required("shows")
        if shows.isEmpty { throw bad(c, "shows", "list the text the output must contain") }
        self.init(in: try c.required("node"), argv, outputContains: shows)
    }

    /// Writes the verification as a scenario file entry (`node`, `run`, `shows`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(node, "node"); try c.put(argv, "run"); try c.put(outputContains, "shows")
    }
}

extension ScenarioProcess: Codable {
    /// `{node: h2, listen: tcp, address: 10.0.2.2, port: 80, reply: "hello"}` or
    /// `{node: h2, run: [socat, …], ready: "listening"}`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        let node: String = try c.required("node")
        let isListener = c.contains(FieldKey("listen")), isCommand = c.contains(FieldKey("run"))
        guard isListener != isCommand else {
            throw corrupted(decoder, isListener ? "a process is a listener (listen:) or a command (run:), not both"
                                                : "a process needs listen: tcp|udp (a built-in listener) or run: [argv…] (a command)")
        }
        if isListener {
            try c.only(["node", "listen", "address", "port", "ports", "reply", "lifetime"])
            let protoText: String = try c.required("listen")
            guard let proto = TransportProtocol(rawValue: protoText) else {
                throw bad(c, "listen", "unknown protocol \"\(protoText)\" (expected tcp or udp)")
            }
            var ports: [UInt16] = []
            switch (c.contains(FieldKey("port")), c.contains(FieldKey("ports"))) {
            case (true, false): ports = [try c.port("port")]
            case (false, true):
                let list: [Int] = try c.required("ports")
                if list.isEmpty { throw bad(c, "ports", "list at least one port") }
                for p in list {
                    guard (1...65535).contains(p) else { throw bad(c, "ports", "port \(p) is outside 1…65535") }
                    ports.append(UInt16(p))
                }
            default:
                throw corrupted(decoder, "a listener needs port: N or ports: [N, …] (one of them)")
            }
            let lifetime: Double = try c.value("lifetime", default: 600)
            guard lifetime > 0 && lifetime <= ScenarioProcess.maxLifetime else {
                throw bad(c, "lifetime", "lifetime \(lifetime) s is outside (0, \(Int(ScenarioProcess.maxLifetime))]")
            }
            self.init(in: node, .listener(proto, address: try c.optionalAddress("address"), ports: ports,
                                          reply: try c.optional("reply")), lifetime: lifetime)
        } else {
            try c.only(["node", "run", "ready", "config", "install"])
            let argv: [String] = try c.required("run")
            if argv.isEmpty { throw bad(c, "run", "give the command as a non-empty list: [prog, arg, …]") }
            var config: ProcessConfig?
            if c.contains(FieldKey("config")) {
                let k = try c.nestedContainer(keyedBy: FieldKey.self, forKey: FieldKey("config"))
                try k.only(["path", "text"])
                let path: String = try k.required("path")
                if let problem = ProcessConfig.problem(withPath: path) { throw bad(k, "path", problem) }
                let made = ProcessConfig(path: path, template: try k.required("text"))
                if let word = made.unknownPlaceholders.first {
                    throw bad(k, "text", "unknown placeholder {\(word)} (known: "
                              + ProcessConfig.placeholders.map { "{\($0)}" }.joined(separator: ", ") + ")"
                              + (closestKey(word, in: ProcessConfig.placeholders).map { "; did you mean {\($0)}?" } ?? ""))
                }
                config = made
            }
            let install: String? = try c.optional("install")
            if let install, install.trimmed.isEmpty { throw bad(c, "install", "say how to install the program, e.g. apt-get install bird2") }
            self.init(in: node, .command(argv, ready: try c.optional("ready")), config: config, install: install)
        }
    }

    /// Writes the process as a scenario file `processes` entry.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: FieldKey.self)
        try c.put(node, "node")
        switch kind {
        case let .listener(proto, address, ports, reply):
            try c.put(proto.rawValue, "listen")
            try c.put(address, "address")
            if ports.count == 1 { try c.put(ports[0], "port") } else { try c.put(ports, "ports") }
            try c.put(reply, "reply")
            if lifetime != 600 { try c.put(lifetime, "lifetime") }
        case let .command(argv, ready):
            try c.put(argv, "run")
            try c.put(ready, "ready")
            if let config {
                var k = c.nestedContainer(keyedBy: FieldKey.self, forKey: FieldKey("config"))
                try k.put(config.path, "path"); try k.put(config.template, "text")
            }
            try c.put(install, "install")
        }
    }
}

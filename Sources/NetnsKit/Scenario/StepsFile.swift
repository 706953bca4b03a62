import NetnsModel

// The file form of a fault timeline (`steps:` in a scenario file, FileFormat.md): each entry is a
// change, named by the ``TimelineChange`` case it is (`linkDown`, `setMTU`, `addRoute`, …), or a
// check, an `expect` entry with `within:`; either may say when it begins (`at:` or `after:`).

extension TimelineChange {
    /// The node the change is made in.
    public var node: String {
        switch self {
        case let .linkDown(n, _), let .linkUp(n, _), let .setMTU(n, _, _), let .replaceQdisc(n, _, _),
             let .removeQdisc(n, _), let .addRoute(n, _), let .removeRoute(n, _), let .send(n, _):
            n
        }
    }

    /// The interface the change is about, when it is about one.
    public var link: String? {
        switch self {
        case let .linkDown(_, l), let .linkUp(_, l), let .setMTU(_, l, _), let .replaceQdisc(_, l, _), let .removeQdisc(_, l):
            l
        case .addRoute, .removeRoute, .send:
            nil
        }
    }

    /// The key that names each kind of change in a file (the Swift case's name), with the other keys it takes.
    static let fileKinds: [(key: String, keys: [String])] = [
        ("linkDown", []), ("linkUp", []), ("setMTU", ["mtu"]), ("replaceQdisc", []), ("removeQdisc", []),
        ("addRoute", []), ("removeRoute", []), ("send", ["packets", "proto", "port", "source", "size"]),
    ]
}

extension TimelineStep: Codable {
    /// The keys that say when a step begins, and a check's bound.
    static let timeKeys = ["at", "after", "within"]

    /// Decodes one `steps` entry: `{at: 500ms, node: r1, linkDown: eth1}` or
    /// `{within: 3s, from: h1, reaches: 10.0.2.2}`; see FileFormat.md.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FieldKey.self)
        let keys = c.allKeys.map(\.stringValue)
        func bad(_ key: String, _ message: String) -> DecodingError {
            .dataCorrupted(DecodingError.Context(codingPath: c.codingPath + [FieldKey(key)], debugDescription: message))
        }
        func duration(_ key: String) throws -> Duration? {
            guard c.contains(FieldKey(key)) else { return nil }
            guard let text = try? c.decode(String.self, forKey: FieldKey(key)) else {
                throw bad(key, "\(key) takes a time with its unit, like 500ms or 3s")
            }
            let lower = text.lowercased()
            guard lower.hasSuffix("ms") || lower.hasSuffix("s") || lower.hasSuffix("us"),
                  let d = Duration(tcText: text), d >= .zero else {
                throw bad(key, "not a time: \"\(text)\" (expected a time with its unit, like 500ms or 3s)")
            }
            guard d <= .seconds(3600) else { throw bad(key, "\(key) \(text) is more than an hour") }
            return d
        }
        let at = try duration("at"), after = try duration("after")
        if at != nil && after != nil { throw bad("after", "a step begins at a time or after the previous step, not both") }
        let time: StepTime = at.map { .at($0) } ?? .after(after ?? .zero)

        let changeKinds = TimelineChange.fileKinds.filter { keys.contains($0.key) }
        let isCheck = LabExpectation.fileKinds.contains { keys.contains($0.key) }
        if changeKinds.count > 1 {
            throw corrupted(decoder, "a step makes one change, found \(changeKinds.map(\.key).joined(separator: " and "))")
        }
        if let kind = changeKinds.first {
            if isCheck || keys.contains("within") {
                throw corrupted(decoder, "a step is a change (\(kind.key)) or a check (an expectation with within:), not both; "
                                + "put the check in a step of its own")
            }
            try c.only(["at", "after", "node", kind.key] + kind.keys)
            let node: String = try c.required("node")
            let change: TimelineChange
            switch kind.key {
            case "linkDown": change = .linkDown(node: node, link: try c.required("linkDown"))
            case "linkUp": change = .linkUp(node: node, link: try c.required("linkUp"))
            case "setMTU":
                let mtu: Int = try c.required("mtu")
                guard (68...65535).contains(mtu) else { throw bad("mtu", "mtu \(mtu) is outside 68…65535") }
                change = .setMTU(node: node, link: try c.required("setMTU"), mtu: mtu)
            case "replaceQdisc":
                let q: Qdisc = try c.required("replaceQdisc")
                guard let link = q.interface else {
                    throw bad("replaceQdisc", "say which interface: replaceQdisc: {on: eth1, tbf: {…}}")
                }
                let inner = try c.nestedContainer(keyedBy: FieldKey.self, forKey: FieldKey("replaceQdisc"))
                for key in ["handle", "parent"] where inner.contains(FieldKey(key)) {
                    throw DecodingError.dataCorrupted(DecodingError.Context(
                        codingPath: inner.codingPath + [FieldKey(key)],
                        debugDescription: "a timeline replaces the root qdisc; it takes no \(key)"))
                }
                change = .replaceQdisc(node: node, link: link, q.kind)
            case "removeQdisc": change = .removeQdisc(node: node, link: try c.required("removeQdisc"))
            case "addRoute":
                let r: Route = try c.required("addRoute")
                if r.absent { throw bad("addRoute", "absent is for a topology's routes; use removeRoute") }
                change = .addRoute(node: node, r)
            case "send":
                change = .send(node: node, try TrafficBurst(fileForm: c))
            default:
                let r: Route = try c.required("removeRoute")
                if r.absent { throw bad("removeRoute", "absent is for a topology's routes; removeRoute already removes") }
                change = .removeRoute(node: node, r)
            }
            self.init(time, .change(change))
            return
        }
        if isCheck || keys.contains("within") {
            let e = try LabExpectation(from: decoder, allowing: ["at", "after", "within"])
            guard let within = try duration("within") else {
                throw corrupted(decoder, "a check in steps needs within: the longest it may take to hold (e.g. within: 3s)")
            }
            guard within > .zero else { throw bad("within", "within must be more than 0") }
            self.init(time, .check(e, within: within))
            return
        }
        // Neither: name what a step can be, with the closest key.
        let all = TimelineChange.fileKinds.map(\.key) + LabExpectation.fileKinds.map(\.key)
        let guess = keys.lazy.filter { !["at", "after", "node", "from", "in"].contains($0) }
            .compactMap { closestKey($0, in: all) }.first
        throw corrupted(decoder, "a step needs a change (\(TimelineChange.fileKinds.map(\.key).joined(separator: ", "))) "
                        + "or a check (an expectation with within:)" + (guess.map { " (did you mean \"\($0)\"?)" } ?? ""))
    }

    /// Writes the step as a scenario file `steps` entry, the form ``init(from:)`` reads.
    public func encode(to encoder: Encoder) throws {
        switch action {
        case let .check(e, within):
            try e.encode(to: encoder)
            var c = encoder.container(keyedBy: FieldKey.self)
            try encodeTime(&c)
            try c.put(within.tcText, "within")
        case .change(let change):
            var c = encoder.container(keyedBy: FieldKey.self)
            try encodeTime(&c)
            try c.put(change.node, "node")
            switch change {
            case let .linkDown(_, l): try c.put(l, "linkDown")
            case let .linkUp(_, l): try c.put(l, "linkUp")
            case let .setMTU(_, l, m): try c.put(l, "setMTU"); try c.put(m, "mtu")
            case let .replaceQdisc(_, l, k): try c.put(Qdisc(k, on: l), "replaceQdisc")
            case let .removeQdisc(_, l): try c.put(l, "removeQdisc")
            case let .addRoute(_, r): try c.put(r, "addRoute")
            case let .removeRoute(_, r): try c.put(r, "removeRoute")
            case let .send(_, b): try b.encodeFileForm(&c)
            }
        }
    }

    private func encodeTime(_ c: inout KeyedEncodingContainer<FieldKey>) throws {
        switch time {
        case .at(let d): try c.put(d.tcText, "at")
        case .after(let d): if d != .zero { try c.put(d.tcText, "after") }
        }
    }
}

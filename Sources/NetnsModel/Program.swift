// The physical build program: what the builder sends, phase by phase and namespace by namespace,
// with interfaces named (symbolic) rather than numbered. `nslab plan` prints it, `nslab plan
// --script` turns it into a shell script, `nslab plan --json` prints it as data, and the builder
// (NetnsKit's `Builder`) executes it, binding each name to an ifindex as it goes.

/// An interface of a node, by name; the builder binds it to the kernel's ifindex.
public struct InterfaceRef: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The node (namespace) the interface lives in.
    public var node: String
    /// The interface name.
    public var name: String

    /// The interface `name` of `node`.
    public init(_ node: String, _ name: String) { self.node = node; self.name = name }

    /// `node:name`.
    public var description: String { "\(node):\(name)" }

    public static func < (a: InterfaceRef, b: InterfaceRef) -> Bool { (a.node, a.name) < (b.node, b.name) }
}

/// What a plan does in the kernel, step for step: namespaces (with their sysctls and loopback),
/// then phases of per-namespace batches of requests, then firewalls.
///
/// Compared with the ``Plan`` it comes from: a `link set up` is folded into the creation of the
/// link when the link can be created up; a veth peer's master (the kernel ignores `IFLA_MASTER`
/// inside `VETH_INFO_PEER`) and every alias (the kernel ignores `IFLA_IFALIAS` in a creating
/// `RTM_NEWLINK`) are set later, with the link's `up` or in the last phase; every namespace gets
/// the deterministic defaults (no IPv6 DAD).
public struct BuildProgram: Sendable, Hashable, Encodable, CustomStringConvertible {
    /// The topology's name.
    public var topology: String
    /// The namespaces, in creation order.
    public var namespaces: [NamespaceSetup]
    /// The netlink phases, in order; each phase is sent as one pipelined batch per namespace.
    public var phases: [BuildPhase]
    /// nftables rulesets, loaded last (after the links are ready).
    public var firewalls: [FirewallLoad]

    /// Every step, one command per line, under a comment per phase and namespace.
    public var description: String { text(namespace: { $0 }) }

    /// The program as text, with `namespace` naming each node's namespace.
    func text(namespace: (String) -> String) -> String {
        var lines = ["# namespaces: created with their sysctls, then loopback up"]
        for ns in namespaces { lines += ns.commands(namespace: namespace, script: false) }
        for (k, phase) in phases.enumerated() {
            lines.append("# phase \(k + 1): \(phase.name)")
            for batch in phase.batches {
                lines.append("#   in \(batch.node): \(batch.steps.count) step\(batch.steps.count == 1 ? "" : "s")")
                lines += batch.steps.map { $0.command(in: batch.node, namespace: namespace) }
            }
        }
        if !firewalls.isEmpty {
            lines.append("# firewalls")
            for f in firewalls { lines.append(PlanOperation.loadFirewall(f.ruleset).command(in: namespace(f.node))) }
        }
        return lines.joined(separator: "\n")
    }

    /// A POSIX shell script that builds this program with `ip`, `bridge`, `tc`, `sysctl` and `nft`,
    /// every namespace named `<lab>-<node>`.
    ///
    /// The script stops at the first failure and then deletes the namespaces it created (never
    /// one that existed before: `ip netns add` refuses a taken name), so no half-built lab
    /// remains. It removes nothing else: its last lines say how to tear the lab down.
    public func script(lab: String) -> String {
        func name(_ node: String) -> String { "\(lab)-\(node)" }
        let all = namespaces.map { name($0.node) }
        var lines = [
            "#!/bin/sh",
            "# Topology \(topology) as lab \(lab), written by `nslab plan --script`: the steps the builder sends.",
            "# Namespaces: \(all.joined(separator: " "))",
            "# Tear down: ip netns del <each of them>",
            "set -eu",
            "created=''",
            "nslab_cleanup() {",
            "    status=$?",
            "    [ \"$status\" -eq 0 ] && return 0",
            "    for ns in $created; do ip netns del \"$ns\" 2>/dev/null || true; done",
            "    echo \"lab \(lab): failed (exit $status); removed what it had created\" >&2",
            "    exit \"$status\"",
            "}",
            "trap nslab_cleanup EXIT",
        ]
        for ns in namespaces { lines += ns.commands(namespace: name, script: true) }
        for (k, phase) in phases.enumerated() {
            lines.append("# phase \(k + 1): \(phase.name)")
            for batch in phase.batches {
                lines += batch.steps.map { $0.command(in: batch.node, namespace: name) }
            }
        }
        for f in firewalls {
            lines.append("# firewall in \(f.node)")
            var ruleset = f.ruleset
            if !ruleset.hasSuffix("\n") { ruleset += "\n" }
            lines.append("ip netns exec \(name(f.node)) nft -f - <<'NSLAB_RULESET'\n\(ruleset)NSLAB_RULESET")
        }
        lines += ["trap - EXIT", "echo \"lab \(lab) is up: \(all.joined(separator: " "))\""]
        return lines.joined(separator: "\n") + "\n"
    }

    private enum CodingKeys: String, CodingKey { case topology, namespaces, phases, firewalls }
}

/// A namespace, its sysctls (written at creation, before anything else) and its loopback.
public struct NamespaceSetup: Sendable, Hashable, Encodable {
    /// The node.
    public var node: String
    /// The plan step that creates it.
    public var planStep: Int
    /// Sysctls written right after creation: the deterministic defaults not declared, then the declared ones.
    public var sysctls: [ProgramSysctl]

    func commands(namespace: (String) -> String, script: Bool) -> [String] {
        let n = namespace(node)
        var lines = ["ip netns add \(n)"]
        if script { lines.append("created=\"$created \(n)\"") }
        for s in sysctls {
            let write = "ip netns exec \(n) sysctl \(script ? "-qw" : "-w") \(s.key)=\(s.value)"
            if s.optional {
                // Skipped where the kernel has no such knob (IPv6 knobs with ipv6.disable=1).
                let path = "/proc/sys/" + s.key.split(separator: ".", omittingEmptySubsequences: false).joined(separator: "/")
                lines.append(script ? "[ ! -e \(path) ] || \(write)" : "\(write)   # if \(path) exists")
            } else {
                lines.append(write)
            }
        }
        lines.append("ip -n \(n) link set lo up")
        return lines
    }
}

/// A sysctl of a whole namespace.
public struct ProgramSysctl: Sendable, Hashable, Encodable {
    /// The key as `sysctl` names it.
    public var key: String
    /// The value.
    public var value: String
    /// Skipped where the kernel has no such knob.
    public var optional: Bool
    /// The plan step that declares it; nil for NetnsKit's defaults.
    public var planStep: Int?
}

/// One phase: a batch of steps per namespace, sent namespace after namespace.
public struct BuildPhase: Sendable, Hashable, Encodable {
    /// What the phase does (`links`, `stacked links`, `interface sysctls`, …).
    public var name: String
    /// The batches, in namespace creation order.
    public var batches: [BuildBatch]
}

/// The steps of one phase in one namespace, sent as one pipelined write.
public struct BuildBatch: Sendable, Hashable, Encodable {
    /// The node.
    public var node: String
    /// The steps, in order.
    public var steps: [ProgramStep]
}

/// An nftables ruleset loaded into a node.
public struct FirewallLoad: Sendable, Hashable, Encodable {
    /// The node.
    public var node: String
    /// The ruleset, as `nft -f` reads it.
    public var ruleset: String
    /// The plan step.
    public var planStep: Int
}

/// One step of a batch: a planned operation as the builder sends it, or a change of an existing link.
public struct ProgramStep: Sendable, Hashable {
    /// The plan step it comes from (the declaration an error names).
    public var planStep: Int
    /// What to do.
    public var action: ProgramAction

    /// A step doing `action` for plan step `planStep`.
    public init(planStep: Int, action: ProgramAction) { self.planStep = planStep; self.action = action }

    /// The command that does the same, in the namespace `namespace(node)`.
    public func command(in node: String, namespace: (String) -> String = { $0 }) -> String {
        switch action {
        case .operation(let op, let up):
            return op.command(in: node, up: up, physical: true, namespace: namespace)
        case .setLink(let ifname, let up, let master, let alias):
            return "ip -n \(namespace(node)) link set \(ifname)" + (up ? " up" : "") + (master.map { " master \($0)" } ?? "")
                + (alias.map { " alias \"\($0)\"" } ?? "")
        }
    }

    /// The interfaces the step names (created or referred to), in the step's node unless said.
    public func interfaces(in node: String) -> [InterfaceRef] {
        func r(_ names: String?...) -> [InterfaceRef] { names.compactMap { $0.map { InterfaceRef(node, $0) } } }
        switch action {
        case .setLink(let ifname, _, let master, _): return r(ifname, master)
        case .operation(let op, _):
            switch op {
            case .createNamespace, .setSysctl, .loadFirewall: return []
            case .setInterfaceSysctl(let i, _, _), .linkUp(let i): return r(i)
            case .addVeth(let v): return r(v.name, v.master) + [InterfaceRef(v.peerNode, v.peerName)]
                + (v.peerMaster.map { [InterfaceRef(v.peerNode, $0)] } ?? [])
            case .addBridge(let b): return r(b.name)
            case .addVXLAN(let x): return r(x.name, x.underlayDevice, x.master)
            case .addMacvlan(let name, let parent, _, _), .addVLAN(let name, let parent, _): return r(name, parent)
            case .addDummy(let name, _): return r(name)
            case .addDevice(let name, let kind, _):
                if case .bond(let b) = kind { return r(name, b.primary) }
                return r(name, kind.parent)
            case .addTunnel(let t): return r(t.name, t.master)
            case .setMaster(let i, let m): return r(i, m)
            case .setBridgeVLAN(let p, _, _), .setBridgePort(let p, _): return r(p)
            case .addFDB(let f): return r(f.device)
            case .addAddress(let i, _, _, _, _), .addNeighbor(let i, _, _): return r(i)
            case .addRoute(let s), .removeRoute(let s): return r(s.device) + s.nexthops.flatMap { r($0.device) }
            case .addRule(let s): return r(s.iif, s.oif)
            case .addQdisc(let i, _, _, _): return r(i)
            }
        }
    }
}

extension BuildBatch {
    private enum CodingKeys: String, CodingKey { case node, steps }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(node, forKey: .node)
        var list = c.nestedUnkeyedContainer(forKey: .steps)
        for s in steps { try list.encode(StepInNode(step: s, node: node)) }
    }
}

/// A step encoded with its batch's node (the step's `command` and `interfaces` need it).
private struct StepInNode: Encodable {
    var step: ProgramStep
    var node: String
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(step.planStep, forKey: .planStep)
        switch step.action {
        case .operation(let op, let up):
            try c.encode(op.name, forKey: .operation)
            if up { try c.encode(true, forKey: .up) }
        case .setLink(_, let up, let master, let alias):
            try c.encode("setLink", forKey: .operation)
            if up { try c.encode(true, forKey: .up) }
            try c.encodeIfPresent(master, forKey: .master)
            try c.encodeIfPresent(alias, forKey: .alias)
        }
        try c.encode(step.command(in: node), forKey: .command)
        try c.encode(step.interfaces(in: node), forKey: .interfaces)
    }
    enum Keys: String, CodingKey { case planStep, operation, up, master, alias, command, interfaces }
}

/// What a program step does.
public enum ProgramAction: Sendable, Hashable {
    /// A planned operation as it is sent: a link creation with `up` when its `link set up` is
    /// folded into it; a veth without its peer's master and without aliases (set later), each
    /// end's MTU the other's when only one is declared.
    case operation(PlanOperation, up: Bool)
    /// Changes an existing link: brings it up, puts it into `master`, sets its alias
    /// (`ip link set IF up master M alias A`, one `RTM_NEWLINK`).
    case setLink(String, up: Bool, master: String?, alias: String?)
}

extension PlanOperation {
    /// The operation's name, as the `--json` program spells it (`addVeth`, `addRoute`, …).
    public var name: String {
        switch self {
        case .createNamespace: "createNamespace"
        case .setSysctl: "setSysctl"
        case .setInterfaceSysctl: "setInterfaceSysctl"
        case .linkUp: "linkUp"
        case .addVeth: "addVeth"
        case .addBridge: "addBridge"
        case .addVXLAN: "addVXLAN"
        case .addMacvlan: "addMacvlan"
        case .addVLAN: "addVLAN"
        case .addDummy: "addDummy"
        case .addDevice: "addDevice"
        case .addTunnel: "addTunnel"
        case .setMaster: "setMaster"
        case .setBridgeVLAN: "setBridgeVLAN"
        case .setBridgePort: "setBridgePort"
        case .addFDB: "addFDB"
        case .addAddress: "addAddress"
        case .addNeighbor: "addNeighbor"
        case .addRoute: "addRoute"
        case .addRule: "addRule"
        case .removeRoute: "removeRoute"
        case .addQdisc: "addQdisc"
        case .loadFirewall: "loadFirewall"
        }
    }
}

extension Plan {
    /// The deterministic defaults every namespace gets at creation, unless a node declares the
    /// key: no DAD anywhere (link-local addresses included), so nothing is ever tentative.
    public static let defaultSysctls = [ProgramSysctl(key: "net.ipv6.conf.all.accept_dad", value: "0", optional: true),
                                        ProgramSysctl(key: "net.ipv6.conf.default.accept_dad", value: "0", optional: true)]

    /// The names of the program's phases by number (see ``program()``).
    static let phaseNames = ["", "links", "stacked links", "interface sysctls", "masters, ups, addresses, routes"]

    /// The phase of an operation: 0 outside netlink (namespaces, their sysctls, firewalls),
    /// 1 links, 2 links stacked on others, 3 per-interface sysctls, 4 everything else.
    static func phase(_ op: PlanOperation) -> Int {
        switch op {
        case .createNamespace, .setSysctl, .loadFirewall: return 0
        case .addBridge, .addDummy, .addVeth: return 1
        // Devices after veths: an ipvlan needs its parent, a bond the ifindex of its primary port.
        case .addVLAN, .addMacvlan, .addVXLAN, .addTunnel, .addDevice: return 2
        // Once every link exists, before any address (accept_dad must be set before one is added).
        case .setInterfaceSysctl: return 3
        // Everything after link creation happens inside one namespace, in plan order, so it
        // goes out as one batch per namespace.
        case .setMaster, .setBridgeVLAN, .setBridgePort, .addFDB, .linkUp, .addAddress, .addNeighbor, .addRoute, .addRule,
             .removeRoute, .addQdisc:
            return 4
        }
    }

    /// The physical program of this plan: what the builder sends, in order (see ``BuildProgram``).
    ///
    /// Steps are grouped into phases by plan order: each run of consecutive steps of one phase
    /// number (see `phase(_:)`) is one program phase, sent as one batch per namespace. A link
    /// is created up when the plan brings it up, except a bond's port (a bond refuses a port
    /// that is up) and a link stacked on a parent that was not created up (a VLAN cannot be
    /// opened while its parent is down). A veth peer's master is set just before the first
    /// step that needs the port in its bridge (port VLANs, port flags, a master FDB entry),
    /// or else in the last phase, after every other request: until then the peer receives
    /// its peer's first IPv6 autoconf packets alone instead of the bridge flooding them into
    /// every other port while the build still runs. Aliases ride on the link's `up`, or
    /// come in that last phase.
    public func program() -> BuildProgram {
        let bondPorts = Set(steps.compactMap { s -> InterfaceRef? in
            guard case .setMaster(let port, let master) = s.operation,
                  steps.contains(where: { if case .addDevice(master, .bond, _) = $0.operation { $0.node == s.node } else { false } })
            else { return nil }
            return InterfaceRef(s.node, port)
        })
        let linkUps = Set(steps.compactMap { s -> InterfaceRef? in
            if case .linkUp(let n) = s.operation, n != "lo" { return InterfaceRef(s.node, n) }
            return nil
        }).subtracting(bondPorts)

        var declaredSysctls: [String: [ProgramSysctl]] = [:]
        for (j, d) in steps.enumerated() {
            if case .setSysctl(let k, let v) = d.operation {
                declaredSysctls[d.node, default: []].append(ProgramSysctl(key: k, value: v, optional: false, planStep: j))
            }
        }
        var namespaces: [NamespaceSetup] = []
        for (i, s) in steps.enumerated() {
            guard case .createNamespace = s.operation else { continue }
            let declared = declaredSysctls[s.node] ?? []
            let keys = Set(declared.map(\.key))
            namespaces.append(NamespaceSetup(node: s.node, planStep: i,
                                             sysctls: Self.defaultSysctls.filter { !keys.contains($0.key) } + declared))
        }
        let order = namespaces.map(\.node)

        var upAtCreation: Set<InterfaceRef> = []
        var pendingMaster: [InterfaceRef: (master: String, step: Int)] = [:]
        var pendingAlias: [InterfaceRef: (alias: String, step: Int)] = [:]
        var phases: [BuildPhase] = []
        var batches: [String: [ProgramStep]] = [:]
        func close(_ phase: Int) {
            let list = order.compactMap { n in batches[n].flatMap { $0.isEmpty ? nil : BuildBatch(node: n, steps: $0) } }
            if !list.isEmpty { phases.append(BuildPhase(name: Self.phaseNames[phase], batches: list)) }
            batches = [:]
        }

        var phase = 0
        for (i, s) in steps.enumerated() {
            let p = Self.phase(s.operation)
            if p == 0 { continue }
            if p != phase { close(phase); phase = p }
            let node = s.node
            func ref(_ name: String) -> InterfaceRef { InterfaceRef(node, name) }
            func emit(_ a: ProgramAction) { batches[node, default: []].append(ProgramStep(planStep: i, action: a)) }
            func upNow(_ name: String) -> Bool {
                if linkUps.contains(ref(name)) { upAtCreation.insert(ref(name)); return true }
                return false
            }
            func parentIsUp(_ parent: String) -> Bool { upAtCreation.contains(ref(parent)) }
            /// A veth peer's deferred master, for a step that needs the port in its bridge.
            func masterFirst(_ port: String) {
                if let m = pendingMaster.removeValue(forKey: ref(port)) {
                    emit(.setLink(port, up: false, master: m.master, alias: nil))
                }
            }
            switch s.operation {
            case .createNamespace, .setSysctl, .loadFirewall:
                continue
            case .addBridge(let b):
                emit(.operation(s.operation, up: upNow(b.name)))
            case .addDummy(let name, _):
                emit(.operation(s.operation, up: upNow(name)))
            case .addVeth(var v):
                let peer = InterfaceRef(v.peerNode, v.peerName)
                if let pm = v.peerMaster { pendingMaster[peer] = (pm, i) }
                if let a = v.alias { pendingAlias[ref(v.name)] = (a, i) }
                if let a = v.peerAlias { pendingAlias[peer] = (a, i) }
                v.peerMaster = nil; v.alias = nil; v.peerAlias = nil
                (v.mtu, v.peerMTU) = (v.mtu ?? v.peerMTU, v.peerMTU ?? v.mtu)
                emit(.operation(.addVeth(v), up: upNow(v.name)))
            case .addVLAN(let name, let parent, _), .addMacvlan(let name, let parent, _, _):
                emit(.operation(s.operation, up: parentIsUp(parent) && upNow(name)))
            case .addVXLAN(let x):
                emit(.operation(s.operation, up: upNow(x.name)))
            case .addTunnel(let t):
                emit(.operation(s.operation, up: upNow(t.name)))
            case .addDevice(let name, let kind, _):
                switch kind {
                case .tun, .tap:
                    // Created through /dev/net/tun: its `link up` stays a step of its own.
                    emit(.operation(s.operation, up: false))
                default:
                    emit(.operation(s.operation, up: kind.parent.map { parentIsUp($0) && upNow(name) } ?? upNow(name)))
                }
            case .setMaster(let ifname, _):
                pendingMaster[ref(ifname)] = nil
                emit(.operation(s.operation, up: false))
            case .setBridgeVLAN(let port, _, _), .setBridgePort(let port, _):
                masterFirst(port)
                emit(.operation(s.operation, up: false))
            case .addFDB(let f):
                if f.master { masterFirst(f.device) }
                emit(.operation(s.operation, up: false))
            case .linkUp(let ifname):
                if ifname == "lo" { continue }
                let up = !upAtCreation.contains(ref(ifname))
                let master = up ? nil : pendingMaster.removeValue(forKey: ref(ifname))?.master
                let alias = pendingAlias.removeValue(forKey: ref(ifname))?.alias
                if !up && master == nil && alias == nil { continue }
                emit(.setLink(ifname, up: up, master: master, alias: alias))
            case .setInterfaceSysctl, .addAddress, .addNeighbor, .addRoute, .addRule, .removeRoute, .addQdisc:
                emit(.operation(s.operation, up: false))
            }
        }
        close(phase)
        // Aliases that had no `link up` to ride on, then the veth peers' masters (see above).
        for (r, a) in pendingAlias.sorted(by: { $0.key < $1.key }) {
            batches[r.node, default: []].append(ProgramStep(planStep: a.step, action: .setLink(r.name, up: false, master: nil, alias: a.alias)))
        }
        for (r, m) in pendingMaster.sorted(by: { $0.key < $1.key }) {
            batches[r.node, default: []].append(ProgramStep(planStep: m.step, action: .setLink(r.name, up: false, master: m.master, alias: nil)))
        }
        let last = order.compactMap { n in batches[n].flatMap { $0.isEmpty ? nil : BuildBatch(node: n, steps: $0) } }
        if !last.isEmpty { phases.append(BuildPhase(name: pendingMaster.isEmpty ? "aliases" : "bridge ports", batches: last)) }

        let firewalls = steps.enumerated().compactMap { i, s -> FirewallLoad? in
            if case .loadFirewall(let r) = s.operation { return FirewallLoad(node: s.node, ruleset: r, planStep: i) }
            return nil
        }
        return BuildProgram(topology: topology.name, namespaces: namespaces, phases: phases, firewalls: firewalls)
    }
}

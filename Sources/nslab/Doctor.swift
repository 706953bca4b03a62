import ArgumentParser
import Foundation
import NetnsKit

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check what this machine allows: privileges, kernel features, tools.",
        discussion: """
            Probes link kinds and qdiscs by creating them in scratch anonymous namespaces (gone \
            at once). Each problem comes with its fix. Run unprivileged, it reports the missing \
            capabilities and probes from a user namespace of its own, as `nslab test`, `up` and \
            `bench` would build there. Exits 0 when labs can be built (with the capabilities or \
            rootless, and veth pairs work), 1 otherwise.
            """)

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: ArgumentHelp("Probe this kernel instead, inside a VM (an image such as /boot/vmlinuz-…, or a kernel build directory).", valueName: "path"))
    var kernel: String?

    @OptionGroup(title: "VM options (with --kernel)") var vm: VMOptions

    struct Problem: Codable {
        var problem: String
        var fix: String
    }

    struct Report: Codable {
        /// Rootless mode: "works", "not needed", or why it fails.
        var rootless: String
        var capabilities: String
        var capNetAdmin: Bool
        var capSysAdmin: Bool
        var inUserNamespace: Bool
        var container: String?
        var linkKinds: [KernelFeatures.Probe]
        var qdiscs: [KernelFeatures.Probe]
        var nftables: KernelFeatures.Probe?
        var runNetnsUsable: Bool
        var maxUserNamespaces: Int?
        var tools: [String: String?]
        var problems: [Problem]
        var canBuild: Bool
    }

    func run() throws {
        if let kernel, KernelChoice(kernel) != .host { return try runInVM(kernel) }
        let report = Self.examine()
        if json {
            print(try jsonText(report))
        } else {
            print(Self.text(report), terminator: "")
        }
        if !report.canBuild { throw ExitCode(1) }
    }

    static func examine() -> Report {
        var problems: [Problem] = []
        // Unprivileged, main() has already moved doctor into a user namespace (if it could):
        // report the user's own capabilities, and probe from inside, where nslab would build.
        let missing = unprivileged?.missing ?? Capabilities.missing()
        let netAdmin = !missing.contains(.netAdmin), sysAdmin = !missing.contains(.sysAdmin)
        let rootless: String
        if unprivileged == nil {
            rootless = "not needed (privileged)"
        } else if let why = rootlessFailure {
            rootless = "fails: \(why)"
            problems.append(Problem(problem: "missing \(missing.map(\.rawValue).joined(separator: " and ")), and rootless mode fails",
                                    fix: "run as root (sudo), or in a container add --cap-add NET_ADMIN --cap-add SYS_ADMIN, "
                                        + "or allow user namespaces (user.max_user_namespaces > 0)"))
        } else {
            rootless = "works: `nslab test`, `up` and `bench` run in a user namespace of their own"
        }
        let features = KernelFeatures.shared
        let links = KernelFeatures.linkKinds.map { features.link($0) }
        let qdiscs = KernelFeatures.qdiscKinds.map { features.qdisc($0) }
        let nft = which("nft") == nil ? nil : features.nftables()
        for l in links where !l.supported {
            if l.feature == "veth" {
                problems.append(Problem(problem: "veth pairs cannot be created: \(l.detail ?? "")",
                                        fix: "nslab needs CONFIG_VETH and the privileges above"))
            }
        }
        let runNetns = runNetnsUsable()
        if !runNetns {
            problems.append(Problem(problem: "\(NetworkNamespace.runDirectory) is not writable (needed by `nslab up`)",
                                    fix: "run as root; in a rootless user namespace also unshare a mount namespace (--mount)"))
        }
        let maxUserNS = (try? String(contentsOfFile: "/proc/sys/user/max_user_namespaces", encoding: .utf8))
            .flatMap { Int($0.trimmedText) }
        if let m = maxUserNS, m == 0 {
            problems.append(Problem(problem: "user namespaces are disabled (max_user_namespaces = 0): no rootless labs",
                                    fix: "sysctl -w user.max_user_namespaces=15000 (as root), or run nslab as root"))
        }
        var tools: [String: String?] = [:]
        for t in ["ip", "nft", "tc", "tcpdump", "ping"] {
            tools[t] = which(t)
            if tools[t]! == nil {
                let package = ["ip": "iproute2", "tc": "iproute2", "nft": "nftables", "tcpdump": "tcpdump", "ping": "iputils-ping"][t]!
                let use = ["ip": "nslab shell and the probes", "tc": "qdisc probes and checks", "nft": "firewall scenarios",
                           "tcpdump": "packet captures in a lab", "ping": "reachability checks"][t]!
                problems.append(Problem(problem: "\(t) is not installed (used by \(use))", fix: "apt-get install \(package)"))
            }
        }
        let veth = links.first { $0.feature == "veth" }?.supported ?? false
        return Report(rootless: rootless, capabilities: unprivileged?.text ?? Capabilities.text(),
                      capNetAdmin: netAdmin, capSysAdmin: sysAdmin,
                      inUserNamespace: unprivileged == nil && Capabilities.inUserNamespace, container: containerKind(),
                      linkKinds: links, qdiscs: qdiscs, nftables: nft, runNetnsUsable: runNetns,
                      maxUserNamespaces: maxUserNS, tools: tools, problems: problems,
                      canBuild: veth && (netAdmin && sysAdmin || rootlessFailure == nil))
    }

    static func text(_ r: Report) -> String {
        func mark(_ ok: Bool) -> String { ok ? "✔" : "✘" }
        var s = "Privileges\n"
        s += "  \(mark(r.capNetAdmin)) CAP_NET_ADMIN   \(mark(r.capSysAdmin)) CAP_SYS_ADMIN   (libcap: \(r.capabilities))\n"
        s += "  user namespace: \(r.inUserNamespace ? "yes (rootless)" : "no (initial)")\n"
        s += "  rootless mode: \(r.rootless)\n"
        s += "  container: \(r.container ?? "none detected")\n"
        s += "  user namespaces allowed: " + (r.maxUserNamespaces.map { $0 > 0 ? "yes (max \($0))" : "no" } ?? "unknown") + "\n"
        s += "  \(mark(r.runNetnsUsable)) \(NetworkNamespace.runDirectory) usable\n"
        s += "Link kinds\n"
        s += "  supported:   " + r.linkKinds.filter(\.supported).map(\.feature).joined(separator: " ") + "\n"
        s += "  unsupported: " + r.linkKinds.filter { !$0.supported }.map(\.feature).joined(separator: " ") + "\n"
        s += "Qdiscs\n"
        s += "  supported:   " + r.qdiscs.filter(\.supported).map { $0.feature.replacingOccurrences(of: " qdisc", with: "") }.joined(separator: " ") + "\n"
        s += "  unsupported: " + r.qdiscs.filter { !$0.supported }.map { $0.feature.replacingOccurrences(of: " qdisc", with: "") }.joined(separator: " ") + "\n"
        s += "nftables: " + (r.nftables.map { $0.supported ? "works" : "fails: \($0.detail ?? "")" } ?? "nft not installed") + "\n"
        s += "Tools\n"
        for (t, p) in r.tools.sorted(by: { $0.key < $1.key }) { s += "  \(mark(p != nil)) \(t)\(p.map { "  \($0)" } ?? "  (missing)")\n" }
        if r.problems.isEmpty {
            s += "No problems found.\n"
        } else {
            s += "Problems\n"
            for p in r.problems { s += "  ✘ \(p.problem)\n    fix: \(p.fix)\n" }
        }
        s += r.canBuild ? "Labs can be built here.\n" : "Labs cannot be built here until the problems above are fixed.\n"
        return s
    }

    /// Where `tool` is on PATH (plus the sbin directories), if anywhere.
    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"].map { $0 + ":" } ?? ""
        return Spawner.locate(tool, along: path + "/usr/sbin:/sbin:/usr/bin:/bin")
    }

    static func runNetnsUsable() -> Bool {
        let dir = NetworkNamespace.runDirectory
        if access(dir, F_OK) == 0 { return access(dir, W_OK) == 0 }
        return access("/run", W_OK) == 0
    }

    /// A guess at the container runtime, from the usual marks.
    static func containerKind() -> String? {
        if access("/.dockerenv", F_OK) == 0 { return "docker (/.dockerenv)" }
        if access("/run/.containerenv", F_OK) == 0 { return "podman (/run/.containerenv)" }
        if let c = ProcessInfo.processInfo.environment["container"], !c.isEmpty { return "\(c) ($container)" }
        if let cg = try? String(contentsOfFile: "/proc/1/cgroup", encoding: .utf8) {
            for mark in ["docker", "kubepods", "containerd", "lxc", "podman", "libpod"] where cg.contains(mark) {
                return "\(mark) (/proc/1/cgroup)"
            }
        }
        return nil
    }
}

extension Doctor {
    /// `--kernel`: `nslab doctor --json` inside that kernel's VM, reported as here.
    func runInVM(_ path: String) throws {
        let image = try KernelImage.check(path)
        let dir = try makeTemporaryDirectory("nslab-doctor")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var machine = try vm.machine(image)
        machine.writableDirectories.append(dir)
        let out = dir + "/report.json"
        let script = "\(shellQuote(selfExecutable())) doctor --json > \(shellQuote(out)) 2> \(shellQuote(dir + "/stderr")); echo $? > \(shellQuote(dir + "/status"))"
        let outcome = try machine.run(script) { _ in }
        guard let data = FileManager.default.contents(atPath: out), let report = try? JSONDecoder().decode(Report.self, from: data) else {
            let err = (try? String(contentsOfFile: dir + "/stderr", encoding: .utf8)) ?? ""
            throw NslabError("kernel \(path): `nslab doctor` in the VM printed no report (exit \(outcome.status))" + (err.isEmpty ? "" : ": \(err)"))
        }
        if json {
            struct InVM: Encodable { var kernel: String; var release: String?; var how: String; var report: Report }
            print(try jsonText(InVM(kernel: path, release: image.release, how: outcome.acceleration.rawValue, report: report)))
        } else {
            print("kernel \(path)" + (image.release.map { " (\($0))" } ?? "") + ", probed in a VM (\(outcome.acceleration.rawValue))")
            print(Self.text(report), terminator: "")
        }
        if !report.canBuild { throw ExitCode(1) }
    }
}

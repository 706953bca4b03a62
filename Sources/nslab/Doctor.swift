import ArgumentParser
import Foundation
import NetnsKit

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check what this machine allows: privileges, kernel features, tools.",
        discussion: """
            Probes link kinds, qdiscs and a sysctl write by trying them in scratch anonymous \
            namespaces (gone at once); says "not probed" when no such namespace can be made. In a \
            container it also reports seccomp, the security label, a read-only /proc/sys or /run, \
            and /dev/net/tun. Each problem comes with its cause and fix. Run unprivileged, it reports the missing \
            capabilities and probes from a user namespace of its own, as `nslab test`, `up` and \
            `bench` would build there. Exits 0 when labs can be built (with the capabilities or \
            rootless, with veth pairs and sysctl writes working), 1 otherwise.
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
        /// The `Seccomp:` mode of /proc/self/status (0 none, 2 a filter), if the kernel says.
        var seccomp: Int?
        /// The AppArmor or SELinux label, when the process is confined by one.
        var securityLabel: String?
        /// Why the kernel probes could not run (no scratch namespace), or nil when they ran.
        var notProbed: String?
        var linkKinds: [KernelFeatures.Probe]
        var qdiscs: [KernelFeatures.Probe]
        var nftables: KernelFeatures.Probe?
        /// Writing a sysctl in the scratch namespace, and the route it took.
        var sysctls: KernelFeatures.Probe
        var runNetnsUsable: Bool
        /// True when /run (or /run/netns) is on a read-only mount.
        var runReadOnly: Bool
        /// `/dev/net/tun`: "usable", "missing", or why it cannot be opened.
        var tunDevice: String
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
        let privileged = unprivileged == nil
        let rootless: String
        if privileged {
            rootless = "not needed (privileged)"
        } else if let why = rootlessFailure {
            rootless = "fails: \(why)"
            problems.append(Problem(problem: "missing \(missing.map(\.rawValue).joined(separator: " and ")), and rootless mode fails: \(why)",
                                    fix: why.fix ?? "run as root (sudo), or in a container add --cap-add NET_ADMIN --cap-add SYS_ADMIN"))
        } else {
            rootless = "works: `nslab test`, `up` and `bench` run in a user namespace of their own"
        }
        let features = KernelFeatures.shared
        let notProbed = features.notProbedReason
        let links = KernelFeatures.linkKinds.map { features.link($0) }
        let qdiscs = KernelFeatures.qdiscKinds.map { features.qdisc($0) }
        let nft = which("nft") == nil ? nil : features.nftables()
        let sysctls = features.sysctlWrites()
        if let why = notProbed {
            // A failed rootless mode is the cause, already listed with its fix.
            if rootlessFailure == nil {
                problems.append(Problem(problem: "the kernel was not probed: \(why)",
                                        fix: "run as root, or in a container add --cap-add NET_ADMIN --cap-add SYS_ADMIN"))
            }
        } else if let veth = links.first(where: { $0.feature == "veth" }), !veth.supported {
            problems.append(Problem(problem: "veth pairs cannot be created: \(veth.detail ?? "")",
                                    fix: "nslab needs CONFIG_VETH and the privileges above"))
        }
        if notProbed == nil && !sysctls.supported {
            problems.append(sysctlProblem(sysctls, privileged: privileged))
        }
        let runNetns = runNetnsUsable()
        let runRO = runReadOnly()
        if !runNetns {
            if runRO {
                problems.append(Problem(problem: "/run is read-only: `nslab up` cannot pin labs under \(NetworkNamespace.runDirectory) "
                                            + "nor record them in /run/nslab (`nslab test` does not need /run)",
                                        fix: privileged
                                            ? "give /run a writable tmpfs: docker/podman run --tmpfs /run …, or mount -t tmpfs tmpfs /run"
                                            : "run nslab rootless (it mounts a /run of its own), or give the container --tmpfs /run"))
            } else {
                problems.append(Problem(problem: "\(NetworkNamespace.runDirectory) is not writable (needed by `nslab up`)",
                                        fix: privileged
                                            ? "make /run writable for this user (or run as root)"
                                            : "run as root; in a rootless user namespace also unshare a mount namespace (--mount)"))
            }
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
        let veth = notProbed == nil && (links.first { $0.feature == "veth" }?.supported ?? false)
        return Report(rootless: rootless, capabilities: unprivileged?.text ?? Capabilities.text(),
                      capNetAdmin: netAdmin, capSysAdmin: sysAdmin,
                      inUserNamespace: privileged && Capabilities.inUserNamespace, container: containerKind(),
                      seccomp: Confinement.seccompMode, securityLabel: Confinement.securityLabel, notProbed: notProbed,
                      linkKinds: links, qdiscs: qdiscs, nftables: nft, sysctls: sysctls, runNetnsUsable: runNetns,
                      runReadOnly: runRO, tunDevice: tunDevice(), maxUserNamespaces: maxUserNS, tools: tools, problems: problems,
                      canBuild: veth && sysctls.supported && (netAdmin && sysAdmin || rootlessFailure == nil))
    }

    /// The cause and fix of a failed sysctl write in the scratch namespace.
    static func sysctlProblem(_ p: KernelFeatures.Probe, privileged: Bool) -> Problem {
        let detail = p.detail ?? "unknown error"
        switch p.errno {
        case .readOnlyFileSystem?:
            // NetnsKit already tried a proc of its own. That needs CAP_SYS_ADMIN over the mount and
            // PID namespaces the process is in, which nslab's own rootless user namespace never has.
            let unmask = "--security-opt systempaths=unconfined (podman: --security-opt unmask=/proc/sys)"
            if privileged {
                return Problem(problem: "sysctls cannot be written: /proc/sys is read-only (Docker's and Podman's default) and "
                                   + "nslab could not mount a proc of its own to write them: \(detail). Every lab sets sysctls, "
                                   + "so no lab can be built",
                               fix: "start the container with \(unmask)")
            }
            return Problem(problem: "sysctls cannot be written: /proc/sys is read-only (Docker's and Podman's default), and from "
                               + "nslab's rootless user namespace no proc of its own can be mounted. Every lab sets sysctls, "
                               + "so no lab can be built",
                           fix: "run nslab as root in a container started with --cap-add NET_ADMIN --cap-add SYS_ADMIN "
                               + "(it then writes them through a private proc), or start the container with \(unmask)")
        case .permissionDenied?, .notPermitted?:
            let label = Confinement.securityLabel
            return Problem(problem: "sysctls cannot be written: \(detail)"
                               + (label.map { " (the process is confined by the security label \($0))" } ?? ""),
                           fix: label.map { l in
                               l.contains(":") ? "let the container write /proc/sys: docker/podman run --security-opt label=disable …"
                                   : "let the container write /proc/sys: docker/podman run --security-opt apparmor=unconfined …"
                           } ?? "run nslab as root with CAP_NET_ADMIN")
        default:
            return Problem(problem: "sysctls cannot be written: \(detail)", fix: "see the error; every lab sets sysctls")
        }
    }

    static func text(_ r: Report) -> String {
        func mark(_ ok: Bool) -> String { ok ? "✔" : "✘" }
        var s = "Privileges\n"
        s += "  \(mark(r.capNetAdmin)) CAP_NET_ADMIN   \(mark(r.capSysAdmin)) CAP_SYS_ADMIN   (libcap: \(r.capabilities))\n"
        s += "  user namespace: \(r.inUserNamespace ? "yes (rootless)" : "no (initial)")\n"
        s += "  rootless mode: \(r.rootless)\n"
        s += "  container: \(r.container ?? "none detected")\n"
        s += "  seccomp: " + (r.seccomp.map { $0 == 2 ? "a filter is installed" : $0 == 0 ? "none" : "mode \($0)" } ?? "unknown") + "\n"
        if let l = r.securityLabel { s += "  security label: \(l)\n" }
        s += "  user namespaces allowed: " + (r.maxUserNamespaces.map { $0 > 0 ? "yes (max \($0))" : "no" } ?? "unknown") + "\n"
        s += "  \(mark(r.runNetnsUsable)) \(NetworkNamespace.runDirectory) usable" + (r.runReadOnly ? " (/run is read-only)" : "") + "\n"
        if let why = r.notProbed {
            s += "Kernel features: not probed (\(why))\n"
        } else {
            s += "Link kinds\n"
            s += "  supported:   " + r.linkKinds.filter(\.supported).map(\.feature).joined(separator: " ") + "\n"
            let missingKinds = r.linkKinds.filter { !$0.supported }.map(\.feature)
            s += "  unsupported: " + (missingKinds.isEmpty ? "none" : missingKinds.joined(separator: " ")) + "\n"
            s += "Qdiscs\n"
            s += "  supported:   " + r.qdiscs.filter(\.supported).map { $0.feature.replacingOccurrences(of: " qdisc", with: "") }.joined(separator: " ") + "\n"
            let missingQdiscs = r.qdiscs.filter { !$0.supported }.map { $0.feature.replacingOccurrences(of: " qdisc", with: "") }
            s += "  unsupported: " + (missingQdiscs.isEmpty ? "none" : missingQdiscs.joined(separator: " ")) + "\n"
            s += "nftables: " + (r.nftables.map { $0.supported ? "works" : "fails: \($0.detail ?? "")" } ?? "nft not installed") + "\n"
            s += "sysctls: " + (r.sysctls.supported ? "writable \(r.sysctls.detail ?? "")" : "cannot be written") + "\n"
        }
        s += "tun/tap: " + (r.tunDevice == "usable" ? "/dev/net/tun usable"
                            : "/dev/net/tun \(r.tunDevice): no tun/tap devices (addTunTap) (fix: docker/podman run --device /dev/net/tun …)") + "\n"
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

    /// True when /run/netns (or /run, if it has none) sits on a read-only mount.
    static func runReadOnly() -> Bool {
        var st = statvfs()
        let dir = access(NetworkNamespace.runDirectory, F_OK) == 0 ? NetworkNamespace.runDirectory : "/run"
        return statvfs(dir, &st) == 0 && st.f_flag & UInt(ST_RDONLY) != 0
    }

    /// Whether `/dev/net/tun` can be opened: "usable", "missing", or the error.
    static func tunDevice() -> String {
        let fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)
        if fd >= 0 { close(fd); return "usable" }
        let e = errno
        if e == ENOENT { return "missing" }
        return "not usable (\(String(cString: strerror(e))))"
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
        let run = try NslabRun.run(["doctor", "--json"], on: .image(path: path), vm: vm)
        guard let report = try? JSONDecoder().decode(Report.self, from: run.output) else {
            throw NslabError("kernel \(path): `nslab doctor` in the VM printed no report (exit \(run.status))"
                + (run.lastErrorLines.isEmpty ? "" : ": \(run.lastErrorLines)"))
        }
        if json {
            struct InVM: Encodable { var kernel: String; var release: String?; var how: String; var report: Report }
            print(try jsonText(InVM(kernel: path, release: image.release, how: run.how, report: report)))
        } else {
            print("kernel \(path)" + (image.release.map { " (\($0))" } ?? "") + ", probed in a VM (\(run.how))")
            print(Self.text(report), terminator: "")
        }
        if !report.canBuild { throw ExitCode(1) }
    }
}

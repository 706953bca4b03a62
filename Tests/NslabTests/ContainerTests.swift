import Foundation
import Testing

// `nslab doctor` and `nslab test` in containers as Docker and Podman start them by default,
// emulated with bubblewrap (the CI's .ci/containers.sh runs the whole catalogue the same way):
// a read-only root, tmpfs /run and /tmp, a fresh /proc and /dev, uid 0 with exactly Docker's 14
// default capabilities (effective and bounding set) plus the ones a test adds, and optionally
// a read-only /proc/sys, a read-only /run, or a seccomp filter that refuses unshare.

/// bubblewrap and capsh, when installed.
let bwrapPath = ["/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"].first { FileManager.default.isExecutableFile(atPath: $0) }
let capshPath = ["/usr/sbin/capsh", "/sbin/capsh", "/usr/bin/capsh"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// True in the initial user namespace (bubblewrap then makes a root container without a user namespace).
let inInitialUserNamespace: Bool = {
    let map = (try? String(contentsOfFile: "/proc/self/uid_map", encoding: .utf8)) ?? ""
    return map.split(whereSeparator: { $0 == " " || $0 == "\n" }) == ["0", "0", "4294967295"]
}()

let containerSkipReason: Comment? = {
    if bwrapPath == nil { return "bubblewrap is not installed (apt-get install bubblewrap)" }
    if capshPath == nil { return "capsh is not installed (apt-get install libcap2-bin)" }
    if !isRoot || !inInitialUserNamespace { return "emulating a root container needs root in the initial user namespace" }
    return nil
}()

/// An emulated container.
struct Container {
    /// Capabilities added to Docker's defaults, e.g. `["NET_ADMIN", "SYS_ADMIN"]`.
    var addCaps: [String] = []
    var readOnlyProcSys = false
    var readOnlyRun = false
    /// A seccomp filter refusing unshare, setns, mount, fsopen and fsmount with EPERM, as Docker's
    /// default profile does without CAP_SYS_ADMIN.
    var seccomp = false

    static let dockerCaps = ["CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
                             "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"]
    /// Capability names by number (linux/capability.h).
    static let allCaps = ["chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
                          "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
                          "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
                          "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
                          "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
                          "checkpoint_restore"]

    /// The seccomp filter as classic BPF for x86_64 (struct sock_filter: code, jt, jf, k).
    static let filter: [UInt8] = {
        let ins: [(UInt16, UInt8, UInt8, UInt32)] = [
            (0x20, 0, 0, 4),            // ld  seccomp_data.arch
            (0x15, 1, 0, 0xC000_003E),  // jeq AUDIT_ARCH_X86_64, skip 1
            (0x06, 0, 0, 0x7FFF_0000),  // ret ALLOW (another architecture)
            (0x20, 0, 0, 0),            // ld  seccomp_data.nr
            (0x15, 5, 0, 272),          // unshare -> deny
            (0x15, 4, 0, 308),          // setns   -> deny
            (0x15, 3, 0, 165),          // mount   -> deny
            (0x15, 2, 0, 430),          // fsopen  -> deny
            (0x15, 1, 0, 432),          // fsmount -> deny
            (0x06, 0, 0, 0x7FFF_0000),  // ret ALLOW
            (0x06, 0, 0, 0x0005_0001),  // ret ERRNO(EPERM)
        ]
        var b: [UInt8] = []
        for (code, jt, jf, k) in ins {
            b += [UInt8(code & 0xFF), UInt8(code >> 8), jt, jf]
            b += [UInt8(k & 0xFF), UInt8((k >> 8) & 0xFF), UInt8((k >> 16) & 0xFF), UInt8(k >> 24)]
        }
        return b
    }()

    /// Runs a command (`nslab` is the binary under test) inside the container.
    func run(_ command: [String]) throws -> Run {
        let lastCap = Int(((try? String(contentsOfFile: "/proc/sys/kernel/cap_last_cap", encoding: .utf8)) ?? "40")
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 40
        let keep = Set((Self.dockerCaps + addCaps).map { $0.lowercased() })
        let drop = Self.allCaps.prefix(lastCap + 1).filter { !keep.contains($0) }.map { "cap_\($0)" }
        // The binary's directory is bound in on top of the container's own /tmp: a checkout
        // under /tmp (as a CI clone may be) would otherwise vanish under that tmpfs.
        let dir = URL(fileURLWithPath: nslabPath).deletingLastPathComponent().path
        let inside = "/tmp/.nslab-under-test"
        var args = ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run",
                    "--ro-bind", dir, inside,
                    "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--die-with-parent", "--new-session",
                    "--setenv", "PATH", "\(inside):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "--cap-drop", "ALL"]
        if readOnlyProcSys { args += ["--ro-bind", "/proc/sys", "/proc/sys"] }
        if readOnlyRun { args += ["--remount-ro", "/run"] }
        for c in Self.dockerCaps + addCaps { args += ["--cap-add", "CAP_\(c)"] }
        var filterFile: URL?
        if seccomp {
            let f = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-seccomp-\(UUID().uuidString).bpf")
            try Data(Self.filter).write(to: f)
            filterFile = f
            args += ["--seccomp", "9"]
        }
        defer { if let f = filterFile { try? FileManager.default.removeItem(at: f) } }
        // capsh lowers the bounding set inside the container to the same capabilities.
        args += [capshPath!, "--drop=\(drop.joined(separator: ","))", "--", "-c", "exec \"$@\"", "sh"] + command
        // sh opens the filter on descriptor 9 for bwrap.
        return try run("/bin/sh", ["-c", "exec \"$0\" \"$@\" 9<\"$NSLAB_TEST_SECCOMP\"", bwrapPath!] + args,
                       environment: ["NSLAB_TEST_SECCOMP": filterFile?.path ?? "/dev/null"])
    }

    private func run(_ executable: String, _ args: [String], environment: [String: String]) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let dir = FileManager.default.temporaryDirectory
        let out = dir.appendingPathComponent("nslab-ctr-\(UUID().uuidString).out")
        let err = dir.appendingPathComponent("nslab-ctr-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: err) }
        let o = try FileHandle(forWritingTo: out), e = try FileHandle(forWritingTo: err)
        p.standardOutput = o
        p.standardError = e
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try o.close()
        try e.close()
        return Run(status: p.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}

@Suite(.enabled(if: containerSkipReason == nil, containerSkipReason ?? ""))
struct ContainerTests {
    /// The emulation is what it claims: Docker's capabilities as effective and bounding set, and
    /// a /proc/sys that refuses writes.
    @Test func emulationHasDockersCapabilitiesAndReadOnlyProcSys() throws {
        let r = try Container(addCaps: ["NET_ADMIN", "SYS_ADMIN"], readOnlyProcSys: true)
            .run(["sh", "-c", "grep -E '^Cap(Eff|Bnd)' /proc/self/status; echo 1 >/proc/sys/net/ipv4/ip_forward"])
        #expect(r.stdout.contains("CapEff:\t00000000a82435fb") && r.stdout.contains("CapBnd:\t00000000a82435fb"), "\(r)")
        #expect(r.status != 0 && r.stderr.contains("Read-only file system"), "\(r)")
    }

    /// Docker's default read-only /proc/sys with --cap-add NET_ADMIN --cap-add SYS_ADMIN: doctor
    /// says sysctls go through a private proc, and labs really build.
    @Test func readOnlyProcSysWithSysAdminWorks() throws {
        let c = Container(addCaps: ["NET_ADMIN", "SYS_ADMIN"], readOnlyProcSys: true)
        let doctor = try c.run(["nslab", "doctor"])
        #expect(doctor.status == 0 && doctor.stdout.contains("sysctls: writable through a private proc"), "\(doctor)")
        #expect(doctor.stdout.contains("No problems found."), "\(doctor)")
        let test = try c.run(["nslab", "test", "router", "dual-stack"])
        #expect(test.status == 0 && test.stdout.contains("2 passed, 0 failed"), "\(test)")
    }

    /// Rootless under a read-only /proc/sys: no proc of its own can be mounted, and doctor says
    /// so with the fix, instead of "No problems found".
    @Test func doctorExplainsReadOnlyProcSysRootless() throws {
        let r = try Container(readOnlyProcSys: true).run(["nslab", "doctor"])
        #expect(r.status == 1, "\(r)")
        #expect(r.stdout.contains("sysctls cannot be written: /proc/sys is read-only"), "\(r)")
        #expect(r.stdout.contains("--security-opt systempaths=unconfined") && r.stdout.contains("unmask=/proc/sys"), "\(r)")
        #expect(!r.stdout.contains("No problems found"), "\(r)")
        // And a build fails with the same explanation, not a bare EROFS.
        let t = try Container(readOnlyProcSys: true).run(["nslab", "test", "two-hosts"])
        #expect(t.status != 0 && (t.stdout + t.stderr).contains("systempaths=unconfined"), "\(t)")
    }

    /// A seccomp filter refusing unshare: doctor names it with its fix, says the kernel was not
    /// probed, and blames neither the kernel config nor the user namespace limit.
    @Test func doctorNamesSeccomp() throws {
        let r = try Container(seccomp: true).run(["nslab", "doctor"])
        #expect(r.status == 1, "\(r)")
        #expect(r.stdout.contains("seccomp: a filter is installed"), "\(r)")
        #expect(r.stdout.contains("a seccomp filter refuses unshare") && r.stdout.contains("--security-opt seccomp=unconfined"), "\(r)")
        #expect(r.stdout.contains("Kernel features: not probed"), "\(r)")
        #expect(!r.stdout.contains("CONFIG_VETH") && !r.stdout.contains("max_user_namespaces and"), "\(r)")
        #expect(!r.stdout.contains("unsupported: "), "\(r)")
        let t = try Container(seccomp: true).run(["nslab", "test", "two-hosts"])
        #expect(t.status != 0 && t.stderr.contains("seccomp=unconfined"), "\(t)")
    }

    /// A read-only /run as root: the fix is a tmpfs on /run, not "run as root".
    @Test func doctorReadOnlyRunFitsRoot() throws {
        let r = try Container(addCaps: ["NET_ADMIN", "SYS_ADMIN"], readOnlyRun: true).run(["nslab", "doctor"])
        #expect(r.stdout.contains("/run is read-only") && r.stdout.contains("--tmpfs /run"), "\(r)")
        #expect(!r.stdout.contains("fix: run as root"), "\(r)")
        // `nslab test` does not need /run.
        let t = try Container(addCaps: ["NET_ADMIN", "SYS_ADMIN"], readOnlyRun: true).run(["nslab", "test", "router"])
        #expect(t.status == 0, "\(t)")
    }

    /// doctor reports whether /dev/net/tun is there (a container's /dev has none by default).
    @Test func doctorReportsTun() throws {
        let r = try Container(addCaps: ["NET_ADMIN", "SYS_ADMIN"]).run(["nslab", "doctor"])
        #expect(r.stdout.contains("tun/tap: /dev/net/tun missing") && r.stdout.contains("--device /dev/net/tun"), "\(r)")
        let host = try nslab("doctor")
        let expected = FileManager.default.fileExists(atPath: "/dev/net/tun") ? "tun/tap: /dev/net/tun usable" : "tun/tap: /dev/net/tun missing"
        #expect(host.stdout.contains(expected), "\(host)")
    }
}

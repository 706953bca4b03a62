import Foundation
import CNetlink
import Glibc
@testable import Namespaces
import Testing

// Sysctls under a read-only /proc/sys, as Docker and Podman mount it by default. The host's
// /proc/sys is never touched: the parent test starts this test binary again in a private mount
// namespace (`unshare --mount --propagation private`) where /proc/sys is bind-mounted read-only,
// and the child half checks the writes there.

/// The child half: runs only when started by `writtenThroughAPrivateProcWhenProcSysIsReadOnly`.
@Test func readOnlyProcSysChild() throws {
    guard let mode = ProcessInfo.processInfo.environment["NK_ROPROCSYS_CHILD"] else { return }
    // The condition under test really holds: /proc/sys refuses writes here.
    let probe = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC)
    let probeErrno = errno
    if probe >= 0 { close(probe) }
    try #require(probe < 0 && probeErrno == EROFS, "/proc/sys is not read-only in the child (errno \(probeErrno))")
    let homeTTL = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_default_ttl", encoding: .utf8)
    let mountsBefore = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)

    PrivateProc.forceMountNamespace = mode == "mount-namespace"
    let ns = try NetworkNamespace.create(label: "ro-procsys", sysctls: [
        SysctlWrite("net.ipv4.ip_forward", "1"),
        SysctlWrite("net.ipv4.ip_default_ttl", "77"),
        SysctlWrite("net.ipv6.conf.default.accept_dad", "0"),
    ])
    defer { ns.close() }
    let other = try NetworkNamespace.create(label: "ro-procsys-other")
    defer { other.close() }
    #expect(try ns.sysctl("net.ipv4.ip_forward") == "1")
    #expect(try ns.sysctl("net.ipv4.ip_default_ttl") == "77")
    #expect(try ns.sysctl("net.ipv6.conf.default.accept_dad") == "0")
    // After creation too, and each write lands in its own namespace only.
    try ns.setSysctl("net.ipv4.ip_default_ttl", "78")
    try other.setSysctl("net.ipv4.ip_default_ttl", "79")
    #expect(try ns.sysctl("net.ipv4.ip_default_ttl") == "78")
    #expect(try other.sysctl("net.ipv4.ip_default_ttl") == "79")
    #expect(try other.sysctl("net.ipv4.ip_forward") == "0")
    // The home namespace (the host's, in this child) is untouched.
    #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/ip_default_ttl", encoding: .utf8) == homeTTL)
    let expected = mode == "mount-namespace" ? "a private proc (private mount namespace)" : "a private proc (detached mount)"
    #expect(NetworkNamespace.sysctlWriteRoute == expected)
    // The private proc added no mount anywhere the process can see.
    #expect(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) == mountsBefore)
    print("CHILD CHECKED \(mode)")
}

@Suite(.serialized, .enabled(if: canCreateNamespaces, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root or in a user namespace)"))
struct ReadOnlyProcSysTests {
    /// Runs the child half of the test in a private mount namespace with /proc/sys read-only.
    static func runChild(_ mode: String) throws -> (status: Int32, output: String) {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        p.arguments = ["--mount", "--propagation", "private", "sh", "-c",
                       "mount --bind -o ro /proc/sys /proc/sys && exec \"$0\" --testing-library swift-testing --filter readOnlyProcSysChild",
                       exe]
        var env = ProcessInfo.processInfo.environment
        env["NK_ROPROCSYS_CHILD"] = mode
        p.environment = env
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("nk-roprocsys-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        let h = try FileHandle(forWritingTo: out)
        p.standardOutput = h
        p.standardError = h
        try p.run()
        p.waitUntilExit()
        try h.close()
        return (p.terminationStatus, (try? String(contentsOf: out, encoding: .utf8)) ?? "")
    }

    /// Root with CAP_SYS_ADMIN under a read-only /proc/sys: the sysctls are written through a
    /// private proc, by either method, in the right namespaces.
    @Test(.enabled(if: !Capabilities.inUserNamespace, "a user namespace cannot mount a proc of its own; see the next test"),
          arguments: ["detached-mount", "mount-namespace"])
    func writtenThroughAPrivateProcWhenProcSysIsReadOnly(_ mode: String) throws {
        // Our mounts under /proc (the rest of the table changes while other tests pin labs).
        func procMounts() throws -> [String] {
            try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).split(separator: "\n").filter { line in
                let fields = line.split(separator: " ")
                return fields.count > 4 && fields[4].hasPrefix("/proc")
            }.map(String.init)
        }
        let hostMounts = try procMounts()
        let r = try Self.runChild(mode)
        #expect(r.status == 0 && r.output.contains("CHILD CHECKED \(mode)"), "\(r.output)")
        // The read-only bind stayed in the child's private mount namespace.
        #expect(try procMounts() == hostMounts)
    }

    /// In a user namespace no proc can be mounted: the write fails with EROFS, and the error
    /// says why and how to fix the container.
    @Test(.enabled(if: Capabilities.inUserNamespace, "runs in a user namespace (the rootless CI step)"))
    func rootlessWriteExplainsTheFix() throws {
        let r = try Self.runChild("rootless")
        #expect(r.status != 0, "\(r.output)")
        #expect(r.output.contains("Read-only file system (EROFS)") && r.output.contains("systempaths=unconfined"), "\(r.output)")
    }
}

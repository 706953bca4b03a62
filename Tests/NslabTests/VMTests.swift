import Foundation
import Testing

/// `nslab vm`, `nslab test --kernel` and `nslab doctor --kernel` when things go wrong: bad
/// kernels, missing tools, a QEMU that hangs. (The real VM runs are in CI: `.ci/run` runs the
/// catalogue and the kernel tests under Debian's packaged kernel.)
@Suite struct VMTests {
    static let vngInstalled = ProcessInfo.processInfo.environment["PATH"].map { path in
        path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/vng") }
    } ?? false

    /// A stand-in for QEMU that never boots anything, named uniquely so the test can prove it is gone.
    static func hangingQEMU() throws -> (path: String, name: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-vmtest-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let name = "qemu-hang-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        let path = dir.appendingPathComponent(name).path
        try "#!/bin/sh\nexec sleep 600\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return (path, name)
    }

    /// Processes whose command line mentions `text` (pgrep -f).
    static func running(_ text: String) throws -> String {
        try run("/usr/bin/pgrep", ["-af", text]).stdout
    }

    /// A kernel image the tests can name: the packaged one if installed, else any file that has a bzImage header.
    static var someKernel: String? {
        let boot = (try? FileManager.default.contentsOfDirectory(atPath: "/boot")) ?? []
        return boot.filter { $0.hasPrefix("vmlinuz-") }.sorted().last.map { "/boot/\($0)" }
    }

    @Test func missingKernelIsOneClearError() throws {
        let r = try run(nslabPath, ["vm", "--kernel", "/no/such/vmlinuz", "--", "true"])
        #expect(r.status != 0, "\(r)")
        #expect(r.stderr.contains("nslab: error: kernel /no/such/vmlinuz: no such file"), "\(r)")
    }

    @Test func aFileThatIsNotAKernelIsRefused() throws {
        let r = try run(nslabPath, ["vm", "--kernel", "/etc/hostname", "--", "true"])
        #expect(r.status != 0, "\(r)")
        #expect(r.stderr.contains("kernel /etc/hostname: not a kernel image"), "\(r)")
    }

    @Test func noCommandIsAUsageError() throws {
        let r = try run(nslabPath, ["vm", "--kernel", "/etc/hostname"])
        #expect(r.status == 64, "\(r)")
        #expect(r.stderr.contains("no command to run"), "\(r)")
    }

    @Test(.enabled(if: someKernel != nil, "no kernel image under /boot (apt-get install linux-image-amd64)"))
    func missingVirtmeNGNamesThePackage() throws {
        let r = try run("/usr/bin/env", ["PATH=/nonexistent", nslabPath, "vm", "--kernel", Self.someKernel!, "--", "true"])
        #expect(r.status != 0, "\(r)")
        #expect(r.stderr.contains("virtme-ng is not installed"), "\(r)")
        #expect(r.stderr.contains("pip install virtme-ng"), "\(r)")
    }

    @Test(.enabled(if: vngInstalled && someKernel != nil, "needs virtme-ng (pip install virtme-ng) and a kernel under /boot"))
    func aHungGuestIsKilledAndReported() throws {
        let qemu = try Self.hangingQEMU()
        let start = Date()
        let r = try run(nslabPath, ["vm", "--kernel", Self.someKernel!, "--qemu", qemu.path, "--boot-timeout", "2", "--", "true"])
        #expect(r.status != 0, "\(r)")
        #expect(r.stderr.contains("the VM did not reach its init within 2 s (software emulation); QEMU was killed"), "\(r)")
        // KVM first where /dev/kvm opens, then software emulation by itself.
        let kvm = open("/dev/kvm", O_RDWR)
        if kvm >= 0 {
            close(kvm)
            #expect(r.stderr.contains("starting again under software emulation"), "\(r)")
        }
        #expect(Date().timeIntervalSince(start) < 60)
        usleep(300_000)
        #expect(try Self.running(qemu.name).isEmpty, "the stand-in QEMU is still running")
    }

    @Test(.enabled(if: vngInstalled && someKernel != nil, "needs virtme-ng (pip install virtme-ng) and a kernel under /boot"))
    func matrixReportsTheOtherKernelsWhenOneFails() throws {
        let qemu = try Self.hangingQEMU()
        let r = try run(nslabPath, ["test", "--kernel", "/no/such/kernel", "--kernel", Self.someKernel!, "--kernel", "host",
                                    "--qemu", qemu.path, "--boot-timeout", "2", "two-hosts", "--json"])
        #expect(r.status == 1, "\(r)")
        struct Column: Decodable { var kernel: String; var error: String?; var results: [Result] }
        struct Result: Decodable { var name: String; var status: String }
        struct Summary: Decodable { var kernels: [Column]; var failed: Int }
        let s = try JSONDecoder().decode(Summary.self, from: Data(r.stdout.utf8))
        #expect(s.kernels.map(\.kernel) == ["/no/such/kernel", Self.someKernel!, "host"])
        #expect(s.kernels[0].error?.contains("no such file") == true, "\(r)")
        #expect(s.kernels[1].error?.contains("did not reach its init") == true, "\(r)")
        let host = s.kernels[2]
        #expect(host.error == nil)
        #expect(host.results.map(\.status) == ["PASS"], "\(r)")
        #expect(s.failed == 2)
        #expect(try Self.running(qemu.name).isEmpty, "the stand-in QEMU is still running")
    }

    @Test func matrixTableHasAColumnPerKernel() throws {
        let r = try run(nslabPath, ["test", "--kernel", "host", "--kernel", "/no/such/kernel", "two-hosts"])
        #expect(r.status == 1, "\(r)")
        let header = r.stdout.split(separator: "\n").first.map(String.init) ?? ""
        #expect(header.hasPrefix("SCENARIO"), "\(r)")
        #expect(header.contains("host "), "\(r)")
        #expect(r.stdout.contains("two-hosts"), "\(r)")
        #expect(r.stdout.contains("✘ kernel /no/such/kernel: no such file"), "\(r)")
        #expect(r.stdout.contains("1 passed, 1 failed, 0 skipped"), "\(r)")
    }
}

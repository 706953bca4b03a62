import ArgumentParser
import Foundation
import NetnsKit

/// A kernel to run under: the running one, or a kernel image booted in a VM.
enum KernelChoice: Equatable {
    case host
    case image(path: String)

    init(_ argument: String) { self = argument == "host" ? .host : .image(path: argument) }

    /// How the kernel is named in reports: `host` or the image's path.
    var label: String {
        switch self {
        case .host: "host"
        case .image(let path): path
        }
    }
}

/// A kernel image given with `--kernel`, checked before anything boots.
struct KernelImage {
    /// The path as given (vng also takes a kernel build directory).
    var path: String
    /// The version string in the image's header (`6.1.0-57-amd64 (debian-kernel@…) #1 SMP …`),
    /// when it has one.
    var version: String?

    /// The release (`6.1.0-57-amd64`): the first word of ``version``.
    var release: String? { version.map { String($0.prefix { $0 != " " }) } }

    /// Checks that `path` is a kernel: an x86 bzImage (its `HdrS` setup header), an ELF
    /// `vmlinux`, or a kernel build directory; anything else is a clear error naming it.
    static func check(_ path: String) throws -> KernelImage {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw NslabError("kernel \(path): no such file", hint: "give a kernel image such as /boot/vmlinuz-$(uname -r), a kernel build directory, or `host`")
        }
        if isDirectory.boolValue {
            let image = (path as NSString).appendingPathComponent("arch/x86/boot/bzImage")
            guard FileManager.default.fileExists(atPath: image) else {
                throw NslabError("kernel \(path): a directory without arch/x86/boot/bzImage",
                                 hint: "build the kernel first (`vng --build`), or give the image itself")
            }
            return KernelImage(path: path, version: try? check(image).version)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw NslabError("kernel \(path): cannot be read", hint: "kernel images under /boot are often root-only: run as root")
        }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 0x1000)) ?? Data())
        if head.count >= 4, head[0..<4].elementsEqual([0x7f, 0x45, 0x4c, 0x46]) { // ELF: an uncompressed vmlinux
            return KernelImage(path: path, version: nil)
        }
        guard head.count >= 0x210, head[0x202..<0x206].elementsEqual(Array("HdrS".utf8)) else {
            throw NslabError("kernel \(path): not a kernel image (no bzImage header, not ELF)",
                             hint: "give a kernel image such as /boot/vmlinuz-$(uname -r), a kernel build directory, or `host`")
        }
        // The setup header's kernel_version field: offset of the version string, minus 0x200.
        let offset = Int(head[0x20e]) | Int(head[0x20f]) << 8
        var version: String?
        if offset > 0 {
            try? handle.seek(toOffset: UInt64(offset + 0x200))
            if let bytes = try? handle.read(upToCount: 256) {
                let text = bytes.prefix { $0 != 0 }
                version = String(decoding: text, as: UTF8.self)
            }
        }
        return KernelImage(path: path, version: version?.isEmpty == false ? version : nil)
    }
}

/// Boots a kernel in a VM with virtme-ng (`vng`) over a read-only snapshot of this machine's
/// files, runs one shell command as root inside it, streams its output and returns its status.
///
/// KVM is tried first where `/dev/kvm` can be opened; a guest that has not reached its init
/// within ``kvmWait`` seconds counts as hung (nested virtualization often hangs at boot) and
/// the run starts again under software emulation (TCG), which is slow but works everywhere.
struct VirtualMachine {
    enum Acceleration: String, Codable {
        case kvm
        case tcg = "software emulation"
    }

    struct Outcome {
        var status: Int32
        var acceleration: Acceleration
        /// Seconds from start to the guest's init (both attempts when KVM fell back).
        var bootSeconds: Double
    }

    var kernel: KernelImage
    var memory = "2G"
    var cpus = 2
    /// Seconds a guest under software emulation may take to reach its init.
    var bootTimeout = 300.0
    /// Seconds a KVM guest may take to reach its init before it counts as hung.
    var kvmWait = 15.0
    /// Seconds the command may run once the guest is up (nil: no limit).
    var timeout: Double?
    /// Host directories the guest may write (everything else is a read-only snapshot).
    var writableDirectories: [String] = []
    /// The QEMU binary (nil: vng's choice).
    var qemu: String?
    /// Whether to try KVM at all (nil: where /dev/kvm opens).
    var useKVM: Bool?

    /// The line the guest prints first, so the host knows its init was reached.
    static let marker = "\u{1e}nslab-guest-up"

    /// Finds `vng` and QEMU, or says which package to install.
    static func checkTools(qemu: String?) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard let vng = Spawner.locate("vng", along: path) else {
            throw NslabError("virtme-ng is not installed (no `vng` on PATH)",
                             hint: "pip install virtme-ng   (and apt-get install qemu-system-x86 for QEMU)", code: 69)
        }
        let q = qemu ?? "qemu-system-x86_64"
        if Spawner.locate(q, along: path) == nil {
            throw NslabError("QEMU is not installed (no `\(q)` on PATH)", hint: "apt-get install qemu-system-x86", code: 69)
        }
        return vng
    }

    static var kvmUsable: Bool {
        let fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        if fd < 0 { return false }
        close(fd)
        return true
    }

    /// Runs `script` (a shell command line) in the guest; `output` gets the guest's output as
    /// it comes (the boot messages before the guest's init are kept back, and shown only if
    /// the boot fails).
    func run(_ script: String, output: (ArraySlice<UInt8>) -> Void) throws -> Outcome {
        let vng = try Self.checkTools(qemu: qemu)
        let start = monotonicNow()
        if useKVM ?? Self.kvmUsable {
            switch try attempt(vng: vng, script: script, kvm: true, bootWait: min(kvmWait, bootTimeout), output: output) {
            case .finished(let status):
                return Outcome(status: status, acceleration: .kvm, bootSeconds: monotonicNow() - start)
            case .hung:
                standardError("nslab: the KVM guest did not reach its init within \(Int(min(kvmWait, bootTimeout))) s; "
                              + "starting again under software emulation\n")
            case .failedToBoot(_, let log):
                let why = String(decoding: log, as: UTF8.self).split(separator: "\n").last { $0.contains("error") }
                standardError("nslab: KVM failed (\(why.map { $0.trimmingCharacters(in: .whitespaces) } ?? "QEMU exited before the guest ran"));"
                              + " starting again under software emulation\n")
            }
        }
        switch try attempt(vng: vng, script: script, kvm: false, bootWait: bootTimeout, output: output) {
        case .finished(let status):
            return Outcome(status: status, acceleration: .tcg, bootSeconds: monotonicNow() - start)
        case .failedToBoot(let status, let log):
            // vng or QEMU gave up before the guest ran anything: its own words say why.
            throw NslabError("kernel \(kernel.path): the VM did not boot (vng exited with status \(status))" + Self.tail(log),
                             hint: Self.hint(for: log))
        case .hung(let log):
            throw NslabError("kernel \(kernel.path): the VM did not reach its init within \(Int(bootTimeout)) s (software emulation); QEMU was killed"
                             + Self.tail(log),
                             hint: Self.hint(for: log) ?? "a larger --boot-timeout helps on a loaded machine, a larger --memory (now \(memory)) "
                                 + "if the guest is short of it; `vng --verbose --run \(kernel.path) --memory \(memory)` shows the boot")
        }
    }

    private enum Attempt {
        case finished(Int32)
        case hung(log: [UInt8])
        case failedToBoot(Int32, log: [UInt8])
    }

    private func attempt(vng: String, script: String, kvm: Bool, bootWait: Double,
                         output: (ArraySlice<UInt8>) -> Void) throws -> Attempt {
        var argv = [vng, "--run", kernel.path, "--memory", memory, "--cpus", "\(cpus)"]
        if !kvm { argv.append("--disable-kvm") }
        if let qemu { argv += ["--qemu", qemu] }
        for d in writableDirectories { argv += ["--rwdir", d] }
        // `nslab` anywhere in the command is this nslab; the command may open as many files as
        // it could here (the guest's init leaves 1024, too few for the test suite).
        let selfDirectory = (selfExecutable() as NSString).deletingLastPathComponent
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let files = limit.rlim_cur == rlim_t.max ? "unlimited" : "\(limit.rlim_cur)"
        argv += ["--exec", "printf '\\n%s\\n' '\(Self.marker)'; PATH=\(shellQuote(selfDirectory)):$PATH; export PATH; "
                 + "ulimit -n \(files) 2>/dev/null; \(script)"]
        let child = try Spawner.startStreaming(argv)
        VMSupervision.started(child.pid)
        defer { VMSupervision.finished(child.pid) }
        defer { close(child.output) }

        let started = monotonicNow()
        var booted = false
        var bootLog: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var fds = [pollfd(fd: child.output, events: Int16(POLLIN), revents: 0)]
        var commandStart = 0.0
        while true {
            let now = monotonicNow()
            if !booted && now - started > bootWait {
                VMSupervision.kill(child.pid)
                _ = Spawner.wait(child.pid)
                return .hung(log: bootLog)
            }
            if booted, let timeout, now - commandStart > timeout {
                VMSupervision.kill(child.pid)
                _ = Spawner.wait(child.pid)
                throw NslabError("kernel \(kernel.path): the command did not finish within \(Int(timeout)) s; QEMU was killed", code: 124)
            }
            let n = poll(&fds, 1, 250)
            if n < 0 { if errno == EINTR { continue }; break }
            if n == 0 { continue }
            let r = buffer.withUnsafeMutableBytes { read(child.output, $0.baseAddress, $0.count) }
            if r < 0 { if errno == EINTR || errno == EAGAIN { continue }; break }
            if r == 0 { break }
            if booted {
                output(buffer[0..<r])
                continue
            }
            bootLog += buffer[0..<r]
            if let range = Self.find(Array(Self.marker.utf8) + [UInt8(ascii: "\n")], in: bootLog) {
                booted = true
                commandStart = monotonicNow()
                var rest = bootLog[range.upperBound...]
                if rest.first == UInt8(ascii: "\r") { rest = rest.dropFirst() }
                if !rest.isEmpty { output(rest) }
            }
        }
        let status = Spawner.wait(child.pid)
        if !booted { return .failedToBoot(status, log: bootLog) }
        if status != 0, let why = Self.guestTrouble(bootLog) {
            standardError("nslab: kernel \(kernel.path): \(why)\n")
        }
        return .finished(status)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard needle.count <= haystack.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i..<(i + needle.count) }
        }
        return nil
    }

    /// The last lines of what vng/QEMU printed, indented, for an error message.
    static func tail(_ log: [UInt8], lines: Int = 12) -> String {
        let text = String(decoding: log, as: UTF8.self).replacingOccurrences(of: "\r", with: "")
        let kept = text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines)
        if kept.isEmpty { return "" }
        return "; its last output:\n" + kept.map { "    \($0)" }.joined(separator: "\n")
    }

    static func hint(for log: [UInt8]) -> String? {
        let text = String(decoding: log, as: UTF8.self)
        if text.contains("Out of memory") || text.contains("oom-kill") { return "the guest ran out of memory: give it more with --memory" }
        if text.contains("Kernel panic") { return "the guest kernel panicked: see its output above" }
        if text.contains("not found") && text.contains("qemu") { return "apt-get install qemu-system-x86" }
        return nil
    }

    /// What the console says went wrong in the guest, if it says (out of memory, a panic).
    static func guestTrouble(_ log: [UInt8]) -> String? {
        let text = String(decoding: log, as: UTF8.self)
        if text.contains("Out of memory") || text.contains("oom-kill") { return "the guest ran out of memory (give it more with --memory)" }
        if text.contains("Kernel panic") { return "the guest kernel panicked" }
        return nil
    }

    /// `argv` as one shell command line.
    static func shellLine(_ argv: [String]) -> String {
        argv.map(shellQuote).joined(separator: " ")
    }
}

func shellQuote(_ s: String) -> String {
    if !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// The VM processes this nslab started: killed (their whole process group) when nslab is
/// interrupted, terminated or hung up, and by a watchdog if nslab itself is killed.
enum VMSupervision {
    nonisolated(unsafe) static var groups: [pid_t] = []
    nonisolated(unsafe) static var watchdogs: [pid_t: pid_t] = [:]
    nonisolated(unsafe) static var installed = false

    static func started(_ pid: pid_t) {
        groups.append(pid)
        if !installed {
            installed = true
            for sig in [SIGINT, SIGTERM, SIGHUP] {
                signal(sig) { s in
                    for g in VMSupervision.groups { Glibc.kill(-g, SIGKILL) }
                    _exit(128 + s)
                }
            }
        }
        // A watchdog outside the VM's process group: if nslab dies by SIGKILL (no handler
        // runs), it kills the group.
        let script = "while kill -0 \(getpid()) 2>/dev/null && kill -0 \(pid) 2>/dev/null; do sleep 1; done; kill -KILL -\(pid) 2>/dev/null"
        if let w = try? Spawner.startStreaming(["/bin/sh", "-c", script]) {
            close(w.output)
            watchdogs[pid] = w.pid
        }
    }

    static func kill(_ pid: pid_t) {
        Glibc.kill(-pid, SIGKILL)
    }

    static func finished(_ pid: pid_t) {
        groups.removeAll { $0 == pid }
        // The group may still hold QEMU if vng exited first.
        Glibc.kill(-pid, SIGKILL)
        if let w = watchdogs.removeValue(forKey: pid) {
            Glibc.kill(w, SIGKILL)
            _ = Spawner.wait(w)
        }
    }
}

/// `nslab vm`: any command inside another kernel.
struct VMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Run a command as root inside a VM booted with another kernel (virtme-ng).",
        discussion: """
            The guest sees this machine's files as a read-only snapshot (the checkout included; \
            /tmp and the directories given with --rwdir are writable) and runs COMMAND in the \
            current directory. Output streams as it comes; the exit status is the command's. \
            KVM is used where /dev/kvm works; a KVM guest that has not reached its init within \
            15 s counts as hung and the run starts again under software emulation (slow but \
            works everywhere). The command gets no standard input; `nslab` in it is this nslab, and \
            it may open as many files as nslab may here.
            Needs virtme-ng (pip install virtme-ng) and QEMU (apt-get install qemu-system-x86).
            Examples:
              nslab vm --kernel /boot/vmlinuz-6.1.0-57-amd64 -- nslab doctor
              nslab vm --kernel /boot/vmlinuz-6.1.0-57-amd64 -- swift test --skip-build
            """)

    @Option(help: "The kernel: an image (/boot/vmlinuz-…) or a kernel build directory.")
    var kernel: String

    @OptionGroup var vm: VMOptions

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).")
    var command: [String] = []

    func run() throws {
        var argv = command
        if argv.first == "--" { argv.removeFirst() }
        guard !argv.isEmpty else { throw NslabError("no command to run", hint: "nslab vm --kernel PATH -- COMMAND [ARG…]", code: 64) }
        guard case .image(let path) = KernelChoice(kernel) else {
            throw NslabError("`nslab vm` needs a kernel image, not `host`", hint: "run the command directly to use the running kernel", code: 64)
        }
        let machine = try vm.machine(try KernelImage.check(path))
        let outcome = try machine.run(VirtualMachine.shellLine(argv.map(resolvingSelf))) { writeAll(1, Array($0)) }
        if outcome.status != 0 { throw ExitCode(outcome.status) }
    }
}

/// `nslab` (the word) in a guest command means this very binary.
func resolvingSelf(_ word: String) -> String {
    word == "nslab" ? selfExecutable() : word
}

func selfExecutable() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

/// The VM options shared by `nslab vm`, `nslab test --kernel` and `nslab doctor --kernel`.
struct VMOptions: ParsableArguments {
    @Option(help: "The guest's memory (QEMU syntax).")
    var memory = "2G"

    @Option(help: "The guest's CPUs.")
    var cpus = 2

    @Option(help: ArgumentHelp("Seconds the guest may take to reach its init under software emulation.", valueName: "seconds"))
    var bootTimeout = 300.0

    @Option(help: ArgumentHelp("Seconds the command may run once the guest is up (default: no limit).", valueName: "seconds"))
    var timeout: Double?

    @Option(help: "A host directory the guest may write (repeatable).")
    var rwdir: [String] = []

    @Option(help: ArgumentHelp("The QEMU binary to use.", valueName: "path"))
    var qemu: String?

    func machine(_ image: KernelImage) throws -> VirtualMachine {
        var m = VirtualMachine(kernel: image)
        m.memory = memory
        m.cpus = cpus
        m.bootTimeout = bootTimeout
        m.timeout = timeout
        m.writableDirectories = rwdir
        m.qemu = qemu
        return m
    }

    func validate() throws {
        if cpus < 1 || cpus > 64 { throw NslabError("--cpus must be from 1 to 64", code: 64) }
        if !(bootTimeout > 0) { throw NslabError("--boot-timeout must be more than 0 seconds", code: 64) }
        if let t = timeout, !(t > 0) { throw NslabError("--timeout must be more than 0 seconds", code: 64) }
    }
}

/// One run of this nslab (`nslab test --json …`, `nslab doctor --json`) on a kernel, its
/// standard output kept in a file: the guest's console carries boot messages, so a report
/// travels through a directory the guest may write.
struct NslabRun {
    var status: Int32
    /// `host`, or how the VM ran (`kvm`, `software emulation`).
    var how: String
    /// `uname -r` where it ran.
    var release: String?
    var output: Data
    var standardError: String

    /// Runs `nslab ARGUMENTS` on `kernel`; `console` gets the guest's console (a VM only).
    static func run(_ arguments: [String], on kernel: KernelChoice, vm: VMOptions,
                    console: (ArraySlice<UInt8>) -> Void = { _ in }) throws -> NslabRun {
        let dir = try makeTemporaryDirectory("nslab-run")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/stdout", err = dir + "/stderr", release = dir + "/release"
        let script = "uname -r > \(shellQuote(release)); "
            + "\(VirtualMachine.shellLine([selfExecutable()] + arguments)) > \(shellQuote(out)) 2> \(shellQuote(err))"
        var run = NslabRun(status: 0, how: "host", release: nil, output: Data(), standardError: "")
        switch kernel {
        case .host:
            let child = try Spawner.startStreaming(["/bin/sh", "-c", script])
            close(child.output)
            run.status = Spawner.wait(child.pid)
        case .image(let path):
            var machine = try vm.machine(try KernelImage.check(path))
            machine.writableDirectories.append(dir)
            let outcome = try machine.run(script, output: console)
            run.status = outcome.status
            run.how = outcome.acceleration.rawValue
        }
        run.release = (try? String(contentsOfFile: release, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        run.output = FileManager.default.contents(atPath: out) ?? Data()
        run.standardError = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        return run
    }

    /// The last lines of standard error, for a message.
    var lastErrorLines: String { standardError.split(separator: "\n").suffix(5).joined(separator: "\n") }
}

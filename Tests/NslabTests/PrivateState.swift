import Foundation
import Testing

/// A private mount namespace with its own tmpfs `/run/nslab` and `/run/netns`, for tests that
/// sweep, list or tear down labs: whatever `nslab` does in it can never reach a lab, namespace or
/// state file of the machine (a person's lab, another test run's).
///
/// The namespace is held by `unshare --mount --propagation private … cat`, whose standard input
/// is a pipe from this process: when the test ends (or crashes), `cat` sees end of file and
/// exits, the mount namespace goes, and with it every namespace pinned inside it. Commands run
/// in it through `nsenter --target <pid> --mount`.
final class PrivateState {
    let holder = Process()
    private let input = Pipe()
    /// The pid of the process that holds the mount namespace.
    let pid: Int32

    init() throws {
        let output = Pipe()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        holder.arguments = ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", """
            mkdir -p -m 0700 /run/nslab && mkdir -p -m 0755 /run/netns \
            && mount -t tmpfs -o mode=0700 nkstate /run/nslab && mount -t tmpfs -o mode=0755 nknetns /run/netns \
            && echo ready && exec cat >/dev/null
            """]
        holder.standardInput = input
        holder.standardOutput = output
        holder.standardError = FileHandle.standardError
        try holder.run()
        pid = holder.processIdentifier
        let line = output.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).contains("ready") else {
            close()
            throw PrivateStateError("could not set up a private /run/nslab and /run/netns (unshare --mount)")
        }
        // The holder's mounts really are its own: the host's /run/nslab is another directory.
        var mine = stat(), host = stat()
        guard stat(path("/run/nslab"), &mine) == 0, stat("/run/nslab", &host) == 0,
              mine.st_dev != host.st_dev else {
            close()
            throw PrivateStateError("the private /run/nslab is not a mount of its own")
        }
    }

    /// A path as seen inside the private mount namespace (through `/proc/<pid>/root`).
    func path(_ p: String) -> String { "/proc/\(pid)/root\(p)" }

    func stateFileExists(_ lab: String) -> Bool { access(path("/run/nslab/\(lab).json"), F_OK) == 0 }

    /// Runs a program inside the private mount namespace.
    func exec(_ executable: String, _ args: [String], environment: [String: String] = [:]) throws -> Run {
        try run("/usr/bin/nsenter", ["--target", "\(pid)", "--mount", "--", executable] + args, environment: environment)
    }

    func nslab(_ args: String...) throws -> Run { try exec(nslabPath, args) }
    func nslab(_ args: [String], environment: [String: String] = [:]) throws -> Run {
        try exec(nslabPath, args, environment: environment)
    }

    /// Starts `nslab` inside the private mount namespace without waiting for it.
    func start(_ args: [String], environment: [String: String] = [:]) throws -> Background {
        try Background(["/usr/bin/nsenter", "--target", "\(pid)", "--mount", "--", nslabPath] + args, environment: environment)
    }

    /// `ip netns list` names inside the private mount namespace.
    func netnsNames() throws -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: path("/run/netns"))) ?? [])
    }

    func names(withPrefix lab: String) throws -> Set<String> { try netnsNames().filter { $0.hasPrefix("\(lab)-") } }

    /// Ends the holder: the mount namespace and everything pinned in it go away.
    func close() {
        try? input.fileHandleForWriting.close()
        holder.waitUntilExit()
    }

    deinit { if holder.isRunning { close() } }
}

struct PrivateStateError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A program running in the background, its stdout in a file and its stderr readable as it comes.
final class Background {
    let process = Process()
    private let err = Pipe()
    private let outFile: URL
    private(set) var stderrSoFar = ""

    init(_ argv: [String], environment: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        outFile = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-bg-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: outFile.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outFile)
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Reads stderr until it contains `text` or the program ends. - Returns: whether it appeared.
    @discardableResult
    func waitForStderr(_ text: String) -> Bool {
        while !stderrSoFar.contains(text) {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { return false }
            stderrSoFar += String(decoding: chunk, as: UTF8.self)
        }
        return true
    }

    /// Waits for the program to end. - Returns: its exit status and complete output.
    func wait() -> Run {
        let rest = err.fileHandleForReading.readDataToEndOfFile()
        stderrSoFar += String(decoding: rest, as: UTF8.self)
        process.waitUntilExit()
        let out = (try? String(contentsOf: outFile, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: outFile)
        return Run(status: process.terminationStatus, stdout: out, stderr: stderrSoFar)
    }
}

/// Polls `condition` every 10 ms for up to `seconds`. - Returns: whether it became true.
func eventually(_ seconds: Double = 20, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

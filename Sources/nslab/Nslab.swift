import ArgumentParser
import Foundation
import NetnsKit

/// `nslab`: network namespace labs from the command line.
@main
struct Nslab: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nslab",
        abstract: "Network namespace labs: bring topologies up, test scenarios, inspect and clean up.",
        discussion: """
            A lab is a topology built as named network namespaces /run/netns/<LAB>-<node>, \
            visible to `ip netns`, recorded in /run/nslab/<LAB>.json until `nslab down`. \
            `nslab test` builds scenarios as anonymous namespaces that vanish with the process.
            Building needs CAP_NET_ADMIN and CAP_SYS_ADMIN (root); `nslab doctor` says what is missing.
            """,
        version: nslabVersion,
        subcommands: [
            Up.self, Down.self, Ls.self, Inspect.self, Exec.self, Shell.self, TestCommand.self, Plan.self, Graph.self,
            Scenarios.self, Export.self, Explain.self, Kconfig.self, Doctor.self, Sweep.self, Bench.self, VMCommand.self,
            Events.self,
        ])

    /// Parses and runs; every failure becomes one `nslab: error: …` line (plus details) and a non-zero exit.
    static func main() async {
        checkCommandName(Array(CommandLine.arguments.dropFirst()))
        let command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            parserFailure(error)
        }
        // Rootless: the commands that build labs move into a user namespace of their own when the
        // process lacks the capabilities. This must happen before any thread exists.
        if command is Doctor && !Capabilities.missing().isEmpty {
            // Report the privileges the user really has, then probe the kernel from where nslab
            // would build: its own user namespace.
            unprivileged = (Capabilities.missing(), Capabilities.text())
            do { try Rootless.enter() } catch {
                rootlessFailure = error as? Rootless.Failure ?? Rootless.Failure(description: "\(error)")
            }
        }
        if command is Up || command is TestCommand || command is Bench {
            do {
                if try Rootless.enterIfNeeded() {
                    standardError("nslab: not privileged: running rootless in a user namespace of its own\n")
                }
            } catch {
                let fix = (error as? Rootless.Failure)?.fix.map { "fix: \($0); see `nslab doctor`" }
                fail("cannot run rootless: \(error)",
                     hint: fix ?? "run as root, give a container --cap-add NET_ADMIN --cap-add SYS_ADMIN, or see `nslab doctor`", code: 1)
            }
        }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var c = command
                try c.run()
            }
        } catch let e as ExitCode {
            Foundation.exit(e.rawValue)
        } catch let e as NslabError {
            fail(e.message, hint: e.hint, code: e.code)
        } catch let e as CleanExit {
            print(fullMessage(for: e))
            Foundation.exit(0)
        } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            parserFailure(error)
        } catch {
            fail(describe(error), hint: nil, code: 1)
        }
    }

    /// Help goes to standard output with exit 0; a usage error becomes one `nslab: error:` line.
    static func parserFailure(_ error: any Error) -> Never {
        let code = exitCode(for: error)
        if code == .success {
            print(fullMessage(for: error))
            Foundation.exit(0)
        }
        let text = message(for: error)
        let line = text.split(separator: "\n").first.map(String.init) ?? text
        fail(line.isEmpty ? "invalid arguments" : line, hint: "see `nslab --help` or `nslab <command> --help`",
             code: code.rawValue == 0 ? 64 : code.rawValue)
    }
}

/// The capabilities the user had before `doctor` moved into a user namespace (nil when privileged).
nonisolated(unsafe) var unprivileged: (missing: [Capabilities.Capability], text: String)?
/// Why entering rootless mode failed, for `doctor`.
nonisolated(unsafe) var rootlessFailure: Rootless.Failure?

/// Prints `nslab: error: …` to standard error and exits.
func fail(_ message: String, hint: String?, code: Int32) -> Never {
    var text = "nslab: error: \(message)\n"
    if let hint { text += "  \(hint)\n" }
    standardError(text)
    Foundation.exit(code)
}

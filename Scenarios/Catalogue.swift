import Foundation
// `import Scenarios` keeps giving `Scenario` (which moved to NetnsKit, next to its file format and runner).
@_exported import NetnsKit

/// The built-in scenarios: one file each in `Scenarios/catalogue/` (`<name>.yaml`), each with its
/// own private address range (10.<n>.x.x, fd00:<n>::/32).
///
/// The files are a resource of this target (`NetnsKit_Scenarios.resources/catalogue`, next to the
/// executable or test bundle SwiftPM builds); ``directory`` says where they were found. Set
/// `NSLAB_CATALOGUE` to a directory to read the files from there instead.
public enum Catalogue {
    /// The scenario names, simplest first: the order of ``all``.
    public static let order = [
        "two-hosts", "bridge", "router", "static-chain", "ecmp", "policy-routing", "vxlan-overlay", "dual-stack",
        "macvlan", "reject-routes", "mtu-mismatch", "firewall", "rate-limit", "loopback-prefix", "gre-tunnel", "vrf",
        "bond", "vlan-trunk", "netem-delay", "link-flap", "ospf-bird",
    ]

    /// Every scenario that loaded, simplest first.
    public static var all: [Scenario] { loaded.scenarios }

    /// Files that could not be read or loaded (empty when the catalogue is whole), one message each.
    public static var problems: [String] { loaded.problems }

    /// The directory the catalogue files were read from, nil when none was found.
    public static var directory: URL? { loaded.directory }

    /// The scenario with this name.
    public static func named(_ name: String) -> Scenario? { all.first { $0.name == name } }

    /// The names of every scenario, in catalogue order.
    public static var names: [String] { all.map(\.name) }

    private static let loaded = load()

    private static func load() -> (scenarios: [Scenario], problems: [String], directory: URL?) {
        guard let dir = findDirectory() else {
            return ([], ["the catalogue files (NetnsKit_Scenarios.resources/catalogue) were not found next to "
                         + "\(executablePath() ?? "the executable") nor in the source tree; set NSLAB_CATALOGUE to "
                         + "the Scenarios/catalogue directory"], nil)
        }
        var scenarios: [Scenario] = []
        var problems: [String] = []
        for name in order {
            let path = dir.appendingPathComponent("\(name).yaml").path
            do {
                let s = try Scenario.load(path: path)
                if s.name != name { problems.append("\(name).yaml: its name is \"\(s.name)\", not \"\(name)\"") }
                scenarios.append(s)
            } catch {
                problems.append("\(error)")
            }
        }
        return (scenarios, problems, dir)
    }

    /// Where the files are: `$NSLAB_CATALOGUE`, the resource bundle next to the executable (also
    /// through a symlink to it), next to `Bundle.main`, or this source file's directory.
    private static func findDirectory() -> URL? {
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["NSLAB_CATALOGUE"], !env.isEmpty {
            candidates.append(URL(fileURLWithPath: env))
        }
        let bundle = "NetnsKit_Scenarios.resources"
        if let exe = executablePath() {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent()
                .appendingPathComponent(bundle).appendingPathComponent("catalogue"))
        }
        candidates.append(Bundle.main.bundleURL.appendingPathComponent(bundle).appendingPathComponent("catalogue"))
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("catalogue"))
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("\(order[0]).yaml").path) }
    }

    /// The running executable with symlinks resolved (`/proc/self/exe`).
    private static func executablePath() -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

import Foundation
import NetnsKit
import Scenarios
import Testing

@testable import nslab

// `nslab kconfig` against real kernel configurations: Debian's 6.1 (every option the catalogue
// needs is there) and the running kernel (what is missing from /proc/config.gz is what the
// kernel-feature probes find missing).

/// The options set to `y` or `m` in a kernel config file's text.
func enabledOptions(_ config: String) -> Set<String> {
    Set(config.split(separator: "\n").compactMap { line -> String? in
        guard line.hasPrefix("CONFIG_"), let eq = line.firstIndex(of: "=") else { return nil }
        let value = line[line.index(after: eq)...]
        return value == "y" || value == "m" ? String(line[..<eq]) : nil
    })
}

/// Debian's packaged 6.1 kernel config (`linux-image-amd64` on Debian 12), if installed.
let debian61Config: String? = {
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: "/boot")) ?? []).filter { $0.hasPrefix("config-6.1.") }.sorted()
    return names.last.map { "/boot/\($0)" }
}()

let hasProcConfig = FileManager.default.fileExists(atPath: "/proc/config.gz")

@Suite struct KconfigTests {
    /// Every option kconfig lists for a catalogue scenario is `y` or `m` in Debian's 6.1 kernel,
    /// so that kernel (in a VM) can run the whole catalogue.
    @Test(.enabled(if: debian61Config != nil, "no /boot/config-6.1.* (apt-get install linux-image-amd64 on Debian 12)"))
    func catalogueNeedsOnlyWhatDebian61Has() throws {
        let path = try #require(debian61Config)
        let enabled = enabledOptions(try String(contentsOfFile: path, encoding: .utf8))
        #expect(enabled.count > 1000, "\(path) does not look like a kernel config")
        for scenario in Catalogue.all {
            let options = try Kconfig.options(of: resolveTarget(scenario.name))
            #expect(options.contains("CONFIG_NET_NS") && options.contains("CONFIG_VETH"), "\(scenario.name): \(options)")
            let missing = options.filter { !enabled.contains($0) }
            #expect(missing.isEmpty, "\(scenario.name) needs \(missing), which \(path) lacks")
        }
    }

    /// Every feature the model can need maps to options that exist in Debian's 6.1 (a typo in a
    /// CONFIG_ name shows up here, not only for the kinds the catalogue uses).
    @Test(.enabled(if: debian61Config != nil, "no /boot/config-6.1.* (apt-get install linux-image-amd64 on Debian 12)"))
    func everyFeatureMapsToRealOptions() throws {
        let enabled = enabledOptions(try String(contentsOfFile: try #require(debian61Config), encoding: .utf8))
        for feature in KernelFeature.allCases {
            #expect(!feature.configOptions.isEmpty, "\(feature) maps to no option")
            let missing = feature.configOptions.filter { !enabled.contains($0) }
            #expect(missing.isEmpty, "\(feature): \(missing) not y/m in Debian 6.1")
        }
    }

    /// On the running kernel, a probed feature is unsupported exactly when one of its options is
    /// missing (not `y` or `m`) from /proc/config.gz, and the options missing there are exactly
    /// the options of the unsupported features.
    ///
    /// Compared: the features `KernelFeatures` probes (link kinds, qdiscs, bridge VLAN filtering,
    /// nftables). Not compared, as nothing probes them: network namespaces, IPv4, IPv6, ip6gre,
    /// ip6gretap, tun, multipath and policy routing. Exceptions: nftables is left out when the
    /// `nft` tool is missing (its probe then fails for a reason the config cannot show), and an
    /// `m` option counts as present although a module that cannot be loaded fails its probe (the
    /// development kernel has no modules, so this does not arise there).
    @Test(.enabled(if: hasProcConfig, "no /proc/config.gz (kernel built without CONFIG_IKCONFIG_PROC)"),
          .enabled(if: isRoot, "needs root to probe the kernel's features in scratch namespaces"))
    func hostKernelMissesExactlyWhatTheProbesMiss() throws {
        let zcat = try run("/bin/zcat", ["/proc/config.gz"])
        #expect(zcat.status == 0, "\(zcat)")
        let enabled = enabledOptions(zcat.stdout)
        #expect(enabled.contains("CONFIG_NET_NS"), "/proc/config.gz has no CONFIG_NET_NS=y: \(zcat.stdout.prefix(200))")
        let nftInstalled = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].contains { FileManager.default.isExecutableFile(atPath: $0) }

        var compared = 0
        var missingOfUnsupported: Set<String> = []
        var missingOfProbed: Set<String> = []
        for feature in KernelFeature.allCases {
            guard let name = feature.probeName else { continue }
            if feature == .nftables && !nftInstalled { continue }
            let probe = try #require(KernelFeatures.shared.probe(name), "KernelFeatures cannot probe \"\(name)\"")
            let missing = Set(feature.configOptions.filter { !enabled.contains($0) })
            #expect(probe.supported == missing.isEmpty,
                    "\(feature): the probe says \(probe.supported ? "supported" : "unsupported (\(probe.detail ?? "-"))"), /proc/config.gz lacks \(missing.sorted())")
            if !probe.supported { missingOfUnsupported.formUnion(missing) }
            missingOfProbed.formUnion(missing)
            compared += 1
        }
        #expect(missingOfUnsupported == missingOfProbed)
        #expect(compared >= 20, "only \(compared) features compared")
    }
}

/// The `nslab kconfig` command as users run it.
@Suite struct KconfigCommandTests {
    @Test func scenarioOptionsOnePerLineSortedAndUnique() throws {
        let r = try nslab("kconfig", "rate-limit")
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines == ["CONFIG_INET", "CONFIG_NET_NS", "CONFIG_NET_SCHED", "CONFIG_NET_SCH_TBF", "CONFIG_VETH"], "\(r)")
        let vxlan = try nslab("kconfig", "vxlan-overlay")
        #expect(vxlan.stdout.split(separator: "\n").contains("CONFIG_VXLAN"), "\(vxlan)")
    }

    @Test func topologyFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-kconfig-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        try """
            name: kc
            nodes:
              - name: a
                addresses: [10.0.0.1/24, "fd00::1/64"]
                vlans: [{parent: eth0, id: 10}]
                rules: [{from: 10.0.0.0/24, table: 100}]
                routes: [{to: default, via: 10.0.0.2, table: 100}]
                qdiscs: [{on: eth0, netem: {delay: 10ms}}]
              - {name: b, addresses: [10.0.0.2/24]}
            links: [{a: a, b: b}]
            """.write(to: file, atomically: true, encoding: .utf8)
        let r = try nslab("kconfig", file.path)
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines == lines.sorted() && Set(lines).count == lines.count, "\(r)")
        for option in ["CONFIG_VLAN_8021Q", "CONFIG_IP_MULTIPLE_TABLES", "CONFIG_NET_SCH_NETEM", "CONFIG_IPV6", "CONFIG_VETH"] {
            #expect(lines.contains(option), "\(option) missing: \(r)")
        }
        let explained = try nslab("kconfig", file.path, "--explain")
        #expect(explained.stdout.contains("CONFIG_NET_SCHED") && explained.stdout.contains("# netem"), "\(explained)")
    }

    @Test func badTargetsAreOneClearError() throws {
        let unknown = try nslab("kconfig", "no-such-scenario")
        #expect(unknown.status == 1 && unknown.stderr.hasPrefix("nslab: error: unknown scenario"), "\(unknown)")
        let absent = try nslab("kconfig", "/nonexistent/topology.yaml")
        #expect(absent.status == 1 && absent.stderr.hasPrefix("nslab: error: cannot load"), "\(absent)")
        let none = try nslab("kconfig")
        #expect(none.status != 0 && none.stderr.hasPrefix("nslab: error:"), "\(none)")
        for r in [unknown, absent, none] { #expect(!looksLikeCrash(r) && r.stdout.isEmpty, "\(r)") }
        let help = try nslab("kconfig", "--help")
        #expect(help.status == 0 && help.stdout.contains("vng --build") && help.stdout.contains("--explain"), "\(help)")
    }
}

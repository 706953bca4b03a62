import ArgumentParser
import Foundation
import NetnsKit
import Scenarios

struct Kconfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kconfig",
        abstract: "The kernel config options a scenario or topology file needs, one per line.",
        discussion: """
            Derived from what the builder will do (`nslab plan`): each link kind, tunnel, qdisc, \
            nftables ruleset, IPv6 use, multipath route, policy rule or extra routing table maps to \
            the options that provide it, with the options they depend on (CONFIG_NET_SCHED for a \
            qdisc, CONFIG_IP_ADVANCED_ROUTER for multipath and policy routing, CONFIG_IPV6 for IPv6 \
            tunnels…); a scenario's declared requirements count too. CONFIG_NET_NS and CONFIG_INET \
            are always there. Sorted and unique, so a kernel developer can build a kernel that runs it:

              vng --build $(nslab kconfig vxlan-overlay | sed 's/.*/--configitem &=y/')

            Each option must be y or m in that kernel (m: the module must be loadable). Not \
            derived: the nftables expressions a ruleset uses beyond the inet family (ct, nat, \
            reject… need their CONFIG_NFT_* options), and what setup commands need.
            --explain prints each option with the features that need it.
            """)

    @Argument(help: "A built-in scenario (`nslab scenarios`) or a topology file (.yaml/.yml/.json).")
    var target: String

    @Flag(help: "After each option, the features that need it (`CONFIG_VXLAN  # vxlan`).")
    var explain = false

    func run() throws {
        let features = try Self.features(of: resolveTarget(target))
        let options = KernelFeature.configOptions(of: features)
        if explain {
            let width = options.map(\.count).max() ?? 0
            for option in options {
                let needing = features.sorted().filter { $0.configOptions.contains(option) }.map(\.rawValue)
                print(option.padding(toLength: width, withPad: " ", startingAt: 0) + "  # " + needing.joined(separator: ", "))
            }
        } else {
            for option in options { print(option) }
        }
    }

    /// The kernel features a target needs: those of its plan and a scenario's declared requirements.
    static func features(of target: Target) throws -> Set<KernelFeature> {
        let plan: NetnsModel.Plan
        do {
            plan = try target.topology.plan()
        } catch {
            throw NslabError("\(target.source) describes an invalid topology: \(error)")
        }
        var features = plan.kernelFeatures
        for requirement in target.scenario?.requires ?? [] {
            guard let f = KernelFeature(probeName: requirement) else {
                throw NslabError("scenario \(target.name) requires \"\(requirement)\", which nslab kconfig cannot map to config options",
                                 hint: "known: " + KernelFeature.allCases.compactMap(\.probeName).joined(separator: ", "))
            }
            features.insert(f)
        }
        return features
    }

    /// The sorted, unique config options a target needs.
    static func options(of target: Target) throws -> [String] {
        KernelFeature.configOptions(of: try features(of: target))
    }
}

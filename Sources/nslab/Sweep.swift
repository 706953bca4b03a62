import ArgumentParser
import Foundation
import NetnsKit

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove leftovers of labs: namespaces that provably belong to nslab, and their state files.",
        discussion: """
            For each state file in /run/nslab, a namespace /run/netns/<LAB>-<node> is removed only \
            when its identity matches the one recorded (namespace cookie, else device and inode); \
            then the state file is removed. Nothing without a state file is ever touched.
            A lab is a leftover when its `nslab up` was killed while building (its pid is gone) or \
            when some of its namespaces are missing or replaced. Intact labs (fully up, or still \
            being built by a live `nslab up`) are kept unless --force.
            """)

    @Flag(help: "Only print what would be removed.")
    var dryRun = false

    @Flag(help: "Also remove intact labs (like `nslab down --all`, but only what is provably nslab's).")
    var force = false

    func run() throws {
        try requirePrivileges("nslab sweep")
        let (states, unreadable) = StateStore.all()
        let verb = dryRun ? "would remove" : "removed"
        var any = false
        for state in states {
            let ownerships = state.namespaces.map { ownership(of: $0) }
            let intact = ownerships.allSatisfy { $0 == .matches }
            let building = state.status == .building && processAlive(state.pid)
            if !force && (building || (state.status == .up && intact)) {
                print("kept \(state.name): \(building ? "being built by pid \(state.pid)" : "intact") (use --force to remove it)")
                continue
            }
            let (removed, kept) = removeNamespaces(of: state, dryRun: dryRun)
            for n in removed { print("\(verb) namespace \(n)") }
            for k in kept { print("kept: \(k)") }
            if !dryRun { StateStore.remove(state.name) }
            print("\(verb) state file \(StateStore.path(state.name))")
            any = true
        }
        for u in unreadable {
            print("kept \(StateStore.path(u)): unreadable, so it proves nothing; remove it by hand if it is stale")
        }
        if !any { print("nothing to sweep") }
    }
}

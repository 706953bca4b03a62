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
            A lab is a leftover when its `nslab up` was killed while building (the lab's lock, which \
            `up` holds until it exits, is free) or when some of its namespaces are missing or \
            replaced. Intact labs are kept unless --force; a lab that another nslab process is \
            working on (an `up` still building it) is always kept. Name labs to sweep only those.
            """)

    @Flag(help: "Only print what would be removed.")
    var dryRun = false

    @Flag(help: "Also remove intact labs (like `nslab down --all`, but only what is provably nslab's).")
    var force = false

    @Argument(help: "Only these labs (default: every lab with a state file).")
    var labs: [String] = []

    func run() throws {
        try requirePrivileges("nslab sweep")
        try StateStore.checkDirectory()
        for l in labs { try validateLabName(l) }
        let names = labs.isEmpty ? StateStore.labNames() : labs
        if !labs.isEmpty, let missing = names.first(where: { !StateStore.exists($0) }) {
            throw NslabError("no lab named \"\(missing)\" has a state file (\(StateStore.path(missing)))",
                             hint: StateStore.knownLabsHint())
        }
        #if DEBUG
        DebugPause.sweepDelay()
        #endif
        let verb = dryRun ? "would remove" : "removed"
        var any = false
        for name in names {
            // Decide under the lab's lock, on the state as it is now: `nslab up` holds the lock from
            // before it reserves the name until it exits, so a lab whose lock is free is not being
            // built, and nothing changes it while we look.
            guard let lock = try LabLock.acquire(name, wait: 0.2) else {
                let pid = (try? StateStore.read(name)).map { " (nslab up, pid \($0.pid))" } ?? ""
                print("kept \(name): another nslab process is working on it\(pid)")
                continue
            }
            guard StateStore.exists(name) else { lock.releaseRemovingFile(name); continue }
            if let reason = StateStore.brokenReason(name) {
                for line in StateStore.removeBroken(name, reason: reason, lock: lock, verb: dryRun ? "would remove" : "removed") {
                    print(line)
                }
                any = true
                continue
            }
            let state: LabState
            do { state = try StateStore.read(name) } catch {
                print("kept \(StateStore.path(name)): \(describe(error)); it proves nothing, remove it by hand if it is stale")
                continue
            }
            let journaled = StateStore.journaledNodes(name)
            let intact = ownerships(of: state, journaled: journaled).allSatisfy { $0 == .matches }
            if !force && state.status == .up && intact {
                print("kept \(state.name): intact (use --force to remove it)")
                continue
            }
            let (removed, kept) = removeNamespaces(of: state, dryRun: dryRun)
            for n in removed { print("\(verb) namespace \(n)") }
            for k in kept { print("kept: \(k)") }
            if !dryRun {
                StateStore.remove(name)
                lock.releaseRemovingFile(name)
            }
            print("\(verb) state file \(StateStore.path(name))")
            any = true
        }
        // Only a full sweep looks at temporary files: they belong to no lab that was named.
        if labs.isEmpty {
            for tmp in StateStore.staleTemporaryFiles() {
                if !dryRun { unlink(tmp) }
                print("\(verb) the leftover temporary file \(tmp)")
                any = true
            }
        }
        if !any { print("nothing to sweep") }
    }
}

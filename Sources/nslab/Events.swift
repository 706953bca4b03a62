import ArgumentParser
import Foundation
import NetnsKit

// MARK: events

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream the rtnetlink events of a lab that is up, one line each.",
        discussion: """
            Every link, address, route, neighbour and rule the kernel creates, changes or deletes in \
            any node of the lab (IPv4 and IPv6), as it happens, with the time since the lab was \
            brought up: `+12.345 s r1: new link 3: eth1 DOWN state DOWN mtu 1500 (veth)`. With \
            --json, one JSON object per line (the format of a failed test's events.jsonl). \
            It runs until Ctrl-C, SIGTERM or SIGHUP (exit 0), or until the lab is torn down.
            """)

    @Argument(help: "The lab (see `nslab ls`).")
    var lab: String

    @Flag(help: "One JSON object per line instead of text.")
    var json = false

    @Option(help: "Only the events of these nodes (comma-separated; default: every node).")
    var nodes: String?

    func run() throws {
        try validateLabName(lab)
        let state = try StateStore.read(lab)
        guard state.status == .up else {
            throw NslabError("lab \(lab) is still being brought up (or its `nslab up` was killed)",
                             hint: LabLock.isHeld(lab) ? "wait until `nslab up` has finished" : "`nslab down \(lab)` removes it")
        }
        var wanted = state.nodeNames
        if let nodes {
            wanted = nodes.split(separator: ",").map { String($0) }
            for n in wanted where !state.nodeNames.contains(n) {
                throw NslabError("lab \(lab) has no node \"\(n)\"\(didYouMean(n, among: state.nodeNames)) "
                                 + "(it has: \(state.nodeNames.joined(separator: ", ")))")
            }
        }
        try requirePrivileges("nslab events")
        var opened: [(node: String, namespace: NetworkNamespace)] = []
        defer { for o in opened { o.namespace.close() } }
        for n in wanted { opened.append((n, try openNode(lab: lab, node: n))) }

        catchInterrupts()
        defer { restoreInterrupts() }
        // Times since the lab was brought up (its state file's wall-clock time), on the monotonic clock.
        let start = monotonicNow() - max(0, Date().timeIntervalSince1970 - state.created)
        let json = self.json
        let recorder: EventRecorder
        do {
            recorder = try EventRecorder(namespaces: opened, start: start, keep: false) { event in
                // Straight to the descriptor, one write per line: a reader sees each event at once.
                writeAll(STDOUT_FILENO, Array(((json ? event.jsonLine : event.description) + "\n").utf8))
            }
        } catch {
            throw NslabError("cannot listen to the events of lab \(lab): \(describe(error))")
        }
        standardError("nslab: streaming the events of lab \(lab) (\(opened.count) node\(opened.count == 1 ? "" : "s")); Ctrl-C ends\n")
        let paths = state.namespaces.filter { wanted.contains($0.node) }.map(\.path)
        var gone = false
        while receivedSignal == 0 && recorder.failure == nil {
            usleep(50_000)
            // `nslab down` elsewhere: our sockets would keep the namespaces alive, so end.
            if !paths.contains(where: { access($0, F_OK) == 0 }) { gone = true; break }
        }
        recorder.stop()
        if let failure = recorder.failure { throw NslabError("reading the events of lab \(lab) failed: \(failure)") }
        if gone { standardError("nslab: lab \(lab) was torn down\n") }
    }
}

import ArgumentParser
import Namespaces
import Netlink
import NetnsKit

struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain, hop by hop, what happens to a packet from a node of a lab to an address.",
        discussion: """
            Example: nslab explain LAB h1 10.0.2.2 --tcp 80
            Sends one probe, then walks the path with each node's own kernel answers: the route \
            lookup (as a forwarded packet at each next hop, so rp_filter and forwarding show up), \
            the neighbour entry, the link and its peer (veth, bridge FDB, VXLAN), nftables chains, \
            and the reply path, up to the hop where the packet dies and why. Exits 0 when request \
            and reply get through, 1 when they do not.
            """)

    @Argument(help: "The lab.") var lab: String
    @Argument(help: "The node that sends.") var node: String
    @Argument(help: "The destination address.") var address: String
    @Option(help: ArgumentHelp("Explain a TCP connection to this port (default: ICMP echo).", valueName: "PORT"))
    var tcp: UInt16?
    @Option(help: ArgumentHelp("Explain a UDP datagram to this port.", valueName: "PORT"))
    var udp: UInt16?
    @Option(name: .customLong("from"), help: ArgumentHelp("The source address (default: the sender's route picks it).", valueName: "SRC"))
    var source: String?
    @Option(help: ArgumentHelp("An ICMP payload size, sent with DF set (checks each hop's MTU).", valueName: "BYTES"))
    var size: Int?
    @Flag(help: "Print the explanation as JSON.") var json = false

    func validate() throws {
        if tcp != nil && udp != nil { throw ArgumentParser.ValidationError("give --tcp or --udp, not both") }
        if IPAddress(address) == nil { throw ArgumentParser.ValidationError("\"\(address)\" is not an IP address") }
        if let s = source, IPAddress(s) == nil { throw ArgumentParser.ValidationError("--from \"\(s)\" is not an IP address") }
        if let s = size, !(0...65_000).contains(s) { throw ArgumentParser.ValidationError("--size must be 0…65000 bytes") }
        if size != nil, tcp != nil || udp != nil { throw ArgumentParser.ValidationError("--size is for ICMP only") }
    }

    func run() async throws {
        try requirePrivileges("nslab explain")
        let state = try StateStore.read(lab)
        guard state.nodeNames.contains(node) else {
            throw NslabError("lab \(lab) has no node \"\(node)\" (it has: \(state.nodeNames.joined(separator: ", ")))")
        }
        var opened: [(node: String, namespace: NetworkNamespace)] = []
        defer { for o in opened { o.namespace.close() } }
        for name in state.nodeNames { opened.append((name, try openNode(lab: lab, node: name))) }
        let proto: ExplainProtocol = tcp.map { .tcp(port: $0) } ?? udp.map { .udp(port: $0) } ?? .icmp
        guard let destination = IPAddress(address) else { throw NslabError("\"\(address)\" is not an IP address") }
        let explanation = try await Explainer(namespaces: opened, topology: state.topology)
            .explain(from: node, to: destination, protocol: proto, source: source.flatMap(IPAddress.init),
                     size: size)
        print(json ? explanation.json : explanation.description)
        if !explanation.works { throw ExitCode(1) }
    }
}

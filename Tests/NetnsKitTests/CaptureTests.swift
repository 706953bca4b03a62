import Foundation
import Namespaces
import Netlink
import NetnsKit
import Testing

@Suite(.enabled(if: canCreateNamespaces, "needs CAP_NET_ADMIN, CAP_SYS_ADMIN and CAP_NET_RAW (run as root)"))
struct CaptureTests {
    @Test func captureSeesEchoRequestAndReplyAndTcpdumpReadsThePcap() async throws {
        let line = try Line()
        defer { line.close() }
        let packets = try await withCapture(on: "eth0", in: line.h2) {
            let r = try await ping("10.0.2.2", in: line.h1, count: 2, interval: 0.01)
            #expect(r.succeeded, "\(r)")
        }
        let requests = packets.matching(.icmp, .echoRequest, .src("10.0.1.2"), .dst("10.0.2.2"))
        let replies = packets.matching(.icmp, .echoReply, .src("10.0.2.2"), .dst("10.0.1.2"))
        #expect(requests.count == 2, "\(packets.summary)")
        #expect(replies.count == 2, "\(packets.summary)")
        #expect(requests.allSatisfy { $0.direction == .incoming })
        #expect(replies.allSatisfy { $0.direction == .outgoing })
        #expect(packets.matching(.incoming, .echoReply).isEmpty)
        // Replies answer the requests: same identifier and sequence numbers.
        #expect(Set(requests.compactMap { $0.icmpEcho.map { "\($0.identifier)/\($0.sequence)" } })
                == Set(replies.compactMap { $0.icmpEcho.map { "\($0.identifier)/\($0.sequence)" } }))
        // The router forwarded them: TTL 64 minus one hop.
        #expect(requests.allSatisfy { $0.ip?.ttl == 63 })
        #expect(requests.first?.interfaceIndex == (try line.h2.socket.link(named: "eth0").index))
        #expect(packets.matching(.tcp).isEmpty)

        let path = NSTemporaryDirectory() + "netnskit-\(UInt32.random(in: 0..<UInt32.max)).pcap"
        defer { unlink(path) }
        try packets.writePcap(path: path)
        // tcpdump drops privileges with setgroups(), which a user namespace refuses: read the
        // file with it only outside one (the pcap bytes themselves are checked by golden tests).
        guard !Capabilities.inUserNamespace else { return }
        let out = try Spawner.runBlocking(["tcpdump", "-r", path, "-nn"], in: nil, timeout: 10)
        #expect(out.status == 0, "\(out)")
        let lines = out.output.split(separator: "\n")
        #expect(lines.filter { $0.contains("IP 10.0.1.2 > 10.0.2.2: ICMP echo request") }.count == 2, "\(out.output)")
        #expect(lines.filter { $0.contains("IP 10.0.2.2 > 10.0.1.2: ICMP echo reply") }.count == 2, "\(out.output)")
        #expect(lines.count == packets.count)
        // tcpdump's own filter agrees with ours.
        let filtered = try Spawner.runBlocking(["tcpdump", "-r", path, "-nn", "icmp[0] == 8 and src 10.0.1.2"], in: nil, timeout: 10)
        #expect(filtered.output.split(separator: "\n").count == requests.count, "\(filtered)")
    }

    @Test func captureTcpAndUdpPortsAndIPv6() async throws {
        let line = try Line()
        defer { line.close() }
        let tcp = try EchoServer.start(in: line.h2, port: 8080, proto: .tcp, lifetime: 120)
        let udp = try EchoServer.start(in: line.h2, port: 40123, proto: .udp, lifetime: 120)
        defer { tcp.stop(); udp.stop() }
        let capture = try Capture.start(on: "eth1", in: line.r)  // the router's side towards h1
        _ = try await tcpRequest(to: ip("fd00:2::2"), port: 8080, payload: Array("GET".utf8), in: line.h1, timeout: 10)
        _ = try await udpExchange(to: ip("10.0.2.2"), port: 40123, payload: [1, 2, 3], in: line.h1, timeout: 10)
        let ping6 = try await ping("fd00:2::2", in: line.h1)
        #expect(ping6.succeeded)
        try await Task.sleep(nanoseconds: 20_000_000)
        let packets = capture.stop()
        #expect(capture.stop() == packets, "stop is idempotent")
        #expect(capture.dropped == 0)
        let syn = packets.matching(.ipv6, .tcp, .syn, .dstPort(8080), .src("fd00:1::2"))
        #expect(syn.count == 1, "\(packets.summary)")
        #expect(packets.matching(.tcp, .srcPort(8080), .dst("fd00:1::2")).count >= 2)
        #expect(packets.matching(.udp, .dstPort(40123), .src("10.0.1.2")).count == 1)
        #expect(packets.matching(.udp, .port(40123)).count == 2)
        #expect(packets.matching(.icmpv6, .echoRequest).count == 1)
        #expect(packets.matching(.icmpv6, .echoReply, .host("fd00:2::2")).count == 1)
        #expect(packets.matching(.anyOf(.tcp, .udp), .not(.ipv6)).count == 2)
        // Read through tcpdump as well.
        let path = NSTemporaryDirectory() + "netnskit-\(UInt32.random(in: 0..<UInt32.max)).pcap"
        defer { unlink(path) }
        try packets.writePcap(path: path)
        guard !Capabilities.inUserNamespace else { return } // tcpdump cannot drop privileges there
        let out = try Spawner.runBlocking(["tcpdump", "-r", path, "-nn", "tcp port 8080 or udp port 40123"], in: nil, timeout: 10)
        #expect(out.status == 0)
        #expect(out.output.contains("IP6 fd00:1::2."), "\(out.output)")
        #expect(out.output.contains("> 10.0.2.2.40123: UDP, length 3"), "\(out.output)")
    }

    @Test func captureIsBoundedAndPerInterface() async throws {
        let ns = try NetworkNamespace.create(label: "bounded")
        defer { ns.close(); expectNoContaminatedThreads() }
        let capture = try Capture.start(on: "lo", in: ns, maxPackets: 3)
        _ = try await ping("127.0.0.1", in: ns, count: 4, interval: 0.005)
        let packets = capture.stop()
        #expect(packets.count == 3)
        // 4 requests and 4 replies, each seen leaving and arriving on lo: 16 frames, 13 over the bound.
        #expect(capture.dropped == 13, "\(packets.summary)")
        await #expect(throws: NetlinkError.self) { _ = try Capture.start(on: "nosuch0", in: ns) }
    }

    @Test func packetViewsParseHandmadeFrames() {
        // Ethernet: dst, src, type 0x0800; IPv4: 20-byte header, TTL 64, proto 17, 10.0.1.2 -> 10.0.2.2;
        // UDP: 40000 -> 53, length 12, checksum 0; payload "abcd".
        var frame: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]
        frame += [0x45, 0, 0, 32, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 1, 2, 10, 0, 2, 2]
        frame += [0x9c, 0x40, 0, 53, 0, 12, 0, 0] + Array("abcd".utf8)
        let p = CapturedPacket(timestamp: 1_700_000_000.25, bytes: frame, direction: .outgoing)
        #expect(p.etherType == 0x0800)
        #expect(p.sourceMAC == MACAddress("02:00:00:00:00:01"))
        #expect(p.ip?.version == 4)
        #expect(p.ip?.source == ip("10.0.1.2"))
        #expect(p.ip?.proto == 17)
        #expect(p.ports?.source == 40000)
        #expect(p.ports?.destination == 53)
        #expect(p.icmp == nil)
        #expect([p].matching(.udp, .dstPort(53), .src("10.0.1.2"), .outgoing).count == 1)
        #expect([p].matching(.udp, .dstPort(54)).isEmpty)
        #expect(p.summary == "Out IP 10.0.1.2.40000 > 10.0.2.2.53: UDP")
        // A later IPv4 fragment has no ports to read.
        var frag = frame
        frag[14 + 6] = 0x00; frag[14 + 7] = 0x10
        #expect(CapturedPacket(timestamp: 0, bytes: frag).ports == nil)
        // Truncated frames parse to nil instead of trapping.
        for n in [0, 5, 14, 20, 34, 37] {
            let t = CapturedPacket(timestamp: 0, bytes: Array(frame.prefix(n)))
            _ = t.ip; _ = t.ports; _ = t.icmp; _ = t.tcpFlags; _ = t.summary
        }
    }

    @Test func pcapGoldenBytes() {
        let p = CapturedPacket(timestamp: 1.5, bytes: [0xaa, 0xbb], originalLength: 60)
        let file = Pcap.file([p])
        #expect(file == [
            0xd4, 0xc3, 0xb2, 0xa1,  // magic 0xa1b2c3d4, little-endian: microsecond timestamps
            2, 0, 4, 0,              // version 2.4
            0, 0, 0, 0,              // thiszone
            0, 0, 0, 0,              // sigfigs
            0, 0, 4, 0,              // snaplen 262144
            1, 0, 0, 0,              // LINKTYPE_ETHERNET
            1, 0, 0, 0,              // ts_sec 1
            0x20, 0xa1, 0x07, 0,     // ts_usec 500000
            2, 0, 0, 0,              // incl_len 2
            60, 0, 0, 0,             // orig_len 60
            0xaa, 0xbb,
        ])
    }
}

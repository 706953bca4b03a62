import Foundation
import Netlink
import Testing

/// Bytes from the kernel (or a fuzzer) must make the decoders throw or succeed, never trap or hang.
@Suite struct MalformedInputTests {
    @Test func truncatedAndBadLengths() throws {
        let good = NetlinkRequest.getLink(name: "eth0").encoded(sequence: 1)
        // Fewer bytes than a header.
        #expect(throws: NetlinkDecodingError.self) { try NetlinkMessage.parse(Array(good.prefix(15))) }
        #expect(throws: NetlinkDecodingError.self) { try NetlinkMessage.parse([1]) }
        // Empty input is zero messages.
        #expect(try NetlinkMessage.parse([]).isEmpty)
        // Length zero, and shorter than the header: would loop forever if accepted.
        for len: UInt32 in [0, 1, 15] {
            var b = good; b.replaceSubrange(0..<4, with: le32(len))
            #expect(throws: NetlinkDecodingError.self) { try NetlinkMessage.parse(b) }
        }
        // Longer than the datagram.
        for len: UInt32 in [UInt32(good.count + 1), 0xFFFF, 0xFFFF_FFFF] {
            var b = good; b.replaceSubrange(0..<4, with: le32(len))
            #expect(throws: NetlinkDecodingError.self) { try NetlinkMessage.parse(b) }
        }
        // A second message cut short.
        #expect(throws: NetlinkDecodingError.self) { try NetlinkMessage.parse(good + good.prefix(20)) }
        // Body shorter than the fixed header of each object.
        let short = rawMessage(type: RTM.newLink, body: [0, 0, 0, 0])
        let m = try! single(short)
        #expect(throws: NetlinkDecodingError.self) { try LinkInfo(message: m) }
        #expect(throws: NetlinkDecodingError.self) { try AddressInfo(message: m) }
        #expect(throws: NetlinkDecodingError.self) { try RouteInfo(message: m) }
        #expect(throws: NetlinkDecodingError.self) { try RuleInfo(message: m) }
        #expect(throws: NetlinkDecodingError.self) { try NeighborInfo(message: m) }
        #expect(throws: NetlinkDecodingError.self) { try m.decodeError() }
    }

    @Test func nestedGarbage() throws {
        // IFLA_LINKINFO whose inner attribute claims 200 bytes.
        var body = IfInfoMsg().bytes + rawAttr(IFLA.linkinfo.raw, [200, 0, 1, 0, 0x76, 0x65, 0x74, 0x68])
        #expect(throws: NetlinkDecodingError.self) { try LinkInfo(message: single(rawMessage(type: RTM.newLink, body: body))) }
        // RTA_MULTIPATH with an rtnexthop length of 4 (below its own 8-byte header).
        body = RtMsg(family: AF.inet, table: 254, type: 1).bytes + rawAttr(RTA.multipath.raw, [4, 0, 0, 0, 1, 0, 0, 0])
        #expect(throws: NetlinkDecodingError.self) { try RouteInfo(message: single(rawMessage(type: RTM.newRoute, body: body))) }
        // RTA_MULTIPATH with a hop whose length runs past the attribute.
        body = RtMsg(family: AF.inet, table: 254, type: 1).bytes + rawAttr(RTA.multipath.raw, [64, 0, 0, 0, 1, 0, 0, 0])
        #expect(throws: NetlinkDecodingError.self) { try RouteInfo(message: single(rawMessage(type: RTM.newRoute, body: body))) }
        // Address of 5 bytes, MAC of 7 bytes (ignored), prefix length beyond the family.
        body = IfAddrMsg(family: AF.inet, prefixLength: 24).bytes + rawAttr(IFA.address.raw, [1, 2, 3, 4, 5])
        #expect(throws: NetlinkDecodingError.self) { try AddressInfo(message: single(rawMessage(type: RTM.newAddr, body: body))) }
        body = IfAddrMsg(family: AF.inet, prefixLength: 40).bytes + rawAttr(IFA.address.raw, [1, 2, 3, 4])
        #expect(throws: NetlinkDecodingError.self) { try AddressInfo(message: single(rawMessage(type: RTM.newAddr, body: body))) }
        body = IfAddrMsg(family: AF.inet, prefixLength: 24).bytes
        #expect(throws: NetlinkDecodingError.self) { try AddressInfo(message: single(rawMessage(type: RTM.newAddr, body: body))) }
        // Route with a prefix length but no RTA_DST.
        body = RtMsg(family: AF.inet, dstLength: 24, table: 254, type: 1).bytes
        #expect(throws: NetlinkDecodingError.self) { try RouteInfo(message: single(rawMessage(type: RTM.newRoute, body: body))) }
        // Extack TLVs that are garbage.
        body = le32(UInt32(bitPattern: -22)) + [UInt8](repeating: 0, count: 16) + [0xFF, 0xFF, 1, 0]
        #expect(throws: NetlinkDecodingError.self) { try single(rawMessage(type: NLMsg.error, flags: 0x300, body: body)).decodeError() }
        body = le32(UInt32(bitPattern: -22)) + [3, 0, 1, 0]
        #expect(throws: NetlinkDecodingError.self) { try single(rawMessage(type: NLMsg.done, flags: 0x202, body: body)).decodeDone() }
    }

    @Test func extremeErrnoValues() throws {
        // INT32_MIN cannot be negated; positive values are not errnos. Neither may trap.
        for raw: UInt32 in [0x8000_0000, 0x7FFF_FFFF, 1, 0xFFFF_FFFF] {
            let body = le32(raw) + [UInt8](repeating: 0, count: 16)
            let m = try single(rawMessage(type: NLMsg.error, flags: 0x100, body: body))
            _ = try? m.decodeError()
            _ = try? single(rawMessage(type: NLMsg.done, body: le32(raw))).decodeDone()
        }
        let m = try single(rawMessage(type: NLMsg.error, flags: 0x100, body: le32(0x8000_0000) + [UInt8](repeating: 0, count: 16)))
        #expect(throws: NetlinkDecodingError.self) { try m.decodeError() }
    }

    /// Messages shaped like the kernel's replies, to mutate.
    static func seeds() -> [[UInt8]] {
        var s: [[UInt8]] = []
        // Requests we send (cover nests, veth peer, multipath, rules, neighbours).
        s.append(NetlinkRequest.newLink(LinkSpec(name: "va0", kind: .veth(peer: VethPeer(name: "vb0", namespaceFD: 7, mtu: 1400)), mtu: 1400, up: true)).encoded(sequence: 1))
        s.append(NetlinkRequest.newLink(LinkSpec(name: "vx0", kind: .vxlan(VXLANOptions(vni: 42, remote: IPAddress("10.0.0.2"), local: IPAddress("10.0.0.1"), underlayIndex: 2)))).encoded(sequence: 1))
        s.append(NetlinkRequest.newAddress(index: 3, IPPrefix("10.0.1.2/24")!).encoded(sequence: 1))
        s.append(NetlinkRequest.newAddress(index: 3, IPPrefix("fd00::1/64")!, noDAD: true).encoded(sequence: 1))
        var r = RouteInfo(family: AF.inet, destination: IPPrefix("10.9.0.0/16")!)
        r.nexthops = [RouteNexthop(gateway: IPAddress("10.0.1.2")!, index: 3), RouteNexthop(gateway: IPAddress("10.0.2.2")!, index: 4, weight: 3)]
        r.mtu = 1400; r.metric = 5; r.preferredSource = IPAddress("10.0.1.1")
        s.append(NetlinkRequest.newRoute(r).encoded(sequence: 1))
        var rule = RuleInfo(family: AF.inet, priority: 1000, source: IPPrefix("10.1.0.0/16")!, destination: IPPrefix("10.2.0.0/16"), table: 100)
        rule.inputInterface = "veth0"; rule.fwmark = 1; rule.fwmask = 0xff
        s.append(NetlinkRequest.newRule(rule).encoded(sequence: 1))
        var n = NeighborInfo(family: AF.inet6, index: 2, address: IPAddress("fd00::2"), mac: MACAddress("02:00:00:00:00:02"))
        n.vlan = 3
        s.append(NetlinkRequest.newNeighbor(n).encoded(sequence: 1))
        // Kernel-style replies.
        var link = IfInfoMsg(index: 5, flags: [.up]).bytes + rawAttr(IFLA.ifname.raw, Array("v0".utf8) + [0])
        link += rawAttr(IFLA.stats64.raw, [UInt8](repeating: 1, count: 192))
        link += rawAttr(IFLA.propList.raw | NLA.nested, rawAttr(IFLA.altIfname.raw, Array("alt".utf8) + [0]))
        link += rawAttr(IFLA.address.raw, [2, 0, 0, 0, 0, 1]) + rawAttr(IFLA.master.raw, le32(3)) + rawAttr(IFLA.operstate.raw, [6])
        link += rawAttr(IFLA.linkNetnsid.raw, le32(0))
        s.append(rawMessage(type: RTM.newLink, flags: 0x2, body: link))
        var bodyErr = le32(UInt32(bitPattern: -22)) + Array(s[2].prefix(16))
        bodyErr += rawAttr(NLMsgErrAttr.msg, Array("ipv4: Invalid prefix length".utf8) + [0]) + rawAttr(NLMsgErrAttr.offset, le32(24))
        bodyErr += rawAttr(NLMsgErrAttr.missingType, le32(3))
        s.append(rawMessage(type: NLMsg.error, flags: 0x300, body: bodyErr))
        s.append(rawMessage(type: NLMsg.error, flags: 0x200, body: le32(UInt32(bitPattern: -17)) + s[2] + rawAttr(1, Array("x".utf8) + [0])))
        s.append(rawMessage(type: NLMsg.done, flags: 0x202, body: le32(UInt32(bitPattern: -22)) + rawAttr(1, Array("bad dump".utf8) + [0])))
        // A multi-message datagram.
        s.append(s[2] + s[4] + s[8])
        return s
    }

    /// Runs every decoder on every message in `bytes`; returns whether parse succeeded.
    static func exercise(_ bytes: [UInt8], decoded: inout Int, rejected: inout Int) -> Bool {
        guard let ms = try? NetlinkMessage.parse(bytes) else { return false }
        for m in ms {
            // Every decoder on every message, whatever its type: each must throw or return.
            let results: [Bool] = [
                (try? LinkInfo(message: m)) != nil,
                (try? AddressInfo(message: m)) != nil,
                (try? RouteInfo(message: m)) != nil,
                (try? RuleInfo(message: m)) != nil,
                (try? NeighborInfo(message: m)) != nil,
                (try? m.decodeError()) != nil,
                (try? m.decodeDone()) != nil,
                (try? Attribute.parse(m.body).map { try? $0.nested() }) != nil,
            ]
            decoded += results.filter { $0 }.count
            rejected += results.filter { !$0 }.count
        }
        return true
    }

    @Test func seedsDecode() throws {
        for s in Self.seeds() {
            let ms = try NetlinkMessage.parse(s)
            #expect(!ms.isEmpty)
        }
    }

    @Test func randomAndMutatedMessages() {
        var rng = SeededRNG(seed: 0x6E65_746E_736B_6974)
        let seeds = Self.seeds()
        let interesting: [UInt32] = [0, 1, 3, 4, 7, 8, 15, 16, 17, 20, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF,
                                     0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
        // 200,000 in the suite; `NETNSKIT_FUZZ_ITERATIONS=1000000 swift test --filter randomAndMutatedMessages`
        // runs the long form (documented in the README).
        let iterations = ProcessInfo.processInfo.environment["NETNSKIT_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 200_000
        let deadline = ContinuousClock.now + .seconds(iterations > 200_000 ? 3600 : 120)
        var parsed = 0, unparsable = 0, decoded = 0, rejected = 0, ran = 0
        for i in 0..<iterations {
            var b: [UInt8]
            switch i % 4 {
            case 0:
                // Pure random bytes, sometimes behind a valid-looking header.
                let n = Int.random(in: 0...96, using: &rng)
                let body = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                b = rng.next() & 1 == 0 ? body
                    : rawMessage(type: UInt16.random(in: 0...40, using: &rng), flags: UInt16.random(in: 0...0x3FF, using: &rng), body: body)
            default:
                b = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    guard !b.isEmpty else { break }
                    let at = Int.random(in: 0..<b.count, using: &rng)
                    switch Int.random(in: 0..<6, using: &rng) {
                    case 0: b[at] = UInt8.random(in: 0...255, using: &rng)
                    case 1: b[at] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
                    case 2:
                        // A boundary value over a 16- or 32-bit field (lengths, types, errno).
                        let v = interesting.randomElement(using: &rng)!
                        let w = rng.next() & 1 == 0 ? le16(UInt16(truncatingIfNeeded: v)) : le32(v)
                        for (k, x) in w.enumerated() where at + k < b.count { b[at + k] = x }
                    case 3: b.removeSubrange(at...)
                    case 4: b.insert(contentsOf: (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
                    default:
                        // Fix up the outer length so the corruption reaches the body decoders.
                        if b.count >= 16 { b.replaceSubrange(0..<4, with: le32(UInt32(b.count))) }
                    }
                }
            }
            if Self.exercise(b, decoded: &decoded, rejected: &rejected) { parsed += 1 } else { unparsable += 1 }
            ran += 1
            if i % 1024 == 0 && ContinuousClock.now > deadline { break }
        }
        print("malformed-input loop: \(ran) inputs, \(parsed) parsed, \(unparsable) rejected by parse; decoders: \(decoded) ok, \(rejected) threw")
        // Not a tautology: both paths were exercised, and the loop ran (nearly) to completion.
        #expect(ran >= min(50_000, iterations))
        #expect(parsed > ran / 10)
        #expect(unparsable > ran / 10)
        #expect(decoded > 0 && rejected > 0)
    }
}

import Glibc
import Netlink
import Testing

/// The codec parses and prints addresses in Swift; glibc's `inet_pton`/`inet_ntop` are the
/// reference it must agree with, byte for byte and character for character.
@Suite struct AddressTextTests {
    static func libcParse(_ text: String) -> [UInt8]? {
        if text.contains(":") {
            var a = in6_addr()
            return inet_pton(AF_INET6, text, &a) == 1 ? withUnsafeBytes(of: &a) { Array($0) } : nil
        }
        var a = in_addr()
        return inet_pton(AF_INET, text, &a) == 1 ? withUnsafeBytes(of: &a) { Array($0) } : nil
    }

    static func libcFormat(_ bytes: [UInt8]) -> String {
        var b = bytes
        var buf = [CChar](repeating: 0, count: 64)
        _ = inet_ntop(bytes.count == 4 ? AF_INET : AF_INET6, &b, &buf, socklen_t(buf.count))
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Hand-picked edge cases: zero runs of every length and place, embedded dotted quads,
    /// leading zeros, case, too many and too few groups, stray colons and characters.
    static let edgeCases = [
        "", ":", "::", ":::", "::1", "1::", "1::1", "::1:0", "0::0", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", "1::2::3", "1:::2", ":1::2", "1::2:", "1:2", "12345::", "0000:0000::0000",
        "FFFF::ffff", "fd00:0:0:1::", "1:0:0:2:0:0:0:3", "1:0:0:0:2:0:0:3", "0:0:1:0:0:0:0:0", "::ffff:1.2.3.4", "::1.2.3.4",
        "::0.0.0.2", "::0.0.0.1", "::ffff:0:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "::1.2.3.4.5",
        "::01.2.3.4", "::1.2.3.4:5", "1.2.3.4::", "::a.2.3.4", "fe80::1%eth0", "g::", " ::1", "::1 ", "::+1",
        "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "0.0.0.00", "1..2.3", ".1.2.3", "1.2.3.",
        "1.2.3.4 ", "1.2.3.-4", "1.2.3.+4", "1e1.2.3.4", "0x1.2.3.4", "99999999999.1.1.1", "4294967296.0.0.0",
    ]

    @Test func parsingAgreesWithInetPton() {
        for t in Self.edgeCases {
            #expect(IPAddress(t)?.bytes == Self.libcParse(t), "\(t)")
        }
    }

    @Test func formattingAgreesWithInetNtop() {
        var rng = SystemRandomNumberGenerator()
        var samples: [[UInt8]] = Self.edgeCases.compactMap(Self.libcParse)
        // Random addresses whose groups are mostly zero, so runs of every length and position appear.
        for _ in 0..<20_000 {
            samples.append((0..<8).flatMap { _ -> [UInt8] in
                switch UInt8.random(in: 0..<4, using: &rng) {
                case 0: return [UInt8.random(in: 0...255, using: &rng), UInt8.random(in: 0...255, using: &rng)]
                case 1: return [0, UInt8.random(in: 0...2, using: &rng)]
                case 2: return [0xff, 0xff]
                default: return [0, 0]
                }
            })
        }
        for _ in 0..<2_000 { samples.append((0..<4).map { _ in UInt8.random(in: 0...255, using: &rng) }) }
        for b in samples {
            let a = IPAddress(bytes: b)!
            #expect(a.description == Self.libcFormat(b), "\(b)")
            #expect(IPAddress(a.description) == a, "\(a) does not read back")
        }
    }

    @Test func randomTextAgreesWithInetPton() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789abcdefABCDEF:.:.:g% ")
        for _ in 0..<20_000 {
            let t = String((0..<Int.random(in: 1...20, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            #expect(IPAddress(t)?.bytes == Self.libcParse(t), "\(t)")
        }
    }
}

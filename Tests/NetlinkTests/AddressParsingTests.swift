import Foundation
import Netlink
import Testing

@Suite struct AddressParsingTests {
    @Test(arguments: [
        ("10.0.0.1", "10.0.0.1", [10, 0, 0, 1] as [UInt8]),
        ("0.0.0.0", "0.0.0.0", [0, 0, 0, 0]),
        ("255.255.255.255", "255.255.255.255", [255, 255, 255, 255]),
        ("::", "::", [UInt8](repeating: 0, count: 16)),
        ("fd00::1", "fd00::1", [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        ("FD00:0:0::0001", "fd00::1", [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]),
    ])
    func validIPAddresses(text: String, canonical: String, bytes: [UInt8]) throws {
        let a = try #require(IPAddress(text))
        #expect(a.description == canonical)
        #expect(a.bytes == bytes)
        #expect(IPAddress(bytes: bytes) == a)
        #expect(a.bitWidth == bytes.count * 8)
        #expect(a.family == (bytes.count == 4 ? AF.inet : AF.inet6))
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1.2.3.-4",
                      "a.b.c.d", "fd00::1::2", "gggg::1", "fd00::1%eth0", "1:2:3:4:5:6:7:8:9", ":", "10.0.0.0/8"])
    func invalidIPAddresses(text: String) {
        #expect(IPAddress(text) == nil, "\(text) parsed")
    }

    @Test func addressBytesOfWrongLength() {
        #expect(IPAddress(bytes: []) == nil)
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
        #expect(IPAddress(bytes: [UInt8](repeating: 1, count: 15)) == nil)
    }

    @Test func arithmeticAndOrdering() {
        #expect(IPAddress("10.0.0.255")!.adding(1) == IPAddress("10.0.1.0"))
        #expect(IPAddress("255.255.255.255")!.adding(1) == IPAddress("0.0.0.0"))
        #expect(IPAddress("::ffff:ffff:ffff:ffff")!.adding(1) == IPAddress("0:0:0:1::"))
        #expect(IPAddress("10.1.2.3")!.masked(16) == IPAddress("10.1.0.0"))
        #expect(IPAddress("fd00::1:2")!.masked(64) == IPAddress("fd00::"))
        #expect(IPAddress("fd00::1:2")!.masked(0) == IPAddress("::"))
        #expect(IPAddress("10.0.0.1")! < IPAddress("10.0.0.2")!)
        #expect(IPAddress("255.0.0.0")! < IPAddress("::")!)
    }

    @Test func prefixes() throws {
        let p = try #require(IPPrefix("10.1.2.3/16"))
        #expect(p.length == 16 && p.address == IPAddress("10.1.2.3"))
        #expect(p.description == "10.1.2.3/16")
        #expect(!p.isNetwork)
        #expect(p.network == IPPrefix("10.1.0.0/16"))
        #expect(p.contains(IPAddress("10.1.255.1")!))
        #expect(!p.contains(IPAddress("10.2.0.1")!))
        #expect(!p.contains(IPAddress("::a01:0")!))
        #expect(p.overlaps(IPPrefix("10.0.0.0/8")!))
        #expect(!p.overlaps(IPPrefix("10.2.0.0/16")!))
        #expect(IPPrefix("10.0.0.1")?.length == 32)
        #expect(IPPrefix("fd00::1")?.length == 128)
        #expect(IPPrefix("0.0.0.0/0")?.contains(IPAddress("1.2.3.4")!) == true)
        #expect(IPPrefix("fd00::/8")?.isNetwork == true)
    }

    @Test(arguments: ["10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/", "10.0.0.0/8/9", "/8", "fd00::/129",
                      "10.0.0.0/ 8", "10.0.0.0/x", "300.0.0.0/8", ""])
    func invalidPrefixes(text: String) {
        #expect(IPPrefix(text) == nil, "\(text) parsed")
    }

    @Test func macAddresses() throws {
        let m = try #require(MACAddress("02:AB:cd:00:0f:ff"))
        #expect(m.bytes == [0x02, 0xab, 0xcd, 0x00, 0x0f, 0xff])
        #expect(m.description == "02:ab:cd:00:0f:ff")
        #expect(MACAddress("02-ab-cd-00-0f-ff") == m)
        #expect(MACAddress(bytes: [1, 2, 3]) == nil)
    }

    @Test(arguments: ["", "02:ab:cd:00:0f", "02:ab:cd:00:0f:ff:01", "02:ab:cd:00:0f:fff", "2:ab:cd:00:0f:ff",
                      "02::ab:cd:00:0f:ff", ":02:ab:cd:00:0f:ff", "02:ab:cd:00:0f:ff:", "+2:ab:cd:00:0f:ff",
                      "-2:ab:cd:00:0f:ff", "02:ab:cd:00:0f:gg", "02:ab-cd:00:0f:ff", "02 ab cd 00 0f ff"])
    func invalidMACAddresses(text: String) {
        #expect(MACAddress(text) == nil, "\(text) parsed")
    }

    @Test func codableAsStrings() throws {
        struct Box: Codable, Equatable { var a: IPAddress; var p: IPPrefix; var m: MACAddress }
        let b = Box(a: IPAddress("fd00::1")!, p: IPPrefix("10.0.0.0/8")!, m: MACAddress("02:00:00:00:00:01")!)
        let json = try JSONEncoder().encode(b)
        #expect(String(decoding: json, as: UTF8.self).contains("\"10.0.0.0\\/8\"") ||
                String(decoding: json, as: UTF8.self).contains("\"10.0.0.0/8\""))
        #expect(try JSONDecoder().decode(Box.self, from: json) == b)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Box.self, from: Data(#"{"a":"1.2.3","p":"10.0.0.0/8","m":"02:00:00:00:00:01"}"#.utf8))
        }
    }
}

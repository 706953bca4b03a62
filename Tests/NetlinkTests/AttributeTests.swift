import Netlink
import Testing

@Suite struct AttributeTests {
    @Test func alignmentAndPadding() {
        var w = AttributeWriter()
        w.put(AttrType(1, "A"), UInt8(0xAB))              // len 5, 3 bytes padding
        w.putFlag(AttrType(2, "FLAG"))                    // len 4, no payload
        w.put(AttrType(3, "S"), "ab")                      // len 7 ("ab\0"), 1 byte padding
        w.put(AttrType(4, "Q"), UInt64(0x0102_0304_0506_0708)) // len 12
        w.putBE(AttrType(5, "PORT"), 4789)                 // len 6, big-endian, 2 bytes padding
        #expect(w.bytes == [
            5, 0, 1, 0, 0xAB, 0, 0, 0,
            4, 0, 2, 0,
            7, 0, 3, 0, 0x61, 0x62, 0, 0,
            12, 0, 4, 0, 8, 7, 6, 5, 4, 3, 2, 1,
            6, 0, 5, 0, 0x12, 0xB5, 0, 0,
        ])
        #expect(w.bytes.count % 4 == 0)
        // Spans record the unpadded length.
        #expect(w.spans.map(\.length) == [5, 4, 7, 12, 6])
        #expect(w.spans.map(\.offset) == [0, 8, 12, 20, 32])
    }

    @Test func nestingLengthsFlagsAndParse() throws {
        var w = AttributeWriter()
        w.appendHeader([9, 9, 9, 9]) // a fixed header, unpadded, not an attribute
        w.nest(AttrType(10, "OUTER"), nestedFlag: true) { o in
            o.put(AttrType(1, "X"), UInt32(7))
            o.nest(AttrType(2, "INNER")) { i in
                i.put(AttrType(3, "Y"), UInt8(1))
                i.putFlag(AttrType(4, "Z"))
            }
        }
        // OUTER = 4 + X(8) + INNER(4 + Y 8 + Z 4 = 16) = 28
        #expect(w.bytes == [9, 9, 9, 9,
                            28, 0, 10, 0x80,          // NLA_F_NESTED set on OUTER only
                            8, 0, 1, 0, 7, 0, 0, 0,
                            16, 0, 2, 0,
                            5, 0, 3, 0, 1, 0, 0, 0,
                            4, 0, 4, 0])
        #expect(w.spans.map(\.name) == ["OUTER.X", "OUTER.INNER.Y", "OUTER.INNER.Z", "OUTER.INNER", "OUTER"])

        let top = try Attribute.parse(w.bytes[4...])
        #expect(top.count == 1)
        #expect(top[0].type == 10)       // flag bits stripped
        #expect(top[0].isNested)
        let inner = try top[0].nested()
        #expect(inner.map(\.type) == [1, 2])
        #expect(try inner[0].uint32() == 7)
        #expect(!inner[1].isNested)
        let leaves = try inner[1].nested()
        #expect(leaves.map(\.type) == [3, 4])
        #expect(try leaves[0].uint8() == 1)
        #expect(leaves[1].payload.isEmpty)
    }

    @Test func typedReadersRejectShortPayloads() throws {
        let attrs = try Attribute.parse(ArraySlice(rawAttr(1, [1, 2]) + rawAttr(2, [1, 2, 3]) + rawAttr(3, [])))
        #expect(try attrs[0].uint16() == 0x0201)
        #expect(throws: NetlinkDecodingError.self) { try attrs[0].uint32() }
        #expect(throws: NetlinkDecodingError.self) { try attrs[1].ipAddress() }
        #expect(throws: NetlinkDecodingError.self) { try attrs[1].macAddress() }
        #expect(throws: NetlinkDecodingError.self) { try attrs[2].uint8() }
        #expect(throws: NetlinkDecodingError.self) { try attrs[2].uint64() }
        #expect(attrs[2].string() == "")
    }

    @Test func netByteOrderFlagIsStripped() throws {
        let a = try Attribute.parse(ArraySlice(rawAttr(0x4000 | 15, le32(1))))
        #expect(a.first?.type == 15)
        #expect(a.first?.isNested == false)
    }

    @Test func stringsStopAtTheFirstNul() throws {
        let a = try Attribute.parse(ArraySlice(rawAttr(3, Array("eth0".utf8) + [0, 0x41, 0x42])))
        #expect(a[0].string() == "eth0")
        let unterminated = try Attribute.parse(ArraySlice(rawAttr(3, Array("eth1".utf8))))
        #expect(unterminated[0].string() == "eth1")
    }

    @Test func malformedRuns() {
        // Length shorter than the attribute header.
        #expect(throws: NetlinkDecodingError.self) { try Attribute.parse(ArraySlice([3, 0, 1, 0, 0, 0, 0, 0])) }
        #expect(throws: NetlinkDecodingError.self) { try Attribute.parse(ArraySlice([0, 0, 1, 0])) }
        // Length past the end.
        #expect(throws: NetlinkDecodingError.self) { try Attribute.parse(ArraySlice([12, 0, 1, 0, 0, 0, 0, 0])) }
        // Stray non-zero bytes after the last attribute.
        #expect(throws: NetlinkDecodingError.self) { try Attribute.parse(ArraySlice([4, 0, 1, 0, 1, 2])) }
        // Zero padding after the last attribute is tolerated; an empty run is empty.
        #expect((try? Attribute.parse(ArraySlice([4, 0, 1, 0, 0, 0])))?.count == 1)
        #expect((try? Attribute.parse(ArraySlice<UInt8>([])))?.isEmpty == true)
        // The last attribute may omit its trailing padding (the kernel never does, but it's legal).
        #expect((try? Attribute.parse(ArraySlice([5, 0, 1, 0, 7])))?.first?.payload == [7])
    }

    @Test func parseWorksOnSlicesThatDoNotStartAtZero() throws {
        let bytes: [UInt8] = [0xEE, 0xEE, 0xEE] + rawAttr(4, le32(1500)) + rawAttr(3, Array("lo".utf8) + [0])
        let attrs = try Attribute.parse(bytes[3...])
        #expect(try attrs.first(IFLA.mtu)?.uint32() == 1500)
        #expect(attrs.first(IFLA.ifname)?.string() == "lo")
        #expect(attrs.all(IFLA.mtu).count == 1)
    }

    @Test func oversizedAttributeIsRejectedNotTruncated() async {
        // A payload that does not fit the 16-bit length must not wrap silently.
        await #expect(processExitsWith: .failure) {
            var w = AttributeWriter()
            w.put(AttrType(1, "BIG"), bytes: [UInt8](repeating: 0, count: 70_000))
        }
    }
}

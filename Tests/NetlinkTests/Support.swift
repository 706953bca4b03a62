@testable import Netlink

/// Builds one netlink message from a header and a body (the length is computed).
func rawMessage(type: UInt16, flags: UInt16 = 0, sequence: UInt32 = 1, portID: UInt32 = 0, body: [UInt8]) -> [UInt8] {
    var b: [UInt8] = []
    b += le32(UInt32(16 + body.count)); b += le16(type); b += le16(flags); b += le32(sequence); b += le32(portID)
    return b + body
}

func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

/// One attribute, padded: `len | type | payload | padding`.
func rawAttr(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
    var b = le16(UInt16(4 + payload.count)) + le16(type) + payload
    while b.count % 4 != 0 { b.append(0) }
    return b
}

/// Parses bytes that must hold exactly one message.
func single(_ bytes: [UInt8]) throws -> NetlinkMessage {
    let ms = try NetlinkMessage.parse(bytes)
    guard ms.count == 1 else { throw Mismatch("expected one message, got \(ms.count)") }
    return ms[0]
}

struct Mismatch: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A small, seeded, reproducible generator (SplitMix64).
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Hex dump for failure messages.
func hex(_ b: [UInt8]) -> String {
    b.map { let s = String($0, radix: 16); return s.count == 1 ? "0" + s : s }.joined(separator: " ")
}

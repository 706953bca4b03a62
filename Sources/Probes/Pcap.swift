import SystemPackage
import Glibc
import CNetlink
import Namespaces

/// Classic libpcap files (`.pcap`, not pcapng), as `tcpdump -w` writes them.
public enum Pcap {
    /// `LINKTYPE_ETHERNET`: frames start with an Ethernet header (veth, bridge, lo).
    public static let linkTypeEthernet: UInt32 = 1

    /// The file header: magic 0xa1b2c3d4 (microsecond timestamps), version 2.4, zone 0,
    /// sigfigs 0, snap length, link type; little-endian as written on this machine.
    public static func header(snapLength: UInt32 = 262_144, linkType: UInt32 = linkTypeEthernet) -> [UInt8] {
        var b: [UInt8] = []
        b.pcapAppendLE(UInt32(0xa1b2_c3d4))
        b.pcapAppendLE(UInt16(2))
        b.pcapAppendLE(UInt16(4))
        b.pcapAppendLE(Int32(0))
        b.pcapAppendLE(UInt32(0))
        b.pcapAppendLE(snapLength)
        b.pcapAppendLE(linkType)
        return b
    }

    /// One record: seconds, microseconds, captured length, original length, then the bytes.
    public static func record(_ p: CapturedPacket) -> [UInt8] {
        var sec = p.timestamp.rounded(.down)
        var usec = ((p.timestamp - sec) * 1_000_000).rounded()
        if usec >= 1_000_000 { sec += 1; usec -= 1_000_000 }
        var b: [UInt8] = []
        b.reserveCapacity(16 + p.bytes.count)
        b.pcapAppendLE(UInt32(truncatingIfNeeded: Int64(sec)))
        b.pcapAppendLE(UInt32(usec))
        b.pcapAppendLE(UInt32(p.bytes.count))
        b.pcapAppendLE(UInt32(max(p.originalLength, p.bytes.count)))
        b += p.bytes
        return b
    }

    /// A whole file in memory.
    public static func file(_ packets: [CapturedPacket]) -> [UInt8] {
        var b = header()
        for p in packets { b += record(p) }
        return b
    }
}

extension Array where Element == CapturedPacket {
    /// Writes the packets as a classic pcap file (Ethernet link type, microsecond timestamps)
    /// that `tcpdump -r PATH` and Wireshark read. Equivalent to `tcpdump -w PATH`.
    /// - Throws: ``ProbeError`` when the file cannot be written.
    public func writePcap(path: String) throws {
        let bytes = Pcap.file(self)
        let fd = try sys("open \(path)") { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        defer { close(fd) }
        var off = 0
        while off < bytes.count {
            let n = try sys("write \(path)") { bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) } }
            off += n
        }
    }
}

extension Array where Element == UInt8 {
    mutating func pcapAppendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}

import Glibc
import SystemPackage
import CNetlink

/// tun/tap devices, created through `/dev/net/tun` (the kernel does not create them over rtnetlink).
extension NetworkNamespace {
    /// tun (layer 3) or tap (layer 2).
    public enum TunTapMode: Sendable { case tun, tap }

    /// Creates a persistent tun or tap device inside the namespace. Equivalent to `ip tuntap add dev NAME mode tun|tap`.
    /// - Parameter index: The ifindex to give the device (`TUNSETIFINDEX`); 0 lets the kernel choose.
    /// - Throws: ``ArgumentError`` for an empty name or one longer than 15 bytes; EACCES/EPERM
    ///   rootless when `/dev/net/tun` is root-only on this host.
    public func addTunTap(name: String, mode: TunTapMode, index: Int32 = 0) throws {
        guard (1...15).contains(name.utf8.count) else {
            throw ArgumentError("addTunTap name \"\(name)\" (\(name.utf8.count) bytes)", "interface names are 1 to 15 bytes")
        }
        try run {
            let fd = try sys("open /dev/net/tun") { Glibc.open("/dev/net/tun", O_RDWR | O_CLOEXEC) }
            defer { Glibc.close(fd) }
            // struct ifreq: char ifr_name[16]; short ifr_flags; (padded to 40 bytes)
            var req = [UInt8](repeating: 0, count: 40)
            for (i, b) in name.utf8.enumerated() { req[i] = b }
            let flags: UInt16 = (mode == .tun ? 0x0001 : 0x0002) | 0x1000 // IFF_TUN/IFF_TAP | IFF_NO_PI
            req[16] = UInt8(flags & 0xff); req[17] = UInt8(flags >> 8)
            let TUNSETIFF: UInt = 0x4004_54ca, TUNSETPERSIST: UInt = 0x4004_54cb, TUNSETIFINDEX: UInt = 0x4004_54da
            if index != 0 {
                var wanted = UInt32(bitPattern: index)
                try sys("ioctl(TUNSETIFINDEX \(index))") { cnl_ioctl_ptr(fd, TUNSETIFINDEX, &wanted) }
            }
            try sys("ioctl(TUNSETIFF \(name))") { req.withUnsafeMutableBytes { cnl_ioctl_ptr(fd, TUNSETIFF, $0.baseAddress) } }
            try sys("ioctl(TUNSETPERSIST \(name))") { cnl_ioctl_int(fd, TUNSETPERSIST, 1) }
        }
    }
}

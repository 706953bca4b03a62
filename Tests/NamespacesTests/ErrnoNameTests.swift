import CNetlink
import Netlink
import SystemPackage
import Testing

/// `ErrnoNames` maps `Errno`'s constants to their symbolic names by hand; the C library's
/// own table (`strerrorname_np`) is the reference every name must match.
@Suite struct ErrnoNameTests {
    @Test func namesMatchTheCLibrary() throws {
        var named = 0
        for raw in Int32(1)...Int32(133) {
            let ours = ErrnoNames.name(Errno(rawValue: raw))
            guard !ours.hasPrefix("errno ") else { continue }
            let libc = try #require(cnl_errno_name(raw).map { String(cString: $0) }, "errno \(raw)")
            // Aliases (EWOULDBLOCK = EAGAIN, ENOTSUP = EOPNOTSUPP): the C library names one of them.
            #expect(ours == libc, "errno \(raw): \(ours), the C library says \(libc)")
            named += 1
        }
        #expect(named >= 40, "only \(named) errnos have names")
        #expect(ErrnoNames.text(.fileExists) == "File exists")
        #expect(ErrnoNames.name(Errno(rawValue: 4242)) == "errno 4242")
    }
}

import Glibc
import Netlink
import Synchronization
import SystemPackage

/// Waits on many rtnetlink sockets at once for notifications, on one thread, with a wake-up
/// descriptor so that another thread can end the wait at once.
///
/// Each socket is opened in its namespace (``NetworkNamespace/run(_:)``) and subscribed to the
/// groups wanted (``RTNetlinkSocket/subscribe(group:)``); the listener only polls and reads.
public final class NotificationListener: @unchecked Sendable {
    /// The sockets listened to, in the order given.
    public let sockets: [RTNetlinkSocket]
    /// A pipe: ``wake()`` writes a byte to its end 1, the wait polls its end 0.
    private let wakePipe: (Int32, Int32)

    /// A listener over `sockets`.
    /// - Throws: `SystemCallError` when the wake-up pipe cannot be made.
    public init(_ sockets: [RTNetlinkSocket]) throws {
        self.sockets = sockets
        var fds: [Int32] = [-1, -1]
        try sys("pipe") { pipe(&fds) }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        wakePipe = (fds[0], fds[1])
    }

    deinit { close(wakePipe.0); close(wakePipe.1) }

    /// What one wait found.
    public enum Arrival: Sendable {
        /// Messages that arrived on the socket at this index.
        case messages(Int, [NetlinkMessage])
        /// The socket at this index lost notifications: its receive buffer overflowed (`ENOBUFS`).
        case overflow(Int)
    }

    /// Waits up to `timeout` seconds (negative: no limit) for notifications on any socket, or
    /// until ``wake()``.
    /// - Returns: what arrived, per socket; empty on a timeout or a wake-up.
    public func wait(timeout: Double) throws -> [Arrival] {
        var fds = [pollfd(fd: wakePipe.0, events: Int16(POLLIN), revents: 0)]
        fds += sockets.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        let ms: Int32 = timeout < 0 ? -1 : Int32(min(timeout * 1000, Double(Int32.max)))
        let n = try sys("poll(rtnetlink notifications)") { poll(&fds, nfds_t(fds.count), ms) }
        if n == 0 { return [] }
        if fds[0].revents != 0 {
            var drain = [UInt8](repeating: 0, count: 64)
            while read(wakePipe.0, &drain, drain.count) > 0 {}
        }
        var out: [Arrival] = []
        for (i, p) in fds.dropFirst().enumerated() where p.revents != 0 {
            // Read what is queued, without blocking (the socket may have several datagrams).
            while true {
                do {
                    let m = try sockets[i].waitForMessages(timeout: 0)
                    if m.isEmpty { break }
                    out.append(.messages(i, m))
                } catch let e as SystemCallError where e.errno == .noBufferSpace {
                    // The kernel dropped notifications; the socket works on.
                    out.append(.overflow(i))
                } catch {
                    throw error
                }
            }
        }
        return out
    }

    /// Ends a ``wait(timeout:)`` in progress on another thread (or the next one) at once.
    public func wake() {
        var one: UInt8 = 1
        _ = write(wakePipe.1, &one, 1)
    }
}

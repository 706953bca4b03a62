/// An error the kernel returned for one of our requests.
///
/// It reads like `ip` output: what was being done, the request, errno by name,
/// and the kernel's own explanation when it gave one:
/// `adding 10.0.1.2/24 to eth0 in ns h1 (RTM_NEWADDR): File exists (EEXIST): "ipv4: Address already assigned"`.
public struct NetlinkError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Positive errno value.
    public var errno: Int32
    /// The kernel's extack text, if any.
    public var kernelMessage: String?
    /// The attribute the kernel pointed at (`NLMSGERR_ATTR_OFFS` mapped back to what we sent).
    public var attribute: String?
    /// The request type, e.g. `RTM_NEWADDR`.
    public var request: String
    /// What we were doing.
    public var what: String

    public init(errno: Int32, kernelMessage: String?, attribute: String?, request: String, what: String) {
        self.errno = errno; self.kernelMessage = kernelMessage; self.attribute = attribute
        self.request = request; self.what = what
    }

    public var errnoName: String { ErrnoNames.name(errno) }

    /// True when the kernel said the link kind does not exist in this kernel.
    public var isUnknownLinkKind: Bool {
        errno == 95 && (kernelMessage?.contains("Unknown device type") ?? false)
    }

    /// True when the kernel has no such qdisc kind.
    public var isUnknownQdiscKind: Bool {
        (errno == 2 || errno == 22 || errno == 95) && (kernelMessage?.contains("qdisc kind is unknown") ?? false)
    }

    public var description: String {
        var s = "\(what) (\(request)): \(ErrnoNames.text(errno)) (\(errnoName))"
        if let m = kernelMessage, !m.isEmpty { s += ": \"\(m)\"" }
        if let a = attribute { s += " [attribute \(a)]" }
        return s
    }
}

/// A dump that stayed inconsistent (`NLM_F_DUMP_INTR`) after every retry.
public struct InconsistentDumpError: Error, Sendable, CustomStringConvertible {
    public var what: String
    public var attempts: Int
    public init(what: String, attempts: Int) { self.what = what; self.attempts = attempts }
    public var description: String {
        "\(what): the kernel reported an interrupted (inconsistent) dump \(attempts) times in a row (NLM_F_DUMP_INTR); gave up"
    }
}

/// Errno names and texts, without touching libc's thread-local state.
public enum ErrnoNames {
    static let table: [Int32: (String, String)] = [
        1: ("EPERM", "Operation not permitted"), 2: ("ENOENT", "No such file or directory"),
        3: ("ESRCH", "No such process"), 4: ("EINTR", "Interrupted system call"),
        5: ("EIO", "Input/output error"), 7: ("E2BIG", "Argument list too long"),
        9: ("EBADF", "Bad file descriptor"), 11: ("EAGAIN", "Resource temporarily unavailable"),
        12: ("ENOMEM", "Cannot allocate memory"), 13: ("EACCES", "Permission denied"),
        14: ("EFAULT", "Bad address"), 16: ("EBUSY", "Device or resource busy"),
        17: ("EEXIST", "File exists"), 19: ("ENODEV", "No such device"),
        20: ("ENOTDIR", "Not a directory"), 22: ("EINVAL", "Invalid argument"),
        23: ("ENFILE", "Too many open files in system"), 24: ("EMFILE", "Too many open files"),
        28: ("ENOSPC", "No space left on device"), 34: ("ERANGE", "Numerical result out of range"),
        38: ("ENOSYS", "Function not implemented"), 39: ("ENOTEMPTY", "Directory not empty"),
        61: ("ENODATA", "No data available"), 71: ("EPROTO", "Protocol error"),
        75: ("EOVERFLOW", "Value too large for defined data type"),
        90: ("EMSGSIZE", "Message too long"), 93: ("EPROTONOSUPPORT", "Protocol not supported"),
        95: ("EOPNOTSUPP", "Operation not supported"), 97: ("EAFNOSUPPORT", "Address family not supported by protocol"),
        98: ("EADDRINUSE", "Address already in use"), 99: ("EADDRNOTAVAIL", "Cannot assign requested address"),
        100: ("ENETDOWN", "Network is down"), 101: ("ENETUNREACH", "Network is unreachable"),
        104: ("ECONNRESET", "Connection reset by peer"), 105: ("ENOBUFS", "No buffer space available"),
        110: ("ETIMEDOUT", "Connection timed out"), 111: ("ECONNREFUSED", "Connection refused"),
        113: ("EHOSTUNREACH", "No route to host"), 114: ("EALREADY", "Operation already in progress"),
        115: ("EINPROGRESS", "Operation now in progress"), 106: ("EISCONN", "Transport endpoint is already connected"),
        107: ("ENOTCONN", "Transport endpoint is not connected"), 103: ("ECONNABORTED", "Software caused connection abort"),
        92: ("ENOPROTOOPT", "Protocol not available"), 94: ("ESOCKTNOSUPPORT", "Socket type not supported"),
        18: ("EXDEV", "Invalid cross-device link"), 6: ("ENXIO", "No such device or address"),
        30: ("EROFS", "Read-only file system"),
    ]
    /// `EEXIST` for 17.
    public static func name(_ e: Int32) -> String { table[e]?.0 ?? "errno \(e)" }
    /// `File exists` for 17.
    public static func text(_ e: Int32) -> String { table[e]?.1 ?? "error \(e)" }
}

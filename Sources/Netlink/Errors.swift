import SystemPackage

/// An error that carries the errno it failed with: ``NetlinkError`` here, and the kernel edge's
/// system call errors, so a caller tests errno through one cast.
public protocol ErrnoCarrying: Error {
    /// The errno of the failure.
    var errno: Errno { get }
}

/// An error the kernel returned for one of our requests.
///
/// It reads like `ip` output: what was being done, the request, errno by name,
/// and the kernel's own explanation when it gave one:
/// `adding 10.0.1.2/24 to eth0 in ns h1 (RTM_NEWADDR): File exists (EEXIST): "ipv4: Address already assigned"`.
public struct NetlinkError: ErrnoCarrying, Sendable, CustomStringConvertible, Equatable {
    /// The errno the kernel answered with.
    public var errno: Errno
    /// The kernel's extack text, if any.
    public var kernelMessage: String?
    /// The attribute the kernel pointed at (`NLMSGERR_ATTR_OFFS` mapped back to what we sent).
    public var attribute: String?
    /// The request type, e.g. `RTM_NEWADDR`.
    public var request: String
    /// What we were doing.
    public var what: String

    /// An error with these parts.
    public init(errno: Errno, kernelMessage: String?, attribute: String?, request: String, what: String) {
        self.errno = errno; self.kernelMessage = kernelMessage; self.attribute = attribute
        self.request = request; self.what = what
    }

    /// The symbolic errno name, such as `EEXIST`.
    public var errnoName: String { ErrnoNames.name(errno) }

    /// True when the kernel said the link kind does not exist in this kernel.
    public var isUnknownLinkKind: Bool {
        errno == .notSupported && (kernelMessage?.contains("Unknown device type") ?? false)
    }

    /// True when the kernel has no such qdisc kind.
    public var isUnknownQdiscKind: Bool {
        [.noSuchFileOrDirectory, .invalidArgument, .notSupported].contains(errno) && (kernelMessage?.contains("qdisc kind is unknown") ?? false)
    }

    /// What was being done, the request, errno by text and name, the kernel's message and the attribute.
    public var description: String {
        var s = "\(what) (\(request)): \(ErrnoNames.text(errno)) (\(errnoName))"
        if let m = kernelMessage, !m.isEmpty { s += ": \"\(m)\"" }
        if let a = attribute { s += " [attribute \(a)]" }
        return s
    }
}

/// A dump that stayed inconsistent (`NLM_F_DUMP_INTR`) after every retry.
public struct InconsistentDumpError: Error, Sendable, CustomStringConvertible {
    /// What the dump was for, in words.
    public var what: String
    /// How many dumps were tried.
    public var attempts: Int
    /// An error for the dump `what` after `attempts` tries.
    public init(what: String, attempts: Int) { self.what = what; self.attempts = attempts }
    /// What the dump was for, and how many times it was interrupted.
    public var description: String {
        "\(what): the kernel reported an interrupted (inconsistent) dump \(attempts) times in a row (NLM_F_DUMP_INTR); gave up"
    }
}

/// Errno names and texts. The text is libc's (`strerror`, through `Errno.description`); the
/// symbolic name comes from `Errno`'s constants, which are the platform's own values.
public enum ErrnoNames {
    /// `EEXIST` for `.fileExists`; `errno N` for a value without a name here.
    public static func name(_ e: Errno) -> String {
        switch e {
        case .notPermitted: return "EPERM"
        case .noSuchFileOrDirectory: return "ENOENT"
        case .noSuchProcess: return "ESRCH"
        case .interrupted: return "EINTR"
        case .ioError: return "EIO"
        case .argListTooLong: return "E2BIG"
        case .badFileDescriptor: return "EBADF"
        case .resourceTemporarilyUnavailable: return "EAGAIN"
        case .noMemory: return "ENOMEM"
        case .permissionDenied: return "EACCES"
        case .badAddress: return "EFAULT"
        case .resourceBusy: return "EBUSY"
        case .fileExists: return "EEXIST"
        case .operationNotSupportedByDevice: return "ENODEV"
        case .notDirectory: return "ENOTDIR"
        case .invalidArgument: return "EINVAL"
        case .tooManyOpenFilesInSystem: return "ENFILE"
        case .tooManyOpenFiles: return "EMFILE"
        case .noSpace: return "ENOSPC"
        case .outOfRange: return "ERANGE"
        case .noFunction: return "ENOSYS"
        case .directoryNotEmpty: return "ENOTEMPTY"
        case .noData: return "ENODATA"
        case .protocolError: return "EPROTO"
        case .overflow: return "EOVERFLOW"
        case .messageTooLong: return "EMSGSIZE"
        case .protocolNotSupported: return "EPROTONOSUPPORT"
        case .notSupportedOnSocket: return "EOPNOTSUPP"  // also .notSupported (ENOTSUP) on Linux
        case .addressFamilyNotSupported: return "EAFNOSUPPORT"
        case .addressInUse: return "EADDRINUSE"
        case .addressNotAvailable: return "EADDRNOTAVAIL"
        case .networkDown: return "ENETDOWN"
        case .networkUnreachable: return "ENETUNREACH"
        case .connectionReset: return "ECONNRESET"
        case .noBufferSpace: return "ENOBUFS"
        case .timedOut: return "ETIMEDOUT"
        case .connectionRefused: return "ECONNREFUSED"
        case .noRouteToHost: return "EHOSTUNREACH"
        case .alreadyInProcess: return "EALREADY"
        case .nowInProgress: return "EINPROGRESS"
        case .socketIsConnected: return "EISCONN"
        case .socketNotConnected: return "ENOTCONN"
        case .connectionAbort: return "ECONNABORTED"
        case .protocolNotAvailable: return "ENOPROTOOPT"
        case .socketTypeNotSupported: return "ESOCKTNOSUPPORT"
        case .improperLink: return "EXDEV"
        case .noSuchAddressOrDevice: return "ENXIO"
        case .readOnlyFileSystem: return "EROFS"
        default: return "errno \(e.rawValue)"
        }
    }
    /// `File exists` for `.fileExists`.
    public static func text(_ e: Errno) -> String { e.description }
}

import Glibc

/// Keeps this process's builds apart from the loading of the kernel modules that put devices
/// into every namespace.
///
/// The module of every IP tunnel kind (GRE, GRE-TAP, IPIP, SIT, ip6tnl, ip6gre) adds fallback
/// devices (`gre0`, `tunl0`, `sit0`, …) to every existing network namespace when it loads. A
/// build hands out interface indexes once it has seen what a new namespace holds; a module loaded
/// by another thread between that look and the build's last link (another lab's tunnel, a
/// `kernelHas(linkKind:)` probe) takes an index the build already handed out, and the link's
/// creation fails with EEXIST. Builds hold the gate shared from their namespaces' creation to
/// their last link; whatever may load such a module holds it exclusively, so it waits until no
/// build is between those points, and builds wait for it.
///
/// Only this process is covered: a module another process loads mid-build is still a race.
public final class DeviceModuleGate: @unchecked Sendable {
    /// The one gate of this process.
    public static let shared = DeviceModuleGate()

    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    private init() {
        lock = .allocate(capacity: 1)
        pthread_rwlock_init(lock, nil)
    }

    /// Runs `body` while no module that adds devices is being loaded by this process.
    /// Never call ``exclusive(_:)`` from inside `body` (the thread would wait for itself).
    public func shared<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    /// Runs `body` (which may load such a module) while no build of this process is between
    /// its namespaces' creation and its last link.
    public func exclusive<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    /// The link kinds whose module adds fallback devices to every namespace.
    public static let kindsWithFallbackDevices: Set<String> = [
        "gre", "gretap", "erspan", "ip6gre", "ip6gretap", "ip6erspan", "ipip", "sit", "ip6tnl", "vti", "vti6",
    ]
}

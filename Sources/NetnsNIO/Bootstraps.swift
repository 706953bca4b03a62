import NIOCore
import NIOPosix

/// A `ServerBootstrap` that always creates its listening socket on a loop of a
/// ``NodeEventLoopGroup``, so it listens inside the node whichever thread calls ``bind(host:port:)->Channel``.
///
/// NIO's bootstraps are not `Sendable`, so this one records the configuration and builds the
/// real `ServerBootstrap` on the loop. The usual settings have their own methods;
/// ``configure(_:)`` reaches any other.
public struct NodeServerBootstrap: Sendable {
    /// The group whose loops create and run the sockets.
    public let loops: NodeEventLoopGroup
    private var steps: [@Sendable (ServerBootstrap) -> ServerBootstrap] = []

    init(loops: NodeEventLoopGroup) { self.loops = loops }

    /// Adds any configuration of NIO's `ServerBootstrap`; it runs on the loop.
    public func configure(_ step: @escaping @Sendable (ServerBootstrap) -> ServerBootstrap) -> Self {
        var c = self
        c.steps.append(step)
        return c
    }

    /// `ServerBootstrap.childChannelInitializer`: sets up each accepted connection's pipeline.
    public func childChannelInitializer(_ initializer: @escaping @Sendable (Channel) -> EventLoopFuture<Void>) -> Self {
        configure { $0.childChannelInitializer(initializer) }
    }

    /// `ServerBootstrap.serverChannelInitializer`.
    public func serverChannelInitializer(_ initializer: @escaping @Sendable (Channel) -> EventLoopFuture<Void>) -> Self {
        configure { $0.serverChannelInitializer(initializer) }
    }

    /// `ServerBootstrap.serverChannelOption`.
    public func serverChannelOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> Self {
        configure { $0.serverChannelOption(option, value: value) }
    }

    /// `ServerBootstrap.childChannelOption`.
    public func childChannelOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> Self {
        configure { $0.childChannelOption(option, value: value) }
    }

    private func made() -> ServerBootstrap {
        // SO_REUSEADDR, as NIO's examples do: a test that restarts a server reuses its port.
        var b = ServerBootstrap(group: loops.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        for s in steps { b = s(b) }
        return b
    }

    /// Binds inside the node. `host` is an address of the node (or `0.0.0.0` / `::`); a name
    /// is resolved on the loop, inside the node, without helper threads.
    public func bind(host: String, port: Int) -> EventLoopFuture<Channel> {
        let loop = loops.next()
        guard (0...65535).contains(port) else { return loop.makeFailedFuture(NodeEventLoopError.badPort(port)) }
        return loop.flatSubmit { self.made().bind(host: host, port: port) }
    }

    /// Binds inside the node to `address`.
    public func bind(to address: SocketAddress) -> EventLoopFuture<Channel> {
        loops.next().flatSubmit { self.made().bind(to: address) }
    }

    /// Binds inside the node and waits for the listening channel (see ``NodeEventLoopGroup/value(of:)``).
    /// - Throws: NIO's `IOError` with the kernel's errno (`EADDRNOTAVAIL` for an address the
    ///   node does not have, `EADDRINUSE`), or ``NodeEventLoopError/badPort(_:)``.
    public func bind(host: String, port: Int) async throws -> Channel {
        try await loops.value(of: bind(host: host, port: port) as EventLoopFuture<Channel>)
    }
}

/// A `ClientBootstrap` that always creates its sockets on a loop of a ``NodeEventLoopGroup``,
/// so it connects from inside the node whichever thread calls ``connect(host:port:)->Channel``.
public struct NodeClientBootstrap: Sendable {
    /// The group whose loops create and run the sockets.
    public let loops: NodeEventLoopGroup
    private var steps: [@Sendable (ClientBootstrap) -> ClientBootstrap] = []

    init(loops: NodeEventLoopGroup) { self.loops = loops }

    /// Adds any configuration of NIO's `ClientBootstrap`; it runs on the loop.
    public func configure(_ step: @escaping @Sendable (ClientBootstrap) -> ClientBootstrap) -> Self {
        var c = self
        c.steps.append(step)
        return c
    }

    /// `ClientBootstrap.channelInitializer`.
    public func channelInitializer(_ initializer: @escaping @Sendable (Channel) -> EventLoopFuture<Void>) -> Self {
        configure { $0.channelInitializer(initializer) }
    }

    /// `ClientBootstrap.channelOption`.
    public func channelOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> Self {
        configure { $0.channelOption(option, value: value) }
    }

    /// `ClientBootstrap.connectTimeout` (NIO's default is 10 s).
    public func connectTimeout(_ timeout: TimeAmount) -> Self {
        configure { $0.connectTimeout(timeout) }
    }

    private func made() -> ClientBootstrap {
        var b = ClientBootstrap(group: loops.group)
        for s in steps { b = s(b) }
        return b
    }

    /// Connects from inside the node.
    ///
    /// `host` is resolved on the loop with a blocking `getaddrinfo` (instant for an address;
    /// `/etc/hosts` or DNS for a name), not by NIO's default resolver, which hands the lookup
    /// to a `DispatchQueue` from the loop thread and so can start a libdispatch worker inside
    /// the node. The first address returned is used (no Happy Eyeballs).
    public func connect(host: String, port: Int) -> EventLoopFuture<Channel> {
        let loop = loops.next()
        guard (0...65535).contains(port) else { return loop.makeFailedFuture(NodeEventLoopError.badPort(port)) }
        return loop.flatSubmit {
            do {
                let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
                return self.made().connect(to: address)
            } catch {
                return loop.makeFailedFuture(error)
            }
        }
    }

    /// Connects from inside the node to `address`.
    public func connect(to address: SocketAddress) -> EventLoopFuture<Channel> {
        loops.next().flatSubmit { self.made().connect(to: address) }
    }

    /// Connects from inside the node and waits for the channel (see ``NodeEventLoopGroup/value(of:)``).
    /// - Throws: what the kernel says, as NIO reports it: `NIOConnectionError` is not used
    ///   (there is one address); an `IOError` with errno (`ECONNREFUSED` for a reset,
    ///   `ENETUNREACH`, `EHOSTUNREACH`, `EACCES` for a prohibit route, `EINVAL` for a blackhole
    ///   route), or `ChannelError.connectTimeout` when nothing answers.
    public func connect(host: String, port: Int) async throws -> Channel {
        try await loops.value(of: connect(host: host, port: port) as EventLoopFuture<Channel>)
    }
}

/// A `DatagramBootstrap` that always creates its sockets on a loop of a ``NodeEventLoopGroup``.
public struct NodeDatagramBootstrap: Sendable {
    /// The group whose loops create and run the sockets.
    public let loops: NodeEventLoopGroup
    private var steps: [@Sendable (DatagramBootstrap) -> DatagramBootstrap] = []

    init(loops: NodeEventLoopGroup) { self.loops = loops }

    /// Adds any configuration of NIO's `DatagramBootstrap`; it runs on the loop.
    public func configure(_ step: @escaping @Sendable (DatagramBootstrap) -> DatagramBootstrap) -> Self {
        var c = self
        c.steps.append(step)
        return c
    }

    /// `DatagramBootstrap.channelInitializer`.
    public func channelInitializer(_ initializer: @escaping @Sendable (Channel) -> EventLoopFuture<Void>) -> Self {
        configure { $0.channelInitializer(initializer) }
    }

    /// `DatagramBootstrap.channelOption`.
    public func channelOption<Option: ChannelOption>(_ option: Option, value: Option.Value) -> Self {
        configure { $0.channelOption(option, value: value) }
    }

    private func made() -> DatagramBootstrap {
        var b = DatagramBootstrap(group: loops.group)
        for s in steps { b = s(b) }
        return b
    }

    /// Binds a UDP socket inside the node.
    public func bind(host: String, port: Int) -> EventLoopFuture<Channel> {
        let loop = loops.next()
        guard (0...65535).contains(port) else { return loop.makeFailedFuture(NodeEventLoopError.badPort(port)) }
        return loop.flatSubmit { self.made().bind(host: host, port: port) }
    }

    /// Binds a UDP socket inside the node and waits for the channel.
    public func bind(host: String, port: Int) async throws -> Channel {
        try await loops.value(of: bind(host: host, port: port) as EventLoopFuture<Channel>)
    }
}

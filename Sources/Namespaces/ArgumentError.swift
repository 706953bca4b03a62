/// A caller passed an argument out of its documented range: an error the caller can report,
/// not a crash of the whole process (every other test in it would be lost).
public struct ArgumentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call and the argument (`addTunTap name "averyveryverylongname"`).
    public var argument: String
    /// The accepted range (`at most 15 bytes`).
    public var requirement: String

    /// An error saying that `argument` must meet `requirement`.
    public init(_ argument: String, _ requirement: String) {
        self.argument = argument
        self.requirement = requirement
    }

    /// `ARGUMENT: REQUIREMENT`.
    public var description: String { "\(argument): \(requirement)" }
}

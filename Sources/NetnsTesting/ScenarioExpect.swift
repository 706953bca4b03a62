import NetnsKit
import Testing

/// Tests a scenario as `nslab test` does and records an issue for each failed check, at the
/// check's line in its file (`router.yaml:31`) when it came from one, else at the caller's line.
///
/// A scenario without checks records an issue too ("built without checks"): it is never a pass.
/// A skip (the kernel lacks a required feature) records nothing; look at the report's status.
/// - Returns: the report, for more assertions (processes and the peers they saw, timings).
@discardableResult
public func expectScenario(_ scenario: Scenario,
                           sourceLocation: Testing.SourceLocation = #_sourceLocation) async -> ScenarioReport {
    let report = await scenario.test()
    func at(_ location: DeclarationLocation?) -> Testing.SourceLocation {
        guard let location, let path = scenario.source.path, location.line > 0, location.column > 0 else { return sourceLocation }
        // The file, not the Swift test, is where the failed declaration is written.
        return Testing.SourceLocation(fileID: "scenario/\(location.fileID)", filePath: path, line: location.line,
                                      column: location.column)
    }
    switch report.status {
    case .pass, .skip:
        break
    case .built:
        LabIssue("\(scenario.name): built without checks (no expect, no verifications); nothing was tested")
            .record(at: sourceLocation)
    case .fail:
        // One line per issue as its headline; the lab's state once, under the first issue.
        var state = report.stateDump.map { "lab state:\n\($0)" }
        func details(_ lines: String?...) -> String {
            defer { state = nil }
            return (lines + [state]).compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "\n")
        }
        if let reason = report.reason {
            let text = LabIssue("\(scenario.name): \(reason)")
            LabIssue(headline: text.headline, details: details(text.details)).record(at: sourceLocation)
        }
        for f in report.failures {
            let text = LabIssue(f.name + " — observed: " + f.observed)
            LabIssue(headline: text.headline, details: details(text.details, f.explanation)).record(at: at(f.location))
        }
    }
    return report
}

/// Loads a scenario file and tests it like ``expectScenario(_:sourceLocation:)``; a file that does
/// not load throws `FileProblems` (every problem with its line).
@discardableResult
public func expectScenario(path: String,
                           sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws -> ScenarioReport {
    await expectScenario(try Scenario.load(path: path), sourceLocation: sourceLocation)
}

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
        Issue.record(Comment(rawValue: "\(scenario.name): built without checks (no expect, no verifications); nothing was tested"),
                     sourceLocation: sourceLocation)
    case .fail:
        if let reason = report.reason {
            Issue.record(Comment(rawValue: "\(scenario.name): \(reason)" + (report.stateDump.map { "\nlab state:\n\($0)" } ?? "")),
                         sourceLocation: sourceLocation)
        }
        for (i, f) in report.failures.enumerated() {
            let state = i == 0 ? (report.stateDump.map { "\nlab state:\n\($0)" } ?? "") : ""
            Issue.record(Comment(rawValue: f.description + state), sourceLocation: at(f.location))
        }
    }
    return report
}

/// Loads a scenario file and tests it like ``expectScenario(_:sourceLocation:)``; a file that does
/// not load throws ``FileProblems`` (every problem with its line).
@discardableResult
public func expectScenario(path: String,
                           sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws -> ScenarioReport {
    await expectScenario(try Scenario.load(path: path), sourceLocation: sourceLocation)
}

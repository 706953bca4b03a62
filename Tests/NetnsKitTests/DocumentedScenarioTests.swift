import Foundation
import NetnsKit
import Testing

/// The scenario files that README.md and FileFormat.md show load, and run as the text says.
@Suite struct DocumentedScenarioTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")

    static func yamlBlocks(_ file: String) throws -> [String] {
        let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
        return text.components(separatedBy: "```yaml\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
    }

    /// The README's routed topology with the expectations its next block adds.
    static func readmeScenario() throws -> String {
        let blocks = try yamlBlocks("README.md")
        let i = try #require(blocks.firstIndex { $0.hasPrefix("name: routed") })
        #expect(blocks[i + 1].hasPrefix("processes:"))
        return blocks[i] + blocks[i + 1]
    }

    @Test func everyFileFormatExampleLoadsAsAScenario() throws {
        let blocks = try Self.yamlBlocks("Sources/NetnsModel/FileFormat.md")
        #expect(blocks.count >= 3)
        for block in blocks {
            let s = try Scenario.load(yaml: block, file: "doc.yaml")
            #expect(try Scenario.load(yaml: s.yaml()) == s)
        }
        let web = try Scenario.load(yaml: try #require(blocks.last), file: "web.yaml")
        // Every expectation kind is in the documented example or the catalogue; the example shows most.
        #expect(Set(web.expectations.map(ScenarioFileTests.kind)).count >= 11)
        #expect(web.source.place(ofExpectation: 0) == "web.yaml:24", "FileFormat.md names this line")
    }

    @Test(.enabled(if: canBuild, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"))
    func theDocumentedScenariosPass() async throws {
        let web = try Scenario.load(yaml: try #require(try Self.yamlBlocks("Sources/NetnsModel/FileFormat.md").last),
                                    file: "web.yaml")
        let report = await web.test()
        if report.status != .skip {
            #expect(report.status == .pass, "\(report.failures) \(report.reason ?? "")")
            #expect(report.processes.first?.peers == ["10.0.1.2"], "\(report.processes)")
        }
        let routed = try Scenario.load(yaml: try Self.readmeScenario(), file: "routed.yaml")
        #expect(await routed.test().status == .pass)
        // The README's failing run: one mistake, and the line it names.
        let broken = try Scenario.load(yaml: try Self.readmeScenario().replacingOccurrences(
            of: "{from: h1, reaches: 10.0.2.2}", with: "{from: h1, reaches: 10.0.2.9}"), file: "routed.yaml")
        let failed = await broken.test()
        #expect(failed.failures.map(\.name) == ["routed.yaml:16: h1 reaches 10.0.2.9"])
    }
}

import NetnsKit
import XCTest

/// Fails unless every echo of a ping with `options` from `node` to `address` is answered.
public func XCTAssertPing(_ node: Node, _ address: IPAddress, options: PingOptions = PingOptions(), within: Double = 0,
                          file: StaticString = #filePath, line: UInt = #line) async {
    guard let lab = node.lab else { return XCTFail("\(node) is not in a running lab", file: file, line: line) }
    await XCTAssertExpectation(lab, .ping(from: node.name, to: address, options: options), within: within, file: file, line: line)
}

/// Fails unless a ping with `options` from `node` to `address` gets no reply and fails as `failure` says.
public func XCTAssertPingFails(_ node: Node, _ address: IPAddress, options: PingOptions = PingOptions(),
                               failure: PingFailureExpectation = PingFailureExpectation(), within: Double = 0,
                               file: StaticString = #filePath, line: UInt = #line) async {
    guard let lab = node.lab else { return XCTFail("\(node) is not in a running lab", file: file, line: line) }
    await XCTAssertExpectation(lab, .ping(from: node.name, to: address, options: options, failure: failure), within: within,
                               file: file, line: line)
}

/// Fails unless a bulk TCP transfer from `node` to `address` runs between `min` and `max` Mbit/s.
public func XCTAssertThroughput(_ node: Node, _ address: IPAddress, port: UInt16 = 5201, bytes: Int = 2_000_000,
                                min: Double? = nil, max: Double? = nil,
                                file: StaticString = #filePath, line: UInt = #line) async {
    guard let lab = node.lab else { return XCTFail("\(node) is not in a running lab", file: file, line: line) }
    await XCTAssertExpectation(lab, .throughput(from: node.name, to: address, port: port, bytes: bytes, min: min, max: max),
                               file: file, line: line)
}

import Foundation
import Yams

// A Decoder over a composed Yams tree that looks keys up in a dictionary.
//
// Yams' own `YAMLDecoder` finds a key by comparing nodes, and comparing nodes resolves the
// probe key's tag with the resolver's regular expressions: each field of each entry costs a
// handful of ICU matches, and a 94 KB chain file spent most of its load time there. Values are
// made exactly as Yams makes them (its `ScalarConstructible` conformances, merge keys
// flattened), so a file means what it meant; only the lookup differs.

/// Decodes `T` from a composed node, as `YAMLDecoder().decode(T.self, from: node)` does.
package func decodeNode<T: Decodable>(_ type: T.Type, from node: Yams.Node) throws -> T {
    try NodeDecoder(node: node, codingPath: []).decode(type)
}

private struct NodeDecoder: Decoder, SingleValueDecodingContainer {
    let node: Yams.Node
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .mapping(let mapping) = node else { throw mismatch(Yams.Node.Mapping.self) }
        return KeyedDecodingContainer(Keyed<Key>(decoder: self, pairs: flattened(mapping)))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .sequence(let sequence) = node else { throw mismatch(Yams.Node.Sequence.self) }
        return Unkeyed(decoder: self, items: Array(sequence))
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { self }

    func child(_ node: Yams.Node, _ key: CodingKey) -> NodeDecoder {
        NodeDecoder(node: node, codingPath: codingPath + [key])
    }

    func mismatch(_ expected: Any.Type) -> DecodingError {
        // Decoders try one form and then another (a link end is "h1:eth0" or a mapping), so
        // this is made often: the message names the kinds, never the node's whole text.
        .typeMismatch(expected, .init(codingPath: codingPath, debugDescription: "Expected to decode \(expected) but found \(kind) instead."))
    }

    private var kind: String {
        switch node {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    // MARK: SingleValueDecodingContainer

    func decodeNil() -> Bool { node.null != nil }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if let scalarType = type as? ScalarConstructible.Type {
            guard case .scalar(let scalar) = node, let value = scalarType.construct(from: scalar) as? T else {
                throw mismatch(type)
            }
            return value
        }
        return try T(from: self)
    }
}

private struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: NodeDecoder
    let order: [String]
    let values: [String: Yams.Node]

    init(decoder: NodeDecoder, pairs: [(key: Yams.Node, value: Yams.Node)]) {
        self.decoder = decoder
        var order: [String] = [], values: [String: Yams.Node] = [:]
        order.reserveCapacity(pairs.count)
        for (key, value) in pairs {
            guard let text = key.string else { continue }
            // The last of two equal keys wins, as in Yams (files refuse duplicates before this).
            if values.updateValue(value, forKey: text) == nil { order.append(text) }
        }
        self.order = order
        self.values = values
    }

    var codingPath: [CodingKey] { decoder.codingPath }
    var allKeys: [Key] { order.compactMap(Key.init(stringValue:)) }
    func contains(_ key: Key) -> Bool { values[key.stringValue] != nil }

    private func child(_ key: CodingKey) throws -> NodeDecoder {
        guard let node = values[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath,
                                                       debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\")."))
        }
        return decoder.child(node, key)
    }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).decodeNil() }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decode(type) }
    func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
        try child(key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
    func superDecoder() throws -> Decoder { try child(SuperKey()) }
    func superDecoder(forKey key: Key) throws -> Decoder { try child(key) }
}

/// A mapping's pairs with its merge keys (`<<: *anchor`, `<<: [*a, *b]`) replaced by the
/// merged mappings' pairs, placed first so that the mapping's own keys win, and in a list the
/// earlier mappings win: what Yams' internal `flatten()` does, found by the key's text.
private func flattened(_ mapping: Yams.Node.Mapping) -> [(key: Yams.Node, value: Yams.Node)] {
    guard mapping.keys.contains(where: { $0.string == "<<" }) else { return Array(mapping) }
    var merged: [(key: Yams.Node, value: Yams.Node)] = [], own: [(key: Yams.Node, value: Yams.Node)] = []
    for pair in mapping {
        guard pair.key.string == "<<" else { own.append(pair); continue }
        switch pair.value {
        case .mapping(let m): merged += flattened(m)
        case .sequence(let list):
            for case .mapping(let m) in list.reversed() { merged += flattened(m) }
        default: own.append(pair)
        }
    }
    return merged + own
}

private struct SuperKey: CodingKey {
    var stringValue: String { "super" }
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { nil }
    init?(intValue: Int) { nil }
}

private struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct Unkeyed: UnkeyedDecodingContainer {
    let decoder: NodeDecoder
    let items: [Yams.Node]
    var currentIndex = 0

    init(decoder: NodeDecoder, items: [Yams.Node]) {
        self.decoder = decoder
        self.items = items
    }

    var codingPath: [CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next<T>(_ type: Any.Type, _ body: (NodeDecoder) throws -> T) throws -> T {
        let key = IndexKey(currentIndex)
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [key],
                                                          debugDescription: "Unkeyed container is at end."))
        }
        let value = try body(decoder.child(items[currentIndex], key))
        currentIndex += 1
        return value
    }

    mutating func decodeNil() throws -> Bool {
        // Like every unkeyed container: a nil is consumed, anything else is left for decode.
        let isNil = try next(Any?.self) { $0.decodeNil() }
        if !isNil { currentIndex -= 1 }
        return isNil
    }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next(type) { try $0.decode(type) } }
    mutating func nestedContainer<N: CodingKey>(keyedBy type: N.Type) throws -> KeyedDecodingContainer<N> {
        try next(KeyedDecodingContainer<N>.self) { try $0.container(keyedBy: type) }
    }
    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        try next(UnkeyedDecodingContainer.self) { try $0.unkeyedContainer() }
    }
    mutating func superDecoder() throws -> Decoder { try next(Decoder.self) { $0 } }
}

import Foundation
import Testing

@testable import AgentCoreModel

/// `JSONParser.parse(_:maxDepth:canonicalAt:)` must accept and refuse exactly what
/// `parse(_:maxDepth:)` does, and hand back a range only when the bytes there are the
/// canonical form of the value they hold.
@Suite struct CanonicalCaptureTests {
    /// Random values, written canonically or in one of several non-canonical spellings.
    struct Generator {
        var rng: SplitMix64
        let pieces = ["a", "b", "zz", "Key", "x y", "", "é", "q\"uote", "tab\t", "/", "\u{7f}", "1"]

        mutating func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }

        mutating func value(depth: Int) -> JSONValue {
            switch int(depth > 3 ? 5 : 7) {
            case 0: return .null
            case 1: return .bool(int(2) == 0)
            case 2: return .int([0, 1, -1, 42, Int64.max, Int64.min, 1_234_567][int(7)])
            case 3: return .double([2.5, -0.125, 1e21, 3.0][int(4)])
            case 4: return .string((0..<int(4)).map { _ in pieces[int(pieces.count)] }.joined())
            case 5: return .array((0..<int(4)).map { _ in value(depth: depth + 1) })
            default:
                var o: [String: JSONValue] = [:]
                for _ in 0..<int(5) { o[pieces[int(pieces.count)] + "\(int(3))"] = value(depth: depth + 1) }
                return .object(o)
            }
        }

        /// The value's bytes: canonical, or with spaces, reversed key order or escaped solidus.
        mutating func spell(_ v: JSONValue) -> [UInt8] {
            switch int(4) {
            case 0: return v.canonicalBytes
            case 1: return Array(v.canonicalString.replacingOccurrences(of: ",", with: ", ").utf8)
            case 2: return Array(reversedKeys(v).utf8)
            default: return Array(v.canonicalString.replacingOccurrences(of: "/", with: "\\/").utf8)
            }
        }

        func reversedKeys(_ v: JSONValue) -> String {
            switch v {
            case .object(let o):
                let members = o.keys.sorted(by: JSONValue.utf8Less).reversed().map {
                    JSONValue.string($0).canonicalString + ":" + reversedKeys(o[$0]!)
                }
                return "{" + members.joined(separator: ",") + "}"
            case .array(let a): return "[" + a.map(reversedKeys).joined(separator: ",") + "]"
            default: return v.canonicalString
            }
        }
    }

    static func check(_ bytes: [UInt8], expectCapture: Bool? = nil) {
        let path = ["payload", "data"]
        let plain = Result { () throws(JSONParseError) in try JSONParser.parse(bytes) }
        let captured = Result { () throws(JSONParseError) in try JSONParser.parse(bytes, canonicalAt: path) }
        switch (plain, captured) {
        case (.failure(let a), .failure(let b)):
            #expect(a == b)
        case (.success(let tree), .success(let (value, range))):
            if let range {
                let data = tree["payload"]?["data"]
                #expect(data?.canonicalBytes == Array(bytes[range]))
                guard case .object(var envelope) = tree, case .object(var payload) = envelope["payload"] else {
                    Issue.record("captured outside the path")
                    return
                }
                payload["data"] = .null
                envelope["payload"] = .object(payload)
                #expect(value == .object(envelope))
            } else {
                #expect(value == tree)
            }
            if let expectCapture { #expect((range != nil) == expectCapture, "\(String(decoding: bytes, as: UTF8.self))") }
        default:
            Issue.record("accepted by one parse only: \(String(decoding: bytes, as: UTF8.self))")
        }
    }

    @Test func randomDocumentsParseAlikeAndCaptureOnlyCanonicalBytes() {
        var g = Generator(rng: SplitMix64(seed: 7))
        for _ in 0..<3_000 {
            let data = g.value(depth: 0)
            let spelled = g.spell(data)
            let doc = Array(#"{"id":"c1","payload":{"data":"#.utf8) + spelled + Array(#","mode":"replace"},"z":[{"payload":{"data":1}}]}"#.utf8)
            Self.check(doc)
            // Cut short or with a byte changed, the document parses (or fails) alike too.
            Self.check(Array(doc.prefix(g.int(doc.count))))
            var changed = doc
            changed[g.int(doc.count)] = [0x22, 0x5C, 0x2C, 0x7D, 0x5D, 0x30, 0x2D, 0x01, 0xFF][g.int(9)]
            Self.check(changed)
        }
    }

    @Test func capturesTheCommonShapesAndNotTheOthers() {
        func doc(_ data: String) -> [UInt8] { Array(#"{"payload":{"data":\#(data),"mode":"replace"}}"#.utf8) }
        for data in [#"{"blob":"xxxx","seq":12}"#, "[]", "{}", "null", "-9223372036854775808", #"[1,{"a":[true,false]},"s"]"#] {
            Self.check(doc(data), expectCapture: true)
        }
        for data in [
            #"{"seq":12,"blob":"x"}"#, #"{"a":1, "b":2}"#, "-0", "1.5", "1e3", #""caf\u00e9""#, #""café""#,
            "9223372036854775808", #"{"a":1,"a":2}"#, #"{"a":[1 ]}"#,
        ] {
            Self.check(doc(data), expectCapture: false)
        }
        // The path goes through objects only, and the first level must be `payload`.
        Self.check(Array(#"{"payload":[{"data":1}]}"#.utf8), expectCapture: false)
        Self.check(Array(#"{"data":{"payload":{"data":1}}}"#.utf8), expectCapture: false)
        Self.check(Array(#"[{"payload":{"data":1}}]"#.utf8), expectCapture: false)
    }

    /// The nesting limit counts from the document's root for the captured value too.
    @Test func nestingLimitAppliesInsideTheCapture() {
        for depth in 60...66 {
            let data = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            Self.check(Array(#"{"payload":{"data":\#(data)}}"#.utf8))
        }
    }
}

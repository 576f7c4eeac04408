import Foundation
import Testing

@testable import AgentCoreModel

/// `JSONParser.canonicalRewrite` writes a value's canonical bytes without the tree: whenever
/// it answers, it must be exactly what parsing and writing canonically give.
@Suite struct CanonicalRewriteTests {
    static func rewrite(_ bytes: [UInt8], depth: Int = 0) -> (end: Int, canonical: [UInt8])? {
        bytes.withUnsafeBufferPointer { JSONParser.canonicalRewrite(in: $0, from: 0, depth: depth) }
    }

    /// Checks an answer against the parser; says whether there was one.
    @discardableResult
    static func check(_ bytes: [UInt8]) -> Bool {
        guard let r = rewrite(bytes) else { return false }
        let tree = try? JSONParser.parse(Array(bytes[..<r.end]))
        let same = tree?.canonicalBytes == r.canonical
        #expect(same, "\(String(decoding: bytes, as: UTF8.self)) -> \(String(decoding: r.canonical, as: UTF8.self))")
        return true
    }

    @Test func randomValuesRewriteToTheirCanonicalBytes() {
        var g = CanonicalCaptureTests.Generator(rng: SplitMix64(seed: 21))
        var rewritten = 0
        for _ in 0..<3_000 {
            let spelled = g.spell(g.value(depth: 0))
            if Self.check(spelled) { rewritten += 1 }
            Self.check(Array(spelled.prefix(g.int(spelled.count + 1))))
            var changed = spelled
            if !changed.isEmpty {
                changed[g.int(changed.count)] = [0x22, 0x5C, 0x2C, 0x7D, 0x5D, 0x30, 0x2D, 0x01, 0xFF, 0x20, 0x2E, 0x65][g.int(12)]
                Self.check(changed)
            }
        }
        #expect(rewritten > 1_000, "rewritten \(rewritten) of 3000")
    }

    /// Keys out of order, whitespace, numbers spelled otherwise: rewritten. Escapes,
    /// non-ASCII, repeated keys: left to the parser.
    @Test func commonSpellingsAreRewrittenAndTheRestLeftToTheParser() {
        let rewritten = [
            #"{"seq":12,"owner":"ws-1","temperature":0.4123,"tags":["t1","t9"],"vector":[3,1],"notes":"x y"}"#,
            #" { "b" : 1.0 , "a" : [ 1e2, -0, 2.50, 0.1, 1E-7, 123456789012345678901234, -9223372036854775808 ] } "#,
            #"{"z":{"y":{"x":[{"b":true,"a":null}]}},"a":false}"#,
            "[ ]", "{ }", "-0.0", "12x",
        ]
        for text in rewritten {
            #expect(Self.check(Array(text.trimmingCharacters(in: .whitespaces).utf8)), "\(text)")
        }
        for text in [#"{"a":1,"a":2}"#, #"{"b":1,"a":2,"b":3}"#, #""caf\u00e9""#, #""café""#, "[1,]", #"{"a" 1}"#, "1e400", "[1 2]"] {
            #expect(!Self.check(Array(text.utf8)), "\(text)")
        }
    }

    /// The nesting limit is the parser's.
    @Test func nestingLimitIsTheParsers() {
        for depth in 60...66 {
            let text = Array((String(repeating: "[ ", count: depth) + String(repeating: "]", count: depth)).utf8)
            let parsed = (try? JSONParser.parse(text)) != nil
            #expect((Self.rewrite(text) != nil) == parsed, "depth \(depth)")
        }
    }
}

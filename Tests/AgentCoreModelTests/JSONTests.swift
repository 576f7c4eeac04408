import Foundation
import Testing

@testable import AgentCoreModel

@Suite struct JSONTests {
    @Test func parsesAndSerialisesCanonically() throws {
        let v = try JSONParser.parse(#" { "b" : [1, 2.5, -3e2, true, null], "a": "x\n\u00e9\ud83d\ude00", "c": {} } "#)
        #expect(v["b"] == [1, 2.5, -300.0, true, nil])
        #expect(v["a"] == .string("x\né😀"))
        #expect(v.canonicalString == #"{"a":"x\né😀","b":[1,2.5,-300,true,null],"c":{}}"#)
        #expect(try JSONParser.parse(v.canonicalString).jsonEquals(v))
        #expect(try JSONParser.parse(v.canonicalString).canonicalString == v.canonicalString)
        #expect(try JSONParser.parse("9223372036854775807") == .int(Int64.max))
        #expect(JSONValue.string("\u{01}\"\\").canonicalString == #""\u0001\"\\""#)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "tru", "\"abc", "{\"a\":1,\"a\":2}", "[1] x", "\"\\x\"",
        "\"\\ud800\"", "1e999", "{1:2}", "\"\u{01}\"",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    /// The word-at-a-time scan finds every byte that matters wherever it sits in a word:
    /// writing and parsing strings with one special byte at each offset of a long run gives
    /// what a byte-at-a-time reference gives.
    @Test func longStringsWithASpecialByteAtEveryOffset() throws {
        func reference(_ s: String) -> [UInt8] {
            var out: [UInt8] = [0x22]
            for b in s.utf8 {
                switch b {
                case 0x22: out += [0x5C, 0x22]
                case 0x5C: out += [0x5C, 0x5C]
                case 0x0A: out += Array(#"\n"#.utf8)
                case 0x0D: out += Array(#"\r"#.utf8)
                case 0x09: out += Array(#"\t"#.utf8)
                case 0x08: out += Array(#"\b"#.utf8)
                case 0x0C: out += Array(#"\f"#.utf8)
                case 0..<0x20: out += Array(String(format: "\\u%04x", b).utf8)
                default: out.append(b)
                }
            }
            return out + [0x22]
        }
        for special in ["\"", "\\", "\n", "\u{01}", "\u{1f}", "é", "🎉", "\u{7f}", " ", "~"] {
            for offset in 0..<19 {
                let s = String(repeating: "a", count: offset) + special + String(repeating: "b", count: 23 - offset)
                var written: [UInt8] = []
                JSONValue.writeString(s, to: &written)
                #expect(written == reference(s), "\(special.debugDescription) at \(offset)")
                #expect(try JSONParser.parse(written) == .string(s))
            }
        }
        // Raw control bytes and invalid UTF-8 are refused wherever they sit.
        for offset in 0..<17 {
            for bad: [UInt8] in [[0x01], [0x1F], [0xFF], [0xC3]] {
                let body = [UInt8](repeating: 0x61, count: offset) + bad + [UInt8](repeating: 0x62, count: 20 - offset)
                #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22] + body + [0x22]) }
            }
        }
    }

    @Test func rejectsInvalidUTF8AndDeepNesting() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xff, 0x22]) }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        #expect(throws: Never.self) { try JSONParser.parse(deep, maxDepth: 200) }
    }

    @Test func mergePatchFollowsRFC7396() {
        // Examples from RFC 7396 appendix A.
        let cases: [(JSONValue, JSONValue, JSONValue)] = [
            (["a": "b"], ["a": "c"], ["a": "c"]),
            (["a": "b"], ["b": "c"], ["a": "b", "b": "c"]),
            (["a": "b"], ["a": nil], [:]),
            (["a": "b", "b": "c"], ["a": nil], ["b": "c"]),
            (["a": ["b"]], ["a": "c"], ["a": "c"]),
            (["a": "c"], ["a": ["b"]], ["a": ["b"]]),
            (["a": ["b": "c"]], ["a": ["b": "d", "c": nil]], ["a": ["b": "d"]]),
            (["a": [["b": "c"]]], ["a": [1]], ["a": [1]]),
            (["a": "foo"], nil, nil),
            (["a": "foo"], "bar", "bar"),
            (["e": nil], ["a": 1], ["e": nil, "a": 1]),
            ([1, 2], ["a": "b", "c": nil], ["a": "b"]),
            ([:], ["a": ["bb": ["ccc": nil]]], ["a": ["bb": [:]]]),
        ]
        for (target, patch, result) in cases {
            #expect(target.applyingMergePatch(patch) == result)
        }
    }

    @Test func configSchemaSubset() {
        let schema = ConfigSchema([
            "type": "object",
            "properties": [
                "n": ["type": "integer", "minimum": 1, "exclusiveMaximum": 10],
                "s": ["type": "string", "minLength": 2, "maxLength": 3],
                "tags": ["type": "array", "items": ["enum": ["a", "b"]], "maxItems": 2],
                "x": ["type": ["number", "null"]],
            ],
            "required": ["n"],
            "additionalProperties": false,
        ])
        #expect(schema.validate(["n": 1]) == nil)
        #expect(schema.validate(["n": 1.0]) == nil)
        #expect(schema.validate(["n": 10])?.path == "config.n")
        #expect(schema.validate(["n": 0])?.path == "config.n")
        #expect(schema.validate(["n": 1.5])?.message.contains("integer") == true)
        #expect(schema.validate([:])?.path == "config.n")
        #expect(schema.validate(["n": 2, "s": "a"])?.path == "config.s")
        #expect(schema.validate(["n": 2, "tags": ["a", "c"]])?.path == "config.tags[1]")
        #expect(schema.validate(["n": 2, "tags": ["a", "a", "b"]])?.path == "config.tags")
        #expect(schema.validate(["n": 2, "x": nil]) == nil)
        #expect(schema.validate(["n": 2, "x": "1"])?.path == "config.x")
        #expect(schema.validate(["n": 2, "zzz": 1])?.path == "config.zzz")
        #expect(schema.validate("nope")?.path == "config")
        #expect(ConfigSchema.checkWellFormed(["type": "integer", "minimum": "1"])?.path == "config_schema.minimum")
        #expect(ConfigSchema.checkWellFormed(["properties": ["a": ["type": "wat"]]])?.path == "config_schema.properties.a.type")
        #expect(ConfigSchema.checkWellFormed(true) == nil)
    }

    @Test func murmur2MatchesKafkaJavaVectors() {
        // From Apache Kafka's UtilsTest.testMurmur2.
        let vectors: [(String, Int32)] = [
            ("21", -973_932_308), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            ("abc", 479_470_107),
        ]
        for (s, expected) in vectors {
            #expect(Int32(bitPattern: Murmur2.hash(Array(s.utf8))) == expected, "\(s)")
        }
        #expect(Murmur2.partition(forKey: "21", partitionCount: 12) == Int32((UInt32(bitPattern: -973_932_308) & 0x7fff_ffff) % 12))
    }

    @Test func timestampsRoundTrip() {
        #expect(Timestamp.iso8601(millis: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.iso8601(millis: 1_767_225_600_123) == "2026-01-01T00:00:00.123Z")
        #expect(Timestamp.iso8601(millis: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(Timestamp.iso8601(millis: -1) == "1969-12-31T23:59:59.999Z")
        for ms: Int64 in [0, 1, 999, 1_767_225_600_123, 4_102_444_799_999, 951_782_400_000] {
            #expect(Timestamp.parseMillis(Timestamp.iso8601(millis: ms)) == ms)
        }
        #expect(Timestamp.parseMillis("2026-01-01T00:00:00Z") == 1_767_225_600_000)
        #expect(Timestamp.parseMillis("2026-13-01T00:00:00Z") == nil)
    }

    @Test func identifiers() {
        #expect(Identifier.isValid("ws-1.a_b:c@d"))
        #expect(!Identifier.isValid("-x"))
        #expect(!Identifier.isValid(""))
        #expect(!Identifier.isValid("a b"))
        #expect(Identifier.isValidSlug("code-reviewer.v2"))
        #expect(!Identifier.isValidSlug("Code"))
    }
}

@Suite struct EventEncodingTests {
    @Test func directEncodingEqualsCanonicalJSON() {
        for (project, corr, cmd) in [("p", "c", "x"), (nil, nil, nil), ("p", nil, "y")] as [(String?, String?, String?)] {
            let e = Event(
                id: "t/1/2/0",
                type: .contextVersionCreated,
                commandId: cmd,
                workspaceId: "ws\"1",
                projectId: project,
                correlationId: corr,
                occurredAtMillis: 1_767_225_600_123,
                payload: ["b": 1, "a": ["z": "\n"]]
            )
            #expect(e.bytes == e.json.canonicalBytes)
        }
    }

    /// Pairs given in key order take the path that skips sorting; any other order is sorted.
    @Test func payloadPairsInAnyOrderGiveTheSameBytes() {
        let sorted: [(String, JSONValue)] = [("a", 1), ("b", "x"), ("ba", .null), ("c", [1, 2])]
        func encode(_ p: [(String, JSONValue)]) -> [UInt8] {
            Event.encode(
                id: "t/0/1/0",
                type: .instanceHeartbeat,
                commandId: "c",
                workspaceId: "w",
                projectId: "p",
                correlationId: nil,
                occurredAtMillis: 0,
                payload: p
            )
        }
        let expected = Event(
            id: "t/0/1/0",
            type: .instanceHeartbeat,
            commandId: "c",
            workspaceId: "w",
            projectId: "p",
            correlationId: nil,
            occurredAtMillis: 0,
            payload: Dictionary(uniqueKeysWithValues: sorted)
        ).json.canonicalBytes
        #expect(encode(sorted) == expected)
        #expect(encode(sorted.reversed()) == expected)
        #expect(encode([sorted[1], sorted[0], sorted[3], sorted[2]]) == expected)
        #expect(
            encode([])
                == Event(
                    id: "t/0/1/0",
                    type: .instanceHeartbeat,
                    commandId: "c",
                    workspaceId: "w",
                    projectId: "p",
                    correlationId: nil,
                    occurredAtMillis: 0,
                    payload: [:]
                ).json.canonicalBytes
        )
    }
}

import AgentCoreModel
import Foundation
import Testing

@testable import AgentCoreStore

/// `CommandDecoder.decodeCommonContextWrite` must give exactly what the general path gives
/// (`decodeEnvelope` + `decodeCommand`), or step aside: records decoded both ways compare equal.
@Suite struct FastPathTests {
    static let decoder = CommandDecoder()

    static func record(_ value: [UInt8], key: String = "ws1") -> InputRecord {
        InputRecord(
            stream: .contextWrites,
            topic: "agentcore.context-writes",
            partition: 0,
            offset: 1,
            timestampMillis: 1,
            key: Array(key.utf8),
            value: value
        )
    }

    /// A `context.write` envelope as `AgentCoreClient.Commands.writeContext` builds it.
    static func write(
        actor: String,
        instanceId: String,
        name: String,
        data: JSONValue,
        mode: WriteMode,
        description: String?,
        expectedVersion: Int64?,
        id: String
    ) -> CommandEnvelope {
        var p: [String: JSONValue] = ["instance_id": .string(instanceId), "name": .string(name), "data": data, "mode": .string(mode.rawValue)]
        if let description { p["description"] = .string(description) }
        if let expectedVersion { p["expected_version"] = .int(expectedVersion) }
        return CommandEnvelope(id: id, type: "context.write", workspaceId: "ws1", projectId: "p1", actor: actor, payload: .object(p))
    }

    static func bothWays(_ value: [UInt8], key: String = "ws1") -> (fast: Decoded, general: Decoded, tookFast: Bool) {
        let r = record(value, key: key)
        return (
            PartitionStore.decode(r, decoder: decoder, partitionCount: nil),
            PartitionStore.decode(r, decoder: decoder, partitionCount: nil, fastPath: false),
            decoder.decodeCommonContextWrite(value) != nil
        )
    }

    /// Envelopes as the client writes them (canonical), with the optional fields present or
    /// not, replace and merge_patch: the fast path takes them all and agrees.
    @Test func clientEnvelopesTakeTheFastPathAndAgree() {
        var g = SplitMix64(seed: 11)
        for i in 0..<500 {
            let data: JSONValue = ["n": .int(Int64(i)), "s": .string(String(repeating: "x", count: Int(g.next() % 40))), "a": [1, 2]]
            let env = Self.write(
                actor: g.next() % 2 == 0 ? "agent-7" : "a b",
                instanceId: "i\(g.next() % 5)",
                name: "ctx \(g.next() % 3)",
                data: data,
                mode: g.next() % 3 == 0 ? .mergePatch : .replace,
                description: g.next() % 2 == 0 ? "why \(i)" : nil,
                expectedVersion: g.next() % 2 == 0 ? Int64(g.next() % 9) : nil,
                id: "c\(i)"
            )
            let both = Self.bothWays(env.bytes)
            #expect(both.tookFast)
            #expect(both.fast == both.general)
        }
    }

    /// Data from producers that do not write canonical JSON (keys in their own order,
    /// spaces, numbers spelled their way; the pipeline benchmark's generator is one): the
    /// fast path writes it canonically and agrees with the general path; data it cannot
    /// rewrite (escapes, non-ASCII, repeated keys) goes the general way, to the same result.
    @Test func nonCanonicalDataIsRewrittenAndAgrees() {
        func envelope(_ data: String, mode: String = "replace") -> [UInt8] {
            Array(
                #"{"schema":"agentcore.command/v1","id":"c1","type":"context.write","workspace_id":"ws1","project_id":"p1","actor":"a","payload":{"instance_id":"i1","name":"shared","data":\#(data),"description":"d","mode":"\#(mode)"}}"#
                    .utf8
            )
        }
        let rewritten = [
            #"{"seq":3,"owner":"ws1","instance":"i1","temperature":0.4123,"tokens":77,"tags":["t1","t2"],"vector":[5,1,9],"notes":"lorem ipsum"}"#,
            #"{ "b" : 1.0, "a" : [ 1e2, -0, 2.50 ] }"#, "2.0", #"[{"y":1,"x":2}]"#,
        ]
        for data in rewritten {
            for mode in ["replace", "merge_patch"] {
                let both = Self.bothWays(envelope(data, mode: mode))
                #expect(both.tookFast, "\(data)")
                #expect(both.fast == both.general, "\(data)")
            }
        }
        for data in [#"{"b":"café","a":1}"#, #"{"b":1,"b":2}"#, #"{"b":"é","a":1}"#, "1e999"] {
            let both = Self.bothWays(envelope(data))
            #expect(!both.tookFast, "\(data)")
            #expect(both.fast == both.general, "\(data)")
        }
        var g = SplitMix64(seed: 13)
        var took = 0
        for _ in 0..<1_000 {
            var rng = CanonicalSpelling(rng: g)
            let data = rng.spelled()
            g = rng.rng
            let both = Self.bothWays(envelope(data))
            if both.tookFast { took += 1 }
            #expect(both.fast == both.general, "\(data)")
        }
        #expect(took > 300, "took the fast path \(took) of 1000")
    }

    /// Random objects with keys out of order, spaces and numbers spelled variously.
    struct CanonicalSpelling {
        var rng: SplitMix64
        mutating func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        mutating func spelled(depth: Int = 0) -> String {
            let space = [" ", "", "", "\n"][int(4)]
            switch int(depth > 2 ? 4 : 6) {
            case 0: return ["1.0", "-0", "2.50", "1e2", "0.1", "3", "-7", "1E-7", "12345678901234567890"][int(9)]
            case 1: return ["true", "false", "null"][int(3)]
            case 2: return ["\"x\"", "\"a b\"", "\"\"", "\"caf\\u00e9\"", "\"é\""][int(5)]
            case 3: return "[" + (0..<int(3)).map { _ in spelled(depth: depth + 1) }.joined(separator: "," + space) + "]"
            default:
                let keys = ["b", "a", "zz", "a", "c", "aa"]
                return "{" + space
                    + (0..<int(4)).map { _ in "\"\(keys[int(keys.count)])\"" + space + ":" + spelled(depth: depth + 1) }
                    .joined(separator: ",") + "}"
            }
        }
    }

    /// Cut short, a byte changed, or spelled another way, a record decodes the same either way
    /// (the fast path steps aside for all it does not take, so errors are the general path's).
    @Test func alteredEnvelopesDecodeAlike() {
        var g = SplitMix64(seed: 12)
        let base = Self.write(
            actor: "agent",
            instanceId: "i1",
            name: "plan",
            data: ["b": [1, "two", nil], "a": ["x": -5]],
            mode: .replace,
            description: "d",
            expectedVersion: 3,
            id: "c1"
        ).bytes
        let spellings: [String] = [
            #"{"actor":"agent","id":"c1","payload":{"data":{"a":1},"instance_id":"i1","name":"plan"},"project_id":"p1","schema":"agentcore.command/v1","type":"context.write","workspace_id":"ws1"}"#,
            #"{"actor":"agent","id":"c1","payload":{"data":{"a":1},"instance_id":"i1","name":"plan","mode":null,"description":null,"expected_version":null},"project_id":"p1","schema":"agentcore.command/v1","type":"context.write","workspace_id":"ws1"}"#,
            #"{"actor":"agent","id":"c1","payload":{"data":{"a":1},"instance_id":"i1","name":"plan","expected_version":-1},"project_id":"p1","schema":"agentcore.command/v1","type":"context.write","workspace_id":"ws1"}"#,
            #"{"actor":"agent","id":"c1","payload":{"data":{"a":1},"instance_id":"i1","name":"plan","mode":""},"project_id":"p1","schema":"agentcore.command/v1","type":"context.write","workspace_id":"ws1"}"#,
            #"{"actor":"agent","id":"c1","payload":{"data":{"a":1},"instance_id":"i1","name":"pl\u0061n"},"project_id":"p1","schema":"agentcore.command/v1","type":"context.write","workspace_id":"ws1"}"#,
            #"{"actor":"agent","id":"c1","payload":{"data":{"a":1},"instance_id":"i1","name":"plan","x":1},"project_id":"p1","schema":"agentcore.command/v1","type":"context.write","workspace_id":"ws1"}"#,
            #"{"actor":"agent","id":"c1","payload":{"data":{"a":1},"instance_id":"i1","name":"plan"},"schema":"agentcore.command/v1","type":"context.write","workspace_id":"ws1"}"#,
            #"{"actor":"agent","id":"c1","payload":{"data":{"a":1},"instance_id":"i1","name":"plan"},"project_id":"p1","schema":"agentcore.command/v1","type":"context.rollback","workspace_id":"ws1"}"#,
            #"{"actor":"agent","id":"c1","payload":{"data":{"a":1},"data":{"a":2},"instance_id":"i1","name":"plan"},"project_id":"p1","schema":"agentcore.command/v1","type":"context.write","workspace_id":"ws1"}"#,
            #"{"actor":"agent","id":"c 1","payload":{"data":{"a":1},"instance_id":"i1","name":"plan"},"project_id":"p1","schema":"agentcore.command/v1","type":"context.write","workspace_id":"ws1"}"#,
            #"{"actor":"agent","id":"c1","payload":{"data":{"a":1},"instance_id":"i1","name":"pl\u007fan"},"project_id":"p1","schema":"agentcore.command/v1","type":"context.write","workspace_id":"ws1"}"#,
            #"{"actor":"agent","id":"c1","payload":{"data":1.5,"instance_id":"i1","name":"plan","mode":"merge_patch"},"project_id":"p1","schema":"agentcore.command/v1","type":"context.write","workspace_id":"ws1"}"#,
            #"{"actor":"","id":"c1","payload":{"data":{"a":1},"instance_id":"i1","name":"plan"},"project_id":"p1","schema":"agentcore.command/v1","type":"context.write","workspace_id":"ws1"}"#,
            #" {"actor":"agent","id":"c1","payload":{"data":{"a":1},"instance_id":"i1","name":"plan"},"project_id":"p1","schema":"agentcore.command/v1","type":"context.write","workspace_id":"ws1"}"#,
        ]
        var inputs = spellings.map { Array($0.utf8) } + [base]
        for _ in 0..<2_000 {
            var b = base
            switch g.next() % 3 {
            case 0: b = Array(b.prefix(Int(g.next() % UInt64(b.count))))
            case 1: b[Int(g.next() % UInt64(b.count))] = [0x22, 0x5C, 0x2C, 0x7D, 0x5D, 0x30, 0x2D, 0x7F, 0x01, 0xC3, 0x20, 0x61][Int(g.next() % 12)]
            default: b.insert(0x20, at: Int(g.next() % UInt64(b.count)))
            }
            inputs.append(b)
        }
        var fast = 0
        for input in inputs {
            let both = Self.bothWays(input)
            if both.tookFast { fast += 1 }
            #expect(both.fast == both.general, "\(String(decoding: input, as: UTF8.self))")
        }
        #expect(fast > 0)
        // A record keyed by another workspace is dead-lettered either way.
        let moved = Self.bothWays(base, key: "ws2")
        #expect(moved.fast == moved.general)
        guard case .deadLetter = moved.fast else {
            Issue.record("key mismatch not dead-lettered")
            return
        }
    }
}

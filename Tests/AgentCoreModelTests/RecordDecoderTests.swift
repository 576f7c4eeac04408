import Testing

@testable import AgentCoreModel

/// `CommandDecoder.decode(_:partitionCount:)`: every rule of the contract for one record in
/// one pure function, the same through both strategies.
@Suite struct RecordDecoderTests {
    static func record(_ value: String?, key: String?, partition: Int32, headers: [RecordHeader] = []) -> InputRecord {
        InputRecord(
            stream: .contextWrites,
            topic: "agentcore.context-writes",
            partition: partition,
            offset: 7,
            timestampMillis: 1,
            key: key.map { Array($0.utf8) },
            value: value.map { Array($0.utf8) },
            headers: headers
        )
    }

    static func write(_ data: String, mode: String = "replace", workspace: String = "acme") -> String {
        #"{"schema":"agentcore.command/v1","id":"c1","type":"context.write","workspace_id":"\#(workspace)","project_id":"p","actor":"a","payload":{"instance_id":"i","name":"n","data":\#(data),"mode":"\#(mode)"}}"#
    }

    @Test func recordRulesAndDataCases() throws {
        let d = CommandDecoder()
        let home = Murmur2.partition(forKey: "acme", partitionCount: 8)
        for fast in [true, false] {
            // A replace write's data is canonical bytes, even when sent with spaces and unsorted keys.
            guard
                case .command(let env, .success(.contextWrite(_, _, let data, _, _, _)), false) =
                    d.decode(Self.record(Self.write(#"{ "b": 1, "a": [2] }"#), key: "acme", partition: home), partitionCount: 8, fastPath: fast)
            else {
                Issue.record("not decoded as a context.write")
                continue
            }
            #expect(env.payload == .null)
            #expect(data == .canonical(Array(#"{"a":[2],"b":1}"#.utf8)))
            // A merge patch's is a tree.
            let merge = d.decode(
                Self.record(Self.write(#"{"a":null}"#, mode: "merge_patch"), key: "acme", partition: home),
                partitionCount: 8,
                fastPath: fast
            )
            guard case .command(_, .success(.contextWrite(_, _, let patch, _, .mergePatch, _)), _) = merge else {
                Issue.record("merge patch not decoded: \(merge)")
                continue
            }
            #expect(patch == .tree(["a": .null]))
            // Record rules: a tombstone, a key other than the workspace, another partition.
            #expect(
                d.decode(Self.record(nil, key: "acme", partition: home), partitionCount: 8, fastPath: fast)
                    == .deadLetter(DeadLetterError(.nullValue, "record has no value (tombstone)"))
            )
            guard case .deadLetter(let k) = d.decode(Self.record(Self.write("1"), key: "other", partition: home), partitionCount: 8, fastPath: fast)
            else {
                Issue.record("key mismatch not dead-lettered")
                continue
            }
            #expect(k.reason == .keyMismatch)
            guard
                case .deadLetter(let w) = d.decode(
                    Self.record(Self.write("1"), key: "acme", partition: (home + 1) % 8),
                    partitionCount: 8,
                    fastPath: fast
                )
            else {
                Issue.record("wrong partition not dead-lettered")
                continue
            }
            #expect(w.reason == .wrongPartition)
        }
        // A definition command's replica may sit on any partition.
        let def =
            #"{"schema":"agentcore.command/v1","id":"d1","type":"definition.register","workspace_id":"acme","actor":"a","payload":{"slug":"s","name":"S","agent_type":"t"}}"#
        let replica = d.decode(
            Self.record(
                def,
                key: "acme",
                partition: (home + 3) % 8,
                headers: [RecordHeader(key: CommandDecoder.replicaHeader, value: Array("1".utf8))]
            ),
            partitionCount: 8
        )
        guard case .command(_, .success(.definitionRegister), true) = replica else {
            Issue.record("replica not accepted: \(replica)")
            return
        }
    }
}

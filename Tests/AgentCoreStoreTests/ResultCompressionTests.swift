import AgentCoreModel
import Foundation
import Testing

@testable import AgentCoreStore

@Suite struct ResultCompressionTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../schemas/examples").standardized

    /// Every example event and the dead-letter example, one and two to a row, come back
    /// byte for byte, and shrink.
    @Test func everyEventTypeRoundTripsAndShrinks() throws {
        let dir = Self.examples.appendingPathComponent("events")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count == EventType.allCases.count)
        var outputs: [Outgoing] = []
        for file in files {
            let value = try JSONParser.parse(Array(try Data(contentsOf: dir.appendingPathComponent(file)))).canonicalBytes
            let event = try Event(bytes: value)
            outputs.append(Outgoing(topic: event.type.topic, key: Array("acme".utf8), value: value, eventId: event.id))
        }
        let dead = try JSONParser.parse(Array(try Data(contentsOf: Self.examples.appendingPathComponent("dead-letter.json"))))
        outputs.append(Outgoing(topic: .dlq, key: nil, value: dead.canonicalBytes, eventId: "agentcore.commands/3/1061/0"))
        let compressor = ResultCompressor()
        for i in outputs.indices {
            for row in [[outputs[i]], [outputs[i], outputs[(i + 1) % outputs.count]]] {
                let plain = PartitionStore.encodeResult(row)
                let stored = compressor.compress(plain)
                #expect(stored.first == ResultCompression.formatV1)
                #expect(stored.count < plain.count)
                #expect(try ResultDecompressor.plain(stored, what: "test") == plain)
            }
        }
    }

    /// Arbitrary bytes (not only JSON) survive, and short rows stay plain.
    @Test func arbitraryRowsRoundTripAndShortOnesStayPlain() throws {
        var rng = SystemRandomNumberGenerator()
        let compressor = ResultCompressor()
        for size in [0, 1, 63, 64, 65, 1000, 70_000, 1 << 20] {
            let plain = (0..<size).map { _ in UInt8.random(in: 0x02...0xFF, using: &rng) }
            let stored = compressor.compress(plain)
            if size < ResultCompression.minimumBytes {
                #expect(stored == plain)
            } else {
                #expect(stored.first == ResultCompression.formatV1)
            }
            #expect(try ResultDecompressor.plain(stored, what: "test") == plain)
        }
    }

    /// Rows written before compression (plain) are read as they are, beside compressed ones.
    @Test func plainRowsOfOlderStoresStillPublish() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        _ = try f.spawn("i1")
        let before = try f.store.outbox()
        let seqs = Set(before.map(\.seq))
        for seq in seqs {
            let rows = before.filter { $0.seq == seq }.map {
                Outgoing(topic: $0.topic, key: $0.key, value: $0.value, eventId: $0.eventId)
            }
            try f.store.db.run(
                "UPDATE results SET outputs = ? WHERE seq = ?",
                [.blob(PartitionStore.encodeResult(rows)), .int(seq)]
            )
        }
        #expect(try f.store.outbox() == before)
    }

    /// A damaged compressed row is a `corrupt_store` error, never a crash or wrong events.
    @Test func damagedRowsAreCorruptStoreErrors() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        let seq = try #require(try f.store.outbox().last?.seq)
        let stored = try #require(try f.store.db.rows("SELECT outputs FROM results WHERE seq = ?", [.int(seq)]).first?[0])
        guard case .blob(let good) = stored else {
            Issue.record("results row is not a blob")
            return
        }
        #expect(good.first == ResultCompression.formatV1)
        var hugeClaim = good
        hugeClaim.replaceSubrange(1..<5, with: [0xFF, 0xFF, 0xFF, 0x7F])
        var wrongSize = good
        wrongSize[1] &+= 1
        var scrambled = good
        for i in ResultCompression.headerBytes..<scrambled.count { scrambled[i] = 0xFF }
        for bad in [Array(good.prefix(3)), Array(good.prefix(good.count / 2)), hugeClaim, wrongSize, scrambled] {
            try f.store.db.run("UPDATE results SET outputs = ? WHERE seq = ?", [.blob(bad), .int(seq)])
            #expect {
                _ = try f.store.outbox()
            } throws: { ($0 as? StoreError)?.code == "corrupt_store" }
        }
    }
}

import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import Foundation
import Testing

@testable import AgentCoreWorker

@Suite(.serialized) struct EventStreamTests {
    @Test func decodesEventsDropsDuplicatesAndSkipsForeignRecords() async throws {
        let h = try WorkerHarness(partitions: 2)
        let producer = try KafkaProducer(config: h.kafka)
        defer { producer.close() }
        let e1 = Event(
            id: "x/0/1/0",
            type: .instanceHeartbeat,
            commandId: "c1",
            workspaceId: "w",
            projectId: "p",
            occurredAtMillis: 1,
            payload: ["instance_id": "i"]
        )
        let e2 = Event(
            id: "x/0/2/0",
            type: .instanceRemoved,
            commandId: "c2",
            workspaceId: "w",
            projectId: "p",
            occurredAtMillis: 2,
            payload: ["instance_id": "i", "contexts_removed": 0]
        )
        for bytes in [e1.bytes, e1.bytes, Array("not an event".utf8), e2.bytes, e1.bytes] {
            try await producer.send(topic: h.topics.status, key: Array("w".utf8), value: bytes)
        }
        let stream = try h.reader([h.topics.status])
        var got: [ReceivedEvent] = []
        #expect(
            await eventually(seconds: 30) {
                got += stream.poll()
                return stream.duplicatesDropped + got.count + stream.undecodable >= 5
            }
        )
        #expect(got.map(\.event.id) == ["x/0/1/0", "x/0/2/0"])
        #expect(got[1].event == e2)
        #expect(stream.duplicatesDropped == 2)
        #expect(stream.undecodable == 1)
        #expect(got.allSatisfy { $0.topic == h.topics.status && $0.offset >= 0 })
    }
}

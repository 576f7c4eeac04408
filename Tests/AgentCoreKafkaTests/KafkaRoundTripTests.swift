import Foundation
import Synchronization
import Testing

@testable import AgentCoreKafka

@Suite(.serialized) struct KafkaRoundTripTests {
    @Test func keysHeadersNullsAndOrderPerKey() throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        let topic = uniqueName("rt")
        try cluster.createTopic(topic, partitions: 3)
        let producer = try KafkaProducer(config: mockConfig(cluster))
        defer { producer.close() }
        var input: [(key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader])] = []
        for i in 0..<300 {
            let key = Array("ws-\(i % 7)".utf8)
            let headers: [KafkaHeader] = [KafkaHeader("seq", Array(String(i).utf8)), KafkaHeader("empty", nil)]
            input.append((key: key, value: Array("v\(i)".utf8), headers: headers))
        }
        input.append((nil, Array("no-key".utf8), []))
        input.append((Array("ws-tomb".utf8), nil, []))
        let reports = try produceAll(producer, topic: topic, input)
        #expect(reports.allSatisfy { (try? $0.get()) != nil })
        // murmur2: one key, one partition, and the partition Java would choose.
        for (i, r) in reports.enumerated().prefix(300) {
            let p = try r.get().partition
            #expect(p == murmur2Partition(Array("ws-\(i % 7)".utf8), 3))
        }

        let consumer = try KafkaConsumer(config: mockConfig(cluster), options: fastGroup(uniqueName("g")))
        defer { consumer.close() }
        try consumer.subscribe([topic])
        let got = pollUntil(consumer) { $0.count >= input.count }
        #expect(got.count == input.count)
        let tomb = try #require(got.first { $0.key == Array("ws-tomb".utf8) })
        #expect(tomb.value == nil)
        let noKey = try #require(got.first { $0.value == Array("no-key".utf8) })
        #expect(noKey.key == nil)
        let sample = try #require(got.first { $0.value == Array("v5".utf8) })
        #expect(sample.headers == [KafkaHeader("seq", Array("5".utf8)), KafkaHeader("empty", nil)])
        #expect(sample.timestamp > 0)
        for k in 0..<7 {
            let seqs = got.filter { $0.key == Array("ws-\(k)".utf8) }.compactMap { r in
                r.headers.first?.value.flatMap { Int(String(decoding: $0, as: UTF8.self)) }
            }
            #expect(seqs == seqs.sorted())
            #expect(seqs.count == input.prefix(300).indices.filter { $0 % 7 == k }.count)
        }
    }

    @Test func sendAwaitsDeliveryAndInvalidPropertyFailsAtStartup() async throws {
        let cluster = try EmbeddedCluster()
        let topic = uniqueName("send")
        try cluster.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(config: mockConfig(cluster))
        defer { producer.close() }
        let r1 = try await producer.send(topic: topic, key: Array("k".utf8), value: Array("a".utf8))
        let r2 = try await producer.send(topic: topic, key: Array("k".utf8), value: Array("b".utf8))
        #expect(r2.offset == r1.offset + 1)
        var bad = mockConfig(cluster)
        bad.properties["no.such.property"] = "1"
        #expect(throws: KafkaError.self) { try KafkaProducer(config: bad) }
        do {
            _ = try KafkaProducer(config: bad)
        } catch {
            #expect(error.message.contains("no.such.property"))
        }
    }

    @Test func seekOnAssignLagAndWatermarks() throws {
        let cluster = try EmbeddedCluster()
        let topic = uniqueName("seek")
        try cluster.createTopic(topic, partitions: 2)
        let producer = try KafkaProducer(config: mockConfig(cluster))
        defer { producer.close() }
        for p in Int32(0)..<2 {
            _ = try produceAll(producer, topic: topic, (0..<50).map { i in (nil, Array("p\(p)-\(i)".utf8), []) }, partition: p)
        }
        // The application's own stored positions: partition 0 from 40, partition 1 from 10.
        let starts = [TopicPartitionOffset(TopicPartition(topic, 0), offset: 40), TopicPartitionOffset(TopicPartition(topic, 1), offset: 10)]
        let assignedBeforeFirstRecord = Locked(false)
        let consumer = try KafkaConsumer(
            config: mockConfig(cluster),
            options: fastGroup(uniqueName("g")),
            onAssign: { _ in
                assignedBeforeFirstRecord.withLock { $0 = true }
                return starts
            }
        )
        defer { consumer.close() }
        try consumer.subscribe([topic])
        let got = pollUntil(consumer) { $0.count >= 50 }
        #expect(assignedBeforeFirstRecord.get)
        #expect(got.count == 50)
        #expect(got.filter { $0.partition == 0 }.map(\.offset) == Array(40..<50))
        #expect(got.filter { $0.partition == 1 }.map(\.offset) == Array(10..<50))
        let w = try consumer.watermarks(TopicPartition(topic, 0))
        #expect(w == Watermarks(low: 0, high: 50))
        let lag = try consumer.lag([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        #expect(lag[TopicPartition(topic, 0)] == 0)
        #expect(lag[TopicPartition(topic, 1)] == 0)
        // Seek back and read again.
        try consumer.seek([TopicPartitionOffset(TopicPartition(topic, 1), offset: 45)])
        let again = pollUntil(consumer) { $0.count >= 5 }
        #expect(again.map(\.offset) == Array(45..<50))
        try consumer.commit([TopicPartitionOffset(TopicPartition(topic, 0), offset: 50)])
        #expect(try consumer.committed([TopicPartition(topic, 0)]).first?.offset == 50)
        #expect(try consumer.partitionCount(topic: topic) == 2)
    }

    @Test func pauseStopsDeliveryUntilResume() throws {
        let cluster = try EmbeddedCluster()
        let topic = uniqueName("pause")
        try cluster.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(config: mockConfig(cluster))
        defer { producer.close() }
        let consumer = try KafkaConsumer(config: mockConfig(cluster), options: fastGroup(uniqueName("g")))
        defer { consumer.close() }
        try consumer.subscribe([topic])
        _ = try produceAll(producer, topic: topic, [(nil, Array("a".utf8), [])])
        _ = pollUntil(consumer) { $0.count >= 1 }
        try consumer.pause([TopicPartition(topic, 0)])
        _ = try produceAll(producer, topic: topic, [(nil, Array("b".utf8), [])])
        #expect(pollUntil(consumer, seconds: 1) { !$0.isEmpty }.isEmpty)
        try consumer.resume([TopicPartition(topic, 0)])
        #expect(pollUntil(consumer) { !$0.isEmpty }.map(\.value) == [Array("b".utf8)])
    }
}

/// Java's murmur2 partitioner, written out here independently of the module under test.
func murmur2Partition(_ data: [UInt8], _ n: UInt32) -> Int32 {
    let m: UInt32 = 0x5bd1_e995
    var h: UInt32 = 0x9747_b28c ^ UInt32(data.count)
    var i = 0
    while i + 4 <= data.count {
        var k = UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
        k = k &* m
        k ^= k >> 24
        k = k &* m
        h = h &* m
        h ^= k
        i += 4
    }
    let rest = data.count - i
    if rest == 3 { h ^= UInt32(data[i + 2]) << 16 }
    if rest >= 2 { h ^= UInt32(data[i + 1]) << 8 }
    if rest >= 1 {
        h ^= UInt32(data[i])
        h = h &* m
    }
    h ^= h >> 13
    h = h &* m
    h ^= h >> 15
    return Int32((h & 0x7fff_ffff) % n)
}

import Foundation
import Testing

@testable import AgentCoreKafka

@Suite(.serialized) struct KafkaExtrasTests {
    @Test func endOfPartitionStatisticsAndStaticMembership() throws {
        let cluster = try EmbeddedCluster()
        let topic = uniqueName("eof")
        try cluster.createTopic(topic, partitions: 1)
        var config = mockConfig(cluster)
        config.properties["statistics.interval.ms"] = "100"
        let producer = try KafkaProducer(config: config)
        defer { producer.close() }
        _ = try produceAll(producer, topic: topic, (0..<3).map { i in (nil, Array("r\(i)".utf8), []) })
        var options = fastGroup(uniqueName("g"))
        options.enablePartitionEOF = true
        options.groupInstanceId = "member-1"
        let consumer = try KafkaConsumer(config: config, options: options)
        defer { consumer.close() }
        try consumer.subscribe([topic])
        var records = 0
        var eof: ConsumerEvent?
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && eof == nil {
            let b = consumer.poll(maxRecords: 100, timeoutMs: 100)
            records += b.records.count
            eof = b.events.first { if case .endOfPartition = $0 { return true } else { return false } }
        }
        #expect(records == 3)
        #expect(eof == .endOfPartition(TopicPartition(topic, 0), offset: 3))
        // librdkafka's statistics JSON arrives every 100 ms and is parsed.
        #expect(waitFor(seconds: 10) { producer.statistics != nil })
        #expect((producer.statistics?.transmittedMessages ?? 0) >= 3)
    }

    @Test func retriableBrokerErrorsAreRetriedWithoutDuplicates() throws {
        let cluster = try EmbeddedCluster()
        let topic = uniqueName("errs")
        try cluster.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(config: mockConfig(cluster))
        defer { producer.close() }
        // The next three Produce requests (API key 0) fail with NOT_LEADER_OR_FOLLOWER (6).
        cluster.pushRequestErrors(apiKey: 0, errors: [6, 6, 6])
        let results = try produceAll(producer, topic: topic, (0..<20).map { i in (nil, Array("v\(i)".utf8), []) })
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        let consumer = try KafkaConsumer(config: mockConfig(cluster), options: fastGroup(uniqueName("g")))
        defer { consumer.close() }
        try consumer.subscribe([topic])
        let got = pollUntil(consumer, seconds: 20) { $0.count >= 20 }
        #expect(got.map { String(decoding: $0.value ?? [], as: UTF8.self) } == (0..<20).map { "v\($0)" })
    }

    @Test func brokerRoundTripTimeIsApplied() async throws {
        let cluster = try EmbeddedCluster()
        let topic = uniqueName("rtt")
        try cluster.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(config: mockConfig(cluster))
        defer { producer.close() }
        try await producer.send(topic: topic, key: nil, value: [1])
        try cluster.setRoundTripTime(broker: 1, milliseconds: 300)
        let start = Date()
        try await producer.send(topic: topic, key: nil, value: [2])
        #expect(Date().timeIntervalSince(start) >= 0.25)
    }
}

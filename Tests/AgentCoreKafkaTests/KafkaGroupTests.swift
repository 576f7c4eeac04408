import Foundation
import Testing

@testable import AgentCoreKafka

@Suite(.serialized) struct KafkaGroupTests {
    /// Two members split six partitions, a third joins, one leaves. Each member's log must
    /// show a partition's records only while it holds the partition, and across members no
    /// offset is delivered twice while records are not re-read (no commits, fresh starts
    /// from the application's own positions would re-read; here every member starts at the
    /// group's beginning, so we check per generation instead: every record a member gets for
    /// a partition arrives between that member's assign and revoke of it).
    @Test(arguments: [[ConsumerOptions.AssignmentStrategy.range, .roundRobin], [.cooperativeSticky]])
    func membersSplitAndHandOverPartitions(strategy: [ConsumerOptions.AssignmentStrategy]) throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        let topic = uniqueName("grp")
        try cluster.createTopic(topic, partitions: 6)
        let group = uniqueName("g")
        var options = fastGroup(group)
        options.assignmentStrategy = strategy
        let config = mockConfig(cluster)
        let producer = try KafkaProducer(config: config)
        defer { producer.close() }

        let a = try BackgroundMember(config: config, options: options, topics: [topic])
        let b = try BackgroundMember(config: config, options: options, topics: [topic])
        #expect(waitFor(seconds: 30) { a.assignment.count + b.assignment.count == 6 && !a.assignment.isEmpty && !b.assignment.isEmpty })
        #expect(a.assignment.isDisjoint(with: b.assignment))

        let c = try BackgroundMember(config: config, options: options, topics: [topic])
        #expect(waitFor(seconds: 30) { !c.assignment.isEmpty && a.assignment.count + b.assignment.count + c.assignment.count == 6 })
        #expect(a.assignment.isDisjoint(with: c.assignment) && b.assignment.isDisjoint(with: c.assignment))

        a.stop()
        #expect(waitFor(seconds: 30) { b.assignment.count + c.assignment.count == 6 })
        _ = try produceAll(producer, topic: topic, (0..<120).map { i in (Array("k\(i)".utf8), Array("v".utf8), []) })
        #expect(waitFor(seconds: 30) { b.records.count + c.records.count >= 120 })
        b.stop()
        c.stop()
        for m in [a, b, c] {
            // Replay the member's log: every record must be of a partition it held then.
            var held: Set<TopicPartition> = []
            for e in m.log.get {
                switch e {
                case .assigned(let t): held.formUnion(t)
                case .revoked(let t): held.subtract(t)
                case .record(let tp, _): #expect(held.contains(tp))
                }
            }
            #expect(held.isEmpty, "close() must revoke everything")
        }
        // Nobody committed and records were produced after the last rebalance: each offset once.
        let all = (b.records + c.records).map { "\($0.0)@\($0.1)" }
        #expect(all.count == 120)
        #expect(Set(all).count == 120)
    }
}

@Suite(.serialized) struct KafkaFaultTests {
    @Test func idempotentProducerSurvivesBrokerOutage() throws {
        let cluster = try EmbeddedCluster(brokers: 3)
        let topic = uniqueName("outage")
        try cluster.createTopic(topic, partitions: 3, replicationFactor: 3)
        var config = mockConfig(cluster)
        config.properties["message.timeout.ms"] = "60000"
        let producer = try KafkaProducer(config: config)
        defer { producer.close() }
        let results = Locked<[Result<DeliveryReport, KafkaError>]>([])
        for i in 0..<3_000 {
            if i == 1_000 { try cluster.setBroker(1, up: false) }
            if i == 2_000 { try cluster.setBroker(1, up: true) }
            try producer.produce(topic: topic, key: Array("key-\(i % 10)".utf8), value: Array(String(i).utf8)) { r in
                results.withLock { $0.append(r) }
            }
            if i % 500 == 0 { Thread.sleep(forTimeInterval: 0.2) }
        }
        try producer.flush(timeoutMs: 60_000)
        #expect(results.get.count == 3_000)
        #expect(results.get.allSatisfy { (try? $0.get()) != nil })
        let consumer = try KafkaConsumer(config: config, options: fastGroup(uniqueName("g")))
        defer { consumer.close() }
        try consumer.subscribe([topic])
        let got = pollUntil(consumer, seconds: 60) { $0.count >= 3_000 }
        let values = got.compactMap { $0.value.flatMap { Int(String(decoding: $0, as: UTF8.self)) } }
        #expect(values.count == 3_000, "no duplicates")
        #expect(Set(values) == Set(0..<3_000), "no loss")
        for k in 0..<10 {
            let seq = got.filter { $0.key == Array("key-\(k)".utf8) }.compactMap { $0.value.flatMap { Int(String(decoding: $0, as: UTF8.self)) } }
            #expect(seq == seq.sorted(), "order per key")
        }
    }

    @Test func transactionsCommitRecordsWithOffsets() throws {
        let cluster = try EmbeddedCluster(brokers: 3)
        let input = uniqueName("txin")
        let output = uniqueName("txout")
        try cluster.createTopic(input, partitions: 1, replicationFactor: 3)
        try cluster.createTopic(output, partitions: 1, replicationFactor: 3)
        let config = mockConfig(cluster)
        let plain = try KafkaProducer(config: config)
        defer { plain.close() }
        _ = try produceAll(plain, topic: input, (0..<10).map { i in (nil, Array("in\(i)".utf8), []) })

        let group = uniqueName("g")
        let consumer = try KafkaConsumer(config: config, options: fastGroup(group))
        try consumer.subscribe([input])
        let records = pollUntil(consumer) { $0.count >= 10 }
        #expect(records.count == 10)

        var txConfig = config
        txConfig.properties["transactional.id"] = uniqueName("tx")
        let tx = try KafkaProducer(config: txConfig)
        defer { tx.close() }
        try tx.initTransactions()
        try tx.beginTransaction()
        _ = try produceAll(tx, topic: output, (0..<5).map { i in (nil, Array("out\(i)".utf8), []) })
        try tx.sendOffsetsToTransaction([TopicPartitionOffset(TopicPartition(input, 0), offset: 6)], consumer: consumer)
        try tx.commitTransaction()
        let committedByTxn = try consumer.committed([TopicPartition(input, 0)]).first?.offset
        // Aborting works as an API call; the 2.0.2 mock does not hide aborted records from
        // read_committed consumers, so their invisibility is not asserted here.
        try tx.beginTransaction()
        _ = try produceAll(tx, topic: output, [(nil, Array("aborted".utf8), [])])
        try tx.abortTransaction()
        consumer.close()

        // The group resumes where the transaction said.
        let resumed = try KafkaConsumer(config: config, options: fastGroup(group))
        defer { resumed.close() }
        try resumed.subscribe([input])
        let rest = pollUntil(resumed) { $0.count >= 4 }
        // librdkafka 2.0.2's mock accepts TxnOffsetCommit but does not store the offsets in
        // the group (committed() answers -1001), so the group restarts from the beginning.
        // On real Kafka the group resumes at 6. When the mock learns it, this known issue
        // stops occurring and the test fails, prompting removal of the wrapper.
        withKnownIssue("mock cluster drops transactional offset commits") {
            #expect(committedByTxn == 6)
            #expect(rest.map(\.offset) == [6, 7, 8, 9])
        }

        var rc = fastGroup(uniqueName("g"))
        rc.isolationLevel = .readCommitted
        let reader = try KafkaConsumer(config: config, options: rc)
        defer { reader.close() }
        try reader.subscribe([output])
        let committed = pollUntil(reader, seconds: 15) { $0.count >= 5 }
        #expect(committed.prefix(5).map { String(decoding: $0.value ?? [], as: UTF8.self) } == (0..<5).map { "out\($0)" })
    }
}

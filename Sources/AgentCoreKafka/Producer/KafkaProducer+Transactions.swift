import CRdKafka

/// Transactions (requires `transactional.id` in the config). Each call blocks up to its
/// timeout: call from a dedicated thread, not the cooperative pool. Errors carry
/// librdkafka's classification: `isTransactionAbortable` means abort and retry the
/// transaction, `isFatal` means this producer must be closed and re-created.
extension KafkaProducer {
    public func initTransactions(timeoutMs: Int32 = 30_000) throws(KafkaError) {
        if let e = rd_kafka_init_transactions(client.handle, timeoutMs) { throw KafkaError(consuming: e, context: "init transactions") }
    }

    public func beginTransaction() throws(KafkaError) {
        if let e = rd_kafka_begin_transaction(client.handle) { throw KafkaError(consuming: e, context: "begin transaction") }
    }

    /// Adds the consumer's offsets (next offsets to read) to the transaction, so they commit
    /// with its records.
    public func sendOffsetsToTransaction(
        _ offsets: [TopicPartitionOffset],
        consumer: KafkaConsumer,
        timeoutMs: Int32 = 30_000
    ) throws(KafkaError) {
        guard let meta = rd_kafka_consumer_group_metadata(consumer.client.handle) else {
            throw .invalidArgument("consumer has no group metadata")
        }
        defer { rd_kafka_consumer_group_metadata_destroy(meta) }
        let list = offsets.makeList()
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if let e = rd_kafka_send_offsets_to_transaction(client.handle, list, meta, timeoutMs) {
            throw KafkaError(consuming: e, context: "send offsets to transaction")
        }
    }

    public func commitTransaction(timeoutMs: Int32 = 30_000) throws(KafkaError) {
        if let e = rd_kafka_commit_transaction(client.handle, timeoutMs) { throw KafkaError(consuming: e, context: "commit transaction") }
    }

    public func abortTransaction(timeoutMs: Int32 = 30_000) throws(KafkaError) {
        if let e = rd_kafka_abort_transaction(client.handle, timeoutMs) { throw KafkaError(consuming: e, context: "abort transaction") }
    }
}

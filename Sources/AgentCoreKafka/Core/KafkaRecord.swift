/// A topic and partition.
public struct TopicPartition: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// A topic-partition with an offset (a position, a commit or a seek target).
public struct TopicPartitionOffset: Sendable, Hashable {
    public var topicPartition: TopicPartition
    /// An offset, or one of the logical offsets (`beginning`, `end`, `stored`).
    public var offset: Int64
    /// Commit metadata (committed with the offset, and read back by `committed`).
    public var metadata: String?

    public init(_ tp: TopicPartition, offset: Int64, metadata: String? = nil) {
        self.topicPartition = tp
        self.offset = offset
        self.metadata = metadata
    }

    /// librdkafka's logical offsets.
    public static let beginning: Int64 = -2
    public static let end: Int64 = -1
    public static let stored: Int64 = -1000
    public static let invalid: Int64 = -1001
}

/// A record header. A nil value is a header without value (allowed by Kafka).
public struct KafkaHeader: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]?

    public init(_ key: String, _ value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// One consumed record. A nil key or value is a null key or a tombstone, never a crash.
public struct KafkaRecord: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// Milliseconds since the epoch, or -1 when the broker gave none.
    public var timestamp: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]

    public var topicPartition: TopicPartition { TopicPartition(topic, partition) }
}

/// Where a delivered record landed.
public struct DeliveryReport: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
}

/// Low and high watermarks of a partition.
public struct Watermarks: Sendable, Equatable {
    public var low: Int64
    public var high: Int64
}

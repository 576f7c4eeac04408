import Foundation

/// One input record as the store sees it: bytes plus the metadata apply may read.
public struct InputRecord: Sendable, Equatable {
    public var stream: CommandStream
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// Record timestamp, milliseconds since the epoch (CreateTime or LogAppendTime).
    public var timestampMillis: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [RecordHeader]

    public init(
        stream: CommandStream,
        topic: String,
        partition: Int32,
        offset: Int64,
        timestampMillis: Int64,
        key: [UInt8]?,
        value: [UInt8]?,
        headers: [RecordHeader] = []
    ) {
        self.stream = stream
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestampMillis = timestampMillis
        self.key = key
        self.value = value
        self.headers = headers
    }

    public func header(_ name: String) -> [UInt8]? {
        headers.first(where: { $0.key == name })?.value ?? nil
    }
}

/// A Kafka record header; a nil value is a header without value.
public struct RecordHeader: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// The dead-letter record, `agentcore.dead-letter/v1`: why, where from, and the original
/// key, value and headers in base64 so any bytes survive. The dead-letter Kafka record is
/// keyed by the original key's bytes.
public enum DeadLetter {
    public static let schema = "agentcore.dead-letter/v1"

    /// Largest part of an original value copied into a dead letter; longer values are cut
    /// (`value_truncated`), so the dead letter itself always fits in a Kafka record.
    public static let maxValueBytes = 65_536
    /// At most this many headers, each value cut to `maxHeaderValueBytes` (and its name to
    /// 256 characters), so a dead letter stays far below a Kafka record's 1 MB.
    public static let maxHeaders = 64
    public static let maxHeaderValueBytes = 1_024

    public static func json(for record: InputRecord, id: String, error: DeadLetterError) -> JSONValue {
        func b64<C: Collection<UInt8>>(_ b: C?) -> JSONValue { b.map { .string(Data($0).base64EncodedString()) } ?? .null }
        let size = record.value?.count ?? 0
        return .object([
            "schema": .string(schema), "id": .string(id), "reason": .string(error.reason.rawValue),
            "message": .string(error.message),
            "source": .object([
                "topic": .string(record.topic), "partition": .int(Int64(record.partition)),
                "offset": .int(record.offset), "timestamp": .string(Timestamp.iso8601(millis: record.timestampMillis)),
            ]),
            "key_base64": b64(record.key.map { $0.prefix(maxValueBytes) }),
            "value_base64": b64(record.value.map { $0.prefix(maxValueBytes) }), "value_size": .int(Int64(size)),
            "value_truncated": .bool(size > maxValueBytes),
            "headers": .array(
                record.headers.prefix(maxHeaders).map {
                    .object(["key": .string(String($0.key.prefix(256))), "value_base64": b64($0.value.map { $0.prefix(maxHeaderValueBytes) })])
                }
            ),
        ])
    }
}

import AgentCoreModel

/// Where an input record sits; its outputs' ids are derived from it (`Event.id`).
struct RecordPosition: Sendable {
    var topic: String
    var partition: Int32
    var offset: Int64

    init(_ record: borrowing InputRecord) {
        topic = record.topic
        partition = record.partition
        offset = record.offset
    }

    func eventId(_ index: Int) -> String { Event.id(topic: topic, partition: partition, offset: offset, index: index) }
}

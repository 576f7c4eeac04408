import AgentCoreModel

/// An output built while applying one record.
struct Outgoing: Sendable {
    var topic: OutputTopic
    /// The record key: the workspace id for events, the original key for dead letters.
    var key: [UInt8]?
    var body: Body

    /// The canonical JSON and its id, or the parts of an event to be serialised later (off
    /// the applying thread, see `ResultRenderer`); both give the same bytes.
    enum Body: Sendable {
        case json([UInt8], id: String)
        case event(EventParts)
    }

    init(topic: OutputTopic, key: [UInt8]?, value: [UInt8], eventId: String) {
        self.init(topic: topic, key: key, body: .json(value, id: eventId))
    }

    init(topic: OutputTopic, key: [UInt8]?, body: Body) {
        self.topic = topic
        self.key = key
        self.body = body
    }

    /// The event's id (spelled out on demand for an event not serialised yet).
    var eventId: String {
        switch body {
        case .json(_, let id): return id
        case .event(let e): return e.id
        }
    }

    /// Canonical JSON of the event or dead letter; `id` is `eventId`, when the caller has it.
    func value(id: String? = nil) -> [UInt8] {
        switch body {
        case .json(let bytes, _): return bytes
        case .event(let e): return e.encode(id: id ?? e.id)
        }
    }

    /// `value(id:)` appended to `out`.
    func writeValue(id: String, to out: inout [UInt8]) {
        switch body {
        case .json(let bytes, _): out.append(contentsOf: bytes)
        case .event(let e): e.write(id: id, to: &out)
        }
    }
}

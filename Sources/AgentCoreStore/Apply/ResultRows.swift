import AgentCoreModel

/// The `outputs` of a `results` row: the events and dead letters one record produced.
///
/// Format 2 (first byte 0x02), written since the second schema of this file: the outputs
/// one after the other, each a tag byte and its fields.
/// - tag 0, any output as published: topic, event id, key (optional), value.
/// - tag 1, an event: its type, the id without the trailing index, the index, command id,
///   workspace, project, correlation id (optional strings), `occurred_at` in milliseconds,
///   and the payload's canonical JSON. The topic is the type's, the key the workspace, and
///   the published value `Event.encode` of these parts, byte for byte what was built when
///   the record was applied. Each event repeats the envelope of the one before, so a
///   string field is either new (appended to the row's table) or the number of one
///   already in the table: a row of two events is about half the size of their JSON.
/// Lengths and numbers are LEB128 varints (`occurred_at` zigzag); a string field is 0
/// (absent), 1 followed by a length and bytes (new), or 2 + its index in the table.
///
/// Format 1 (the first schema; a row starts with the topic's name) is one line per output,
/// tab-separated: topic, event id, key in hex or `-`, value. It is still read.
extension PartitionStore {
    static func encodeResult(_ outputs: [Outgoing]) -> [UInt8] {
        var w = RowWriter()
        w.out.append(2)
        for o in outputs {
            if case .event(let e) = o.body, let slash = e.id.utf8.lastIndex(of: UInt8(ascii: "/")),
                let index = UInt64(Substring(e.id.utf8[e.id.utf8.index(after: slash)...])),
                String(index) == String(Substring(e.id.utf8[e.id.utf8.index(after: slash)...]))
            {
                w.out.append(1)
                w.string(e.type.rawValue)
                w.string(String(Substring(e.id.utf8[...slash])))
                w.varint(index)
                w.string(e.commandId)
                w.string(e.workspaceId)
                w.string(e.projectId)
                w.string(e.correlationId)
                w.varint(UInt64(bitPattern: (e.occurredAtMillis << 1) ^ (e.occurredAtMillis >> 63)))
                w.bytes(e.payloadJSON)
            } else {
                w.out.append(0)
                w.string(o.topic.rawValue)
                w.string(o.eventId)
                if let key = o.key {
                    w.out.append(1)
                    w.bytes(key)
                } else {
                    w.out.append(0)
                }
                w.bytes(o.value)
            }
        }
        return w.out
    }

    static func decodeResult(_ bytes: [UInt8], command: String) throws -> [Outgoing] {
        guard bytes.first == 2 else { return try decodeResultV1(bytes, command: command) }
        var r = RowReader(data: bytes, position: 1, row: command)
        var outputs: [Outgoing] = []
        while !r.atEnd {
            switch try r.byte() {
            case 0:
                guard let topic = OutputTopic(rawValue: try r.requiredString()) else { throw r.corrupt("unknown topic") }
                let id = try r.requiredString()
                let key = try r.byte() == 1 ? try r.bytes() : nil
                outputs.append(Outgoing(topic: topic, key: key, value: try r.bytes(), eventId: id))
            case 1:
                guard let type = EventType(rawValue: try r.requiredString()) else { throw r.corrupt("unknown event type") }
                let id = try r.requiredString() + String(try r.varint())
                let commandId = try r.string()
                let workspace = try r.requiredString()
                let project = try r.string()
                let correlation = try r.string()
                let z = try r.varint()
                let millis = Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1)
                let parts = EventParts(
                    id: id, type: type, commandId: commandId, workspaceId: workspace, projectId: project,
                    correlationId: correlation, occurredAtMillis: millis, payload: .json(try r.bytes()))
                outputs.append(Outgoing(topic: type.topic, key: Array(workspace.utf8), body: .event(parts), eventId: id))
            default:
                throw r.corrupt("unknown output tag")
            }
        }
        return outputs
    }

    /// Format 1: one line per output, tab-separated.
    static func decodeResultV1(_ bytes: [UInt8], command: String) throws -> [Outgoing] {
        try bytes.split(separator: 0x0A).map { line in
            let f = line.split(separator: 0x09, maxSplits: 3, omittingEmptySubsequences: false)
            guard f.count == 4, let topic = OutputTopic(rawValue: String(decoding: f[0], as: UTF8.self)) else {
                throw StoreError("corrupt_store", "results row for \(command) is malformed")
            }
            return Outgoing(topic: topic, key: try decodeHex(f[2], command: command), value: Array(f[3]),
                            eventId: String(decoding: f[1], as: UTF8.self))
        }
    }

    static func decodeHex(_ field: ArraySlice<UInt8>, command: String) throws -> [UInt8]? {
        if field.elementsEqual([UInt8(ascii: "-")]) { return nil }
        func nibble(_ c: UInt8) throws -> UInt8 {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            default: throw StoreError("corrupt_store", "results row for \(command) has a bad key")
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(field.count / 2)
        var i = field.startIndex
        while i + 1 < field.endIndex {
            out.append(try nibble(field[i]) << 4 | nibble(field[i + 1]))
            i += 2
        }
        return out
    }
}

private struct RowWriter {
    var out: [UInt8] = []
    var table: [String: UInt64] = [:]

    init() { out.reserveCapacity(512) }

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    mutating func bytes(_ b: [UInt8]) {
        varint(UInt64(b.count))
        out.append(contentsOf: b)
    }

    mutating func string(_ s: String?) {
        guard let s else { return varint(0) }
        if let i = table[s] { return varint(i + 2) }
        table[s] = UInt64(table.count)
        varint(1)
        varint(UInt64(s.utf8.count))
        out.append(contentsOf: s.utf8)
    }
}

private struct RowReader {
    let data: [UInt8]
    var position: Int
    let row: String
    var table: [String] = []

    var atEnd: Bool { position >= data.count }

    func corrupt(_ what: String) -> StoreError { StoreError("corrupt_store", "results row for \(row): \(what)") }

    mutating func byte() throws -> UInt8 {
        guard position < data.count else { throw corrupt("truncated") }
        defer { position += 1 }
        return data[position]
    }

    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw corrupt("bad number") }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    mutating func bytes() throws -> [UInt8] {
        let n = try varint()
        guard n <= UInt64(data.count - position) else { throw corrupt("truncated") }
        defer { position += Int(n) }
        return Array(data[position..<position + Int(n)])
    }

    mutating func string() throws -> String? {
        switch try varint() {
        case 0: return nil
        case 1:
            let s = String(decoding: try bytes(), as: UTF8.self)
            table.append(s)
            return s
        case let i:
            guard i - 2 < UInt64(table.count) else { throw corrupt("bad string reference") }
            return table[Int(i - 2)]
        }
    }

    mutating func requiredString() throws -> String {
        guard let s = try string() else { throw corrupt("missing string") }
        return s
    }
}

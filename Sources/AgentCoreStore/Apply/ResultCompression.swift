import CLZ4

/// `results` rows are stored compressed: an LZ4 block made with a fixed dictionary of event
/// skeletons, so the envelope keys, schema names and payload keys that every event repeats
/// cost almost nothing. A two-event `context.write` row shrinks from about 840 to about 200
/// bytes (most of what each write added to the WAL beyond its version row) for under a
/// microsecond on the batch's helper thread. zstd with the same dictionary packs a little tighter
/// but costs four times the CPU, which the two cores this runs on do not have to spare.
///
/// Row format, told apart by the first byte: a plain row (format 0, written before
/// compression existed, and rows under `minimumBytes`) starts with a topic name, so with a
/// lower-case letter, or is empty; a compressed row is `formatV1`, the plain size as four
/// bytes little-endian, then the LZ4 block made with `dictionaryV1`. The dictionary is part
/// of the file format: rows written with it must stay readable, so it is never edited. A
/// new dictionary gets a new format byte, and readers keep the old one.
enum ResultCompression {
    static let formatV1: UInt8 = 0x01
    static let headerBytes = 5
    /// Rows shorter than this stay plain (nothing to gain; an empty row stays empty).
    static let minimumBytes = 64
    /// Largest decompressed row accepted (a corrupt header must not allocate at will).
    static let maxRowBytes = 1 << 30

    /// Event skeletons, least frequent first: zstd reaches recent dictionary bytes with the
    /// shortest offsets, so the `context.write` lines come last.
    static let dictionaryV1: [UInt8] = Array(
        ("""
        dlq\tagentcore.commands/0/0/0\t\t{"headers":[{"key":"traceparent","value_base64":null}],"id":"agentcore.commands/0/0/0","key_base64":"","message":"","reason":"invalid_json","schema":"agentcore.dead-letter/v1","source":{"offset":0,"partition":0,"timestamp":"2026-01-01T00:00:00.000Z","topic":"agentcore.commands"},"value_base64":"eyJzY2hlbWEiOiJhZ2VudGNvcmUuY29tbWFuZC92MSIsImlkIjoi","value_size":0,"value_truncated":false}
        status\tagentcore.commands/0/0/0\t\t{"command_id":"","id":"agentcore.commands/0/0/0","occurred_at":"2026-01-01T00:00:00.000Z","payload":{"agent_type":"llm","capabilities":[],"config_schema":{"additionalProperties":false,"properties":{},"required":[],"type":"object"},"description":null,"enabled":true,"metadata":{},"name":"","revision":1,"slug":""},"schema":"agentcore.event/v1","type":"definition.registered","workspace_id":""}
        status\tagentcore.commands/0/0/0\t\t{"command_id":"","id":"agentcore.commands/0/0/0","occurred_at":"2026-01-01T00:00:00.000Z","payload":{"agent_type":"","capabilities":[],"config_schema":{},"description":null,"enabled":false,"metadata":{},"name":"","revision":2,"slug":""},"schema":"agentcore.event/v1","type":"definition.updated","workspace_id":""}
        status\tagentcore.commands/0/0/0\t\t{"command_id":"","id":"agentcore.commands/0/0/0","occurred_at":"2026-01-01T00:00:00.000Z","payload":{"code":"invalid_payload","command_type":"","field":"payload.","message":""},"schema":"agentcore.event/v1","type":"command.rejected","workspace_id":""}
        status\tagentcore.commands/0/0/0\t\t{"command_id":"","id":"agentcore.commands/0/0/0","occurred_at":"2026-01-01T00:00:00.000Z","payload":{"contexts_removed":0,"instance_id":""},"project_id":"","schema":"agentcore.event/v1","type":"instance.removed","workspace_id":""}
        status\tagentcore.commands/0/0/0\t\t{"command_id":"","id":"agentcore.commands/0/0/0","occurred_at":"2026-01-01T00:00:00.000Z","payload":{"config":{},"definition":"","instance_id":"","name":"","state":null,"status":"idle"},"project_id":"","schema":"agentcore.event/v1","type":"instance.spawned","workspace_id":""}
        status\tagentcore.commands/0/0/0\t\t{"command_id":"","id":"agentcore.commands/0/0/0","occurred_at":"2026-01-01T00:00:00.000Z","payload":{"config":{},"instance_id":""},"project_id":"","schema":"agentcore.event/v1","type":"instance.configured","workspace_id":""}
        status\tagentcore.commands/0/0/0\t\t{"command_id":"","id":"agentcore.commands/0/0/0","occurred_at":"2026-01-01T00:00:00.000Z","payload":{"error":null,"from":"idle","instance_id":"","reason":null,"to":"active"},"project_id":"","schema":"agentcore.event/v1","type":"instance.status_changed","workspace_id":""}
        heartbeats\tagentcore.commands/0/0/0\t\t{"command_id":"","id":"agentcore.commands/0/0/0","occurred_at":"2026-01-01T00:00:00.000Z","payload":{"at":"2026-01-01T00:00:00.000Z","instance_id":"","state":null,"status":"active"},"project_id":"","schema":"agentcore.event/v1","type":"instance.heartbeat","workspace_id":""}
        status\tagentcore.context-writes/0/0/0\t\t{"command_id":"","id":"agentcore.context-writes/0/0/0","occurred_at":"2026-01-01T00:00:00.000Z","payload":{"context_id":"ctx_","instance_id":"","name":"","new_version":null,"rollback_state":"failed","target_version":1},"project_id":"","schema":"agentcore.event/v1","type":"context.rolled_back","workspace_id":""}
        status\tagentcore.context-writes/0/0/0\t\t{"command_id":"","id":"agentcore.context-writes/0/0/0","occurred_at":"2026-01-01T00:00:00.000Z","payload":{"context_id":"ctx_","instance_id":"","name":""},"project_id":"","schema":"agentcore.event/v1","type":"context.created","workspace_id":""}
        status\tagentcore.context-writes/0/0/0\t\t{"command_id":"","id":"agentcore.context-writes/0/0/0","occurred_at":"2026-01-01T00:00:00.000Z","payload":{"byte_size":0,"context_id":"ctx_","created_by":"","description":null,"instance_id":"","mode":"replace","name":"","parent_version":null,"version":1},"project_id":"","schema":"agentcore.event/v1","type":"context.version_created","workspace_id":""}
        status\tagentcore.context-writes/0/0/1\t\t{"command_id":"","id":"agentcore.context-writes/0/0/1","occurred_at":"2026-01-01T00:00:00.000Z","payload":{"context_id":"ctx_","instance_id":"","name":"","pruned_from":1,"pruned_to":1,"retained_from":2},"project_id":"","schema":"agentcore.event/v1","type":"context.versions_pruned","workspace_id":""}

        """).utf8
    )

    /// A compression stream with `dictionaryV1` loaded, copied into each row's stream
    /// (LZ4's documented way to reuse a loaded dictionary); read-only once built.
    static let loadedDictionary = LoadedDictionary()

    final class LoadedDictionary: @unchecked Sendable {
        let stream: UnsafeMutablePointer<LZ4_stream_t>
        /// `dictionaryV1` at a fixed address for the life of the process: the stream points
        /// into it, and decompression reads it.
        let bytes: UnsafeMutableBufferPointer<CChar>

        init() {
            let dict = ResultCompression.dictionaryV1
            bytes = .allocate(capacity: dict.count)
            for (i, b) in dict.enumerated() { bytes[i] = CChar(bitPattern: b) }
            stream = .allocate(capacity: 1)
            guard LZ4_initStream(stream, MemoryLayout<LZ4_stream_t>.size) != nil else {
                fatalError("LZ4: cannot initialise a stream")
            }
            _ = LZ4_loadDict(stream, bytes.baseAddress, Int32(bytes.count))
        }
    }
}

/// Compresses results rows. One user at a time (it owns one LZ4 stream): the store, or
/// the batch's `ResultRenderer` while it runs.
final class ResultCompressor: @unchecked Sendable {
    private let stream: UnsafeMutablePointer<LZ4_stream_t> = .allocate(capacity: 1)

    deinit { stream.deallocate() }

    /// The stored form of a plain row (see `ResultCompression`), or the row itself when it
    /// is shorter than `ResultCompression.minimumBytes`.
    func compress(_ plain: [UInt8]) -> [UInt8] {
        guard plain.count >= ResultCompression.minimumBytes, plain.count <= Int(LZ4_MAX_INPUT_SIZE) else { return plain }
        let bound = Int(LZ4_compressBound(Int32(plain.count)))
        let header = ResultCompression.headerBytes
        return [UInt8](unsafeUninitializedCapacity: bound + header) { out, written in
            out[0] = ResultCompression.formatV1
            let size = UInt32(plain.count)
            for i in 0..<4 { out[1 + i] = UInt8(truncatingIfNeeded: size >> (8 * UInt32(i))) }
            stream.update(from: ResultCompression.loadedDictionary.stream, count: 1)
            let n = plain.withUnsafeBufferPointer { src in
                src.withMemoryRebound(to: CChar.self) { s in
                    UnsafeMutableRawPointer(out.baseAddress! + header).withMemoryRebound(to: CChar.self, capacity: bound) {
                        LZ4_compress_fast_continue(stream, s.baseAddress, $0, Int32(s.count), Int32(bound), 1)
                    }
                }
            }
            // Cannot fail with a destination of compressBound bytes.
            precondition(n > 0, "LZ4: compressing \(plain.count) bytes failed")
            written = Int(n) + header
        }
    }
}

/// Reads stored results rows back to their plain form.
enum ResultDecompressor {
    /// The plain row: `stored` itself for a plain row, else its block decompressed. A
    /// damaged row is a `corrupt_store` error naming `what`.
    static func plain(_ stored: [UInt8], what: String) throws -> [UInt8] {
        guard stored.first == ResultCompression.formatV1 else { return stored }
        func corrupt(_ why: String) -> StoreError { StoreError("corrupt_store", "\(what): compressed row \(why)") }
        let header = ResultCompression.headerBytes
        guard stored.count > header else { throw corrupt("is cut short") }
        var size = 0
        for i in 0..<4 { size |= Int(stored[1 + i]) << (8 * i) }
        guard size <= ResultCompression.maxRowBytes else { throw corrupt("claims \(size) bytes") }
        var got: Int32 = 0
        let out = [UInt8](unsafeUninitializedCapacity: max(1, size)) { buf, written in
            let dict = ResultCompression.loadedDictionary.bytes
            got = stored.withUnsafeBytes { raw in
                LZ4_decompress_safe_usingDict(
                    (raw.baseAddress! + header).assumingMemoryBound(to: CChar.self),
                    UnsafeMutableRawPointer(buf.baseAddress!).assumingMemoryBound(to: CChar.self),
                    Int32(raw.count - header),
                    Int32(size),
                    dict.baseAddress,
                    Int32(dict.count)
                )
            }
            written = max(0, Int(got))
        }
        guard got >= 0, Int(got) == size else { throw corrupt("does not decompress to its \(size) bytes") }
        return out
    }
}

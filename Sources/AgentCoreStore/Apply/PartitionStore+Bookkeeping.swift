import AgentCoreModel

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

extension PartitionStore {
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

    /// The outputs recorded for an earlier command with the same workspace and id, if it
    /// is within the retention.
    func processedResult(hkey: Int64, envelope: CommandEnvelope) throws -> [Outgoing]? {
        guard let seq = recentCommands.seq(of: hkey), seq >= nextSeq - Int64(options.idempotencyRetention) else { return nil }
        if seq >= pending.firstSeq {  // applied earlier in this batch: not in the table yet
            let row = pending.rows[Int(seq - pending.firstSeq)]
            guard row.workspace == envelope.workspaceId, row.commandId == envelope.id else { return nil }
            return row.outputs
        }
        let s = try db.statement("SELECT workspace_id, command_id, outputs FROM results WHERE seq=?")
        try s.bind(.int(seq), at: 1)
        defer { s.reset() }
        guard try s.step(), s.text(0) == envelope.workspaceId, s.text(1) == envelope.id else { return nil }
        return try Self.decodeStoredResult(s.bytes(2), row: seq)
    }

    /// A result's plain form (stored compressed, see `ResultCompression`): one line per
    /// output, fields separated by tabs: topic, event id, key in hex (`-` for none), value.
    /// Canonical JSON escapes tabs and newlines and event ids are built from topic names and
    /// numbers, so the separators cannot occur inside a field.
    static func encodeResult(_ outputs: [Outgoing]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(640 * outputs.count)
        for o in outputs {
            let id = o.eventId
            out.append(contentsOf: o.topic.rawValue.utf8)
            out.append(0x09)
            out.append(contentsOf: id.utf8)
            out.append(0x09)
            if let key = o.key {
                for b in key {
                    out.append(hexDigits[Int(b >> 4)])
                    out.append(hexDigits[Int(b & 0xF)])
                }
            } else {
                out.append(UInt8(ascii: "-"))
            }
            out.append(0x09)
            o.writeValue(id: id, to: &out)
            out.append(0x0A)
        }
        return out
    }

    /// A results row as stored: serialised, then compressed (`ResultCompression`).
    static func storedResult(_ outputs: [Outgoing], _ compressor: ResultCompressor) -> [UInt8] {
        compressor.compress(encodeResult(outputs))
    }

    /// The outputs of a stored results row (plain or compressed).
    static func decodeStoredResult(_ stored: [UInt8], row seq: Int64) throws -> [Outgoing] {
        let what = "results row \(seq)"
        return try decodeResult(ResultDecompressor.plain(stored, what: what), command: what)
    }

    /// The outputs of a results row, read in one pass (it runs once per event published):
    /// lines of `topic TAB id TAB key-hex TAB value`; values are canonical JSON, which has
    /// no raw tab or newline.
    static func decodeResult(_ bytes: [UInt8], command: String) throws -> [Outgoing] {
        var out: [Outgoing] = []
        let n = bytes.count
        var i = 0
        func malformed() -> StoreError { StoreError("corrupt_store", "processed_commands row for \(command) is malformed") }
        while i < n {
            if bytes[i] == 0x0A {
                i += 1
                continue
            }
            let end = bytes[i..<n].firstIndex(of: 0x0A) ?? n
            guard let t1 = bytes[i..<end].firstIndex(of: 0x09), let t2 = bytes[(t1 + 1)..<end].firstIndex(of: 0x09),
                let t3 = bytes[(t2 + 1)..<end].firstIndex(of: 0x09),
                let topic = OutputTopic.allCases.first(where: { $0.rawValue.utf8.elementsEqual(bytes[i..<t1]) })
            else { throw malformed() }
            out.append(
                Outgoing(
                    topic: topic,
                    key: try decodeHex(bytes[(t2 + 1)..<t3], command: command),
                    value: Array(bytes[(t3 + 1)..<end]),
                    eventId: String(decoding: bytes[(t1 + 1)..<t2], as: UTF8.self)
                )
            )
            i = end + 1
        }
        return out
    }

    /// Queues the record's results row (its outbox entry and, for a command, its memory);
    /// `writePendingResults` inserts the batch's rows.
    func writeResult(_ ctx: RecordContext) throws {
        let seq = nextSeq
        let remember = ctx.hkey != nil && !ctx.repeated
        pending.rows.append(
            PendingResult(
                hkey: remember ? ctx.hkey! : 0,
                workspace: remember ? ctx.workspace : nil,
                commandId: remember ? ctx.envelope!.id : nil,
                outputs: ctx.outputs
            )
        )
        pending.renderer?.submit(ctx.outputs)
        nextSeq += 1
        if remember { try recentCommands.remember(hkey: ctx.hkey!, seq: seq) }
        // Every tenth of the retention (counted in records, so replays delete at the same
        // records), delete published rows older than the retention (the index forgets them
        // as its ring moves on).
        let retention = Int64(options.idempotencyRetention)
        if seq % max(1, retention / 10) == 0 {
            let oldest = seq - retention
            try db.run("DELETE FROM results WHERE seq < ? AND seq <= ?", [.int(oldest), .int(publishedThrough)])
        }
    }

    /// Inserts the results rows queued by `writeResult` in this batch, in order.
    func writePendingResults() throws {
        let blobs = pending.renderer?.finish() ?? pending.rows.map { Self.storedResult($0.outputs, compressor) }
        let s = try db.statement("INSERT INTO results(seq, hkey, workspace_id, command_id, outputs) VALUES(?,?,?,?,?)")
        for (i, row) in pending.rows.enumerated() {
            defer { s.reset() }
            try s.bind(.int(pending.firstSeq + Int64(i)), at: 1)
            try s.bind(.int(row.hkey), at: 2)
            try s.bind(row.workspace.map(SQLValue.text) ?? .null, at: 3)
            try s.bind(row.commandId.map(SQLValue.text) ?? .null, at: 4)
            try s.bind(.blob(blobs[i]), at: 5)
            _ = try s.step()
        }
        pending = PendingResults(firstSeq: nextSeq)
    }

    /// Instances whose last sign of life is older than the timeout in stream time go
    /// offline, in a fixed order, with events that carry the triggering record's ids.
    func sweepLiveness(now: Int64, ctx: inout RecordContext) throws {
        let cutoff = now.subtractingReportingOverflow(options.instanceTimeoutMillis).overflow ? Int64.min : now - options.instanceTimeoutMillis
        let rows = try db.rows(
            "SELECT workspace_id, project_id, id, status FROM agent_instances WHERE status != 'offline' AND liveness_ms < ? ORDER BY liveness_ms, workspace_id, project_id, id LIMIT 1000",
            [.int(cutoff)]
        )
        for row in rows {
            let (ws, project, id) = (row[0].text!, row[1].text!, row[2].text!)
            let from = InstanceStatus(rawValue: row[3].text ?? "") ?? .error
            try db.run(
                "UPDATE agent_instances SET status='offline', updated_ms=? WHERE workspace_id=? AND project_id=? AND id=?",
                [.int(now), .text(ws), .text(project), .text(id)]
            )
            ctx.emit(
                .instanceStatusChanged,
                pairs: statusPayload(id, from: from, to: .offline, reason: "liveness_timeout", error: nil),
                workspace: ws,
                project: project,
                commandId: nil
            )
        }
    }
}

/// A results row not yet inserted (see `writeResult`).
struct PendingResult {
    var hkey: Int64
    var workspace: String?
    var commandId: String?
    var outputs: [Outgoing]
}

/// The results rows of the batch being applied, from `firstSeq` on.
struct PendingResults {
    var firstSeq: Int64
    var rows: [PendingResult] = []
    var renderer: ResultRenderer?

    init(firstSeq: Int64, renderer: ResultRenderer? = nil) {
        self.firstSeq = firstSeq
        self.renderer = renderer
    }
}

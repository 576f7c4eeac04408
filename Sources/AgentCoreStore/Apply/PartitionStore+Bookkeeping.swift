import AgentCoreModel

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

extension PartitionStore {
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
        var slots: [OutboxRow.Slot] = []
        return encodeResult(outputs, slots: &slots)
    }

    /// `encodeResult`, noting where each output's fields lie (`OutboxRow`).
    static func encodeResult(_ outputs: [Outgoing], slots: inout [OutboxRow.Slot]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(640 * outputs.count)
        slots.reserveCapacity(outputs.count)
        for o in outputs {
            let id = o.eventId
            out.append(contentsOf: o.topic.rawValue.utf8)
            out.append(0x09)
            let idStart = out.count
            out.append(contentsOf: id.utf8)
            let idRange = idStart..<out.count
            out.append(0x09)
            var keyHex: Range<Int>?
            if let key = o.key {
                let keyStart = out.count
                for b in key {
                    out.append(hexDigits[Int(b >> 4)])
                    out.append(hexDigits[Int(b & 0xF)])
                }
                keyHex = keyStart..<out.count
            } else {
                out.append(UInt8(ascii: "-"))
            }
            out.append(0x09)
            let valueStart = out.count
            o.writeValue(id: id, to: &out)
            slots.append(OutboxRow.Slot(topic: o.topic, id: idRange, keyHex: keyHex, value: valueStart..<out.count))
            out.append(0x0A)
        }
        return out
    }

    /// A results row as stored (serialised, then compressed: `ResultCompression`), and its
    /// records ready to publish (`seq` 0 until the store numbers it).
    static func storedResult(_ outputs: [Outgoing], _ compressor: ResultCompressor) -> (stored: [UInt8], row: OutboxRow) {
        var slots: [OutboxRow.Slot] = []
        let plain = encodeResult(outputs, slots: &slots)
        return (compressor.compress(plain), OutboxRow(seq: 0, plain: plain, slots: slots))
    }

    /// The records of a stored results row (plain or compressed).
    static func storedRow(_ stored: [UInt8], seq: Int64) throws -> OutboxRow {
        try OutboxRow(seq: seq, plain: ResultDecompressor.plain(stored, what: "results row \(seq)"))
    }

    /// The outputs of a stored results row (plain or compressed).
    static func decodeStoredResult(_ stored: [UInt8], row seq: Int64) throws -> [Outgoing] {
        try storedRow(stored, seq: seq).outputs
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
        stagedOutbox.removeAll(keepingCapacity: true)
        stagedOutbox.reserveCapacity(blobs.count)
        for (i, row) in pending.rows.enumerated() {
            defer { s.reset() }
            let seq = pending.firstSeq + Int64(i)
            try s.bind(.int(seq), at: 1)
            try s.bind(.int(row.hkey), at: 2)
            try s.bind(row.workspace.map(SQLValue.text) ?? .null, at: 3)
            try s.bind(row.commandId.map(SQLValue.text) ?? .null, at: 4)
            try s.bind(.blob(blobs[i].stored), at: 5)
            _ = try s.step()
            var ready = blobs[i].row
            ready.seq = seq
            stagedOutbox.append(ready)
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

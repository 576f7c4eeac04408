/// A `context.write`'s data as decoding found it: never a placeholder.
public enum ContextData: Sendable, Equatable {
    /// Canonical JSON bytes (a `replace` stores them as they are).
    case canonical([UInt8])
    /// A parse tree (a `merge_patch` applies it).
    case tree(JSONValue)

    /// The data as a tree.
    public var value: JSONValue {
        switch self {
        case .tree(let v): return v
        case .canonical(let bytes):
            // Decoding makes `.canonical` only from bytes it recognised as canonical JSON.
            guard let v = try? JSONParser.parse(bytes) else { preconditionFailure("ContextData.canonical holds bytes that are not JSON") }
            return v
        }
    }

    /// The data as canonical JSON bytes.
    public var canonicalBytes: [UInt8] {
        switch self {
        case .canonical(let bytes): return bytes
        case .tree(let v): return v.canonicalBytes
        }
    }
}

/// A record decoded: a command (its typed payload, or the rejection of it) or the reason it
/// is a dead letter.
public enum DecodedRecord: Sendable, Equatable {
    case deadLetter(DeadLetterError)
    /// `replica`: a copy of a definition command on another partition than its key's
    /// (header `agentcore-replica`): applied silently there.
    case command(CommandEnvelope, Result<Command, CommandRejection>, replica: Bool)
}

extension CommandDecoder {
    public static let replicaHeader = "agentcore-replica"

    /// One input record to a command or a dead letter, every rule in one place: a value is
    /// there, the envelope (dead letter when wrong) and the typed payload (rejection when
    /// wrong), the record key is the workspace, the partition is murmur2(key) mod
    /// `partitionCount` (unless the record is a definition command's replica). Pure: the
    /// same record gives the same result.
    ///
    /// Two strategies, one result: the common `context.write` is read in one pass
    /// (`decodeCommonContextWrite`), everything else (and every error) through
    /// `decodeEnvelope` and `decodeCommand` (`FastPathTests` compares the two). A `replace`
    /// write's data comes back as `.canonical` bytes, a `merge_patch`'s as a `.tree`.
    public func decode(_ record: InputRecord, partitionCount: Int32?, fastPath: Bool = true) -> DecodedRecord {
        guard let value = record.value else { return .deadLetter(DeadLetterError(.nullValue, "record has no value (tombstone)")) }
        var envelope: CommandEnvelope
        var command: Result<Command, CommandRejection>
        if fastPath, let fast = decodeCommonContextWrite(value) {
            envelope = fast.envelope
            command = .success(fast.command)
        } else {
            let rawData: [UInt8]?
            do { (envelope, rawData) = try decodeEnvelope(value, capturingData: true) } catch { return .deadLetter(error) }
            do { command = .success(try decodeCommand(envelope)) } catch { command = .failure(error) }
            if case .success(.contextWrite(let id, let name, let data, let description, let mode, let expected)) = command {
                // `capturingData` left the data out of the tree when it was canonical already:
                // its bytes are `rawData`.
                let settled: ContextData
                if mode == .replace {
                    settled = .canonical(rawData ?? data.canonicalBytes)
                } else if let rawData {
                    guard let tree = try? JSONParser.parse(rawData) else {
                        return .deadLetter(DeadLetterError(.invalidJSON, "payload.data could not be read again"))  // cannot happen
                    }
                    settled = .tree(tree)
                } else {
                    settled = data
                }
                command = .success(
                    .contextWrite(
                        instanceId: id,
                        name: name,
                        data: settled,
                        description: description,
                        mode: mode,
                        expectedVersion: expected
                    )
                )
            }
            envelope.payload = .null  // read only through the typed command from here on
        }
        guard let key = record.key, key.elementsEqual(envelope.workspaceId.utf8) else {
            return .deadLetter(DeadLetterError(.keyMismatch, "record key must equal workspace_id '\(envelope.workspaceId)'"))
        }
        let replica =
            record.header(Self.replicaHeader) != nil && CommandType(rawValue: envelope.type)?.isDefinitionCommand == true
        if let count = partitionCount, !replica {
            let home = Murmur2.partition(forKey: key, partitionCount: count)
            if home != record.partition {
                return .deadLetter(
                    DeadLetterError(
                        .wrongPartition,
                        "key '\(envelope.workspaceId)' belongs to partition \(home), not \(record.partition)"
                    )
                )
            }
        }
        return .command(envelope, command, replica: replica)
    }
}

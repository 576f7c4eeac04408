import AgentCoreModel

/// What a changelog record is, besides row images (the format is in `docs/changelog.md`):
///
/// - **Row**: key `r…` (`ChangelogCodec`), value the row image or none (tombstone); header
///   `agentcore-epoch` names the writer's epoch.
/// - **Marker**: key `m/<epoch>`, value `{"epoch":…,"writer":…,"position":{…}}`. Ends a
///   unit: the rows since the writer's previous marker, read from its store at one moment,
///   and the store's position at that moment. One key per epoch, so compaction keeps each
///   epoch's last marker.
/// - **Claim**: key `c/<epoch>/<writer>`, value `{"epoch":…,"writer":…,"restored_through":…,
///   "marker":{"offset":…,"epoch":…,"writer":…,"position":{…}}}`. A new owner's first record:
///   from here on rows of older epochs are a zombie's and do not count. It repeats the
///   marker the owner restored to, because a zombie's marker written after the claim has the
///   same key as that marker and compaction would keep only the zombie's. Claims are never
///   compacted away (their keys are unique).
public enum ChangelogEntry: Equatable, Sendable {
    case row(key: [UInt8], value: [UInt8]?, epoch: Int64)
    case marker(epoch: Int64, writer: String, position: ChangelogPosition)
    case claim(epoch: Int64, writer: String, restoredThrough: Int64, marker: ChangelogTimeline.Marker?)

    public static let epochHeader = "agentcore-epoch"

    /// Classifies a record by its key and value (`epochHeader` is the row's header, if any).
    public static func decode(key: [UInt8]?, value: [UInt8]?, epochHeader: [UInt8]?) throws -> ChangelogEntry {
        guard let key, let first = key.first else { throw StoreError("corrupt_changelog", "changelog record without a key") }
        if first == ChangelogCodec.rowKind {
            guard let h = epochHeader, let epoch = Int64(String(decoding: h, as: UTF8.self)) else {
                throw StoreError("corrupt_changelog", "changelog row without an \(Self.epochHeader) header")
            }
            return .row(key: key, value: value, epoch: epoch)
        }
        guard let value, let json = try? JSONParser.parse(value), let epoch = json["epoch"]?.intValue,
            let writer = json["writer"]?.stringValue
        else { throw StoreError("corrupt_changelog", "changelog record \(String(decoding: key, as: UTF8.self)) is malformed") }
        switch first {
        case UInt8(ascii: "m"):
            return .marker(epoch: epoch, writer: writer, position: try ChangelogPosition(json: json["position"] ?? .null))
        case UInt8(ascii: "c"):
            var marker: ChangelogTimeline.Marker?
            if let m = json["marker"], case .object = m {
                guard let offset = m["offset"]?.intValue, let e = m["epoch"]?.intValue, let w = m["writer"]?.stringValue else {
                    throw StoreError("corrupt_changelog", "changelog claim has a malformed marker")
                }
                marker = .init(offset: offset, epoch: e, writer: w, position: try ChangelogPosition(json: m["position"] ?? .null))
            }
            return .claim(
                epoch: epoch,
                writer: writer,
                restoredThrough: json["restored_through"]?.intValue ?? -1,
                marker: marker
            )
        default:
            throw StoreError("corrupt_changelog", "changelog record has an unknown key kind")
        }
    }

    /// The record's key, value and headers as produced.
    public var encoded: (key: [UInt8], value: [UInt8]?, epochHeader: [UInt8]?) {
        switch self {
        case .row(let key, let value, let epoch):
            return (key, value, Array(String(epoch).utf8))
        case .marker(let epoch, let writer, let position):
            let v: JSONValue = .object(["epoch": .int(epoch), "writer": .string(writer), "position": position.json])
            return (Array("m/\(epoch)".utf8), v.canonicalBytes, nil)
        case .claim(let epoch, let writer, let through, let marker):
            let m: JSONValue =
                marker.map {
                    .object([
                        "offset": .int($0.offset), "epoch": .int($0.epoch), "writer": .string($0.writer),
                        "position": $0.position.json,
                    ])
                } ?? .null
            let v: JSONValue = .object([
                "epoch": .int(epoch), "writer": .string(writer), "restored_through": .int(through), "marker": m,
            ])
            return (Array("c/\(epoch)/\(writer)".utf8), v.canonicalBytes, nil)
        }
    }
}

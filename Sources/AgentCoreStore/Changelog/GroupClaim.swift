/// A partition's latest claim as its owner records it in the consumer group: the metadata
/// of the group's committed offsets for the partition of each input topic
/// (`agentcore-claim/1 <epoch> <offset> <writer>`; the newest of them counts, since a
/// partition may have applied records of one topic only).
///
/// The changelog is read from a store's mark onwards, so a claim *before* the mark is
/// invisible to a restore of that store. That matters in one case: a zombie whose last
/// marker landed after a newer owner's claim (it was in flight while the zombie was
/// stopped or cut off) and that is killed before librdkafka reports its lost session, so
/// its store carries no `changelog_lost` note. The group's coordinator refuses offset
/// commits from a member of an older generation, so the zombie cannot overwrite this
/// record, and a restore that finds a claim of a newer epoch than its mark, at an offset
/// before the mark, knows the mark was a zombie's.
public struct GroupClaim: Sendable, Equatable, CustomStringConvertible {
    public var epoch: Int64
    /// The claim record's offset in the changelog partition.
    public var offset: Int64
    public var writer: String

    public init(epoch: Int64, offset: Int64, writer: String) {
        self.epoch = epoch
        self.offset = offset
        self.writer = writer
    }

    static let prefix = "agentcore-claim/1 "

    /// The commit metadata.
    public var metadata: String { "\(Self.prefix)\(epoch) \(offset) \(writer)" }

    /// Reads commit metadata; nil for metadata that is not a claim (none, or another
    /// format: a group shared with other tools).
    public init?(metadata: String?) {
        guard let metadata, metadata.hasPrefix(Self.prefix) else { return nil }
        let fields = metadata.dropFirst(Self.prefix.count).split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3, let e = Int64(fields[0]), let o = Int64(fields[1]), e > 0, o >= 0, !fields[2].isEmpty else { return nil }
        self.init(epoch: e, offset: o, writer: String(fields[2]))
    }

    /// The claim of the highest epoch among commit metadata.
    public static func newest(_ metadata: [String?]) -> GroupClaim? {
        metadata.compactMap { GroupClaim(metadata: $0) }.max { $0.epoch < $1.epoch }
    }

    public var description: String { "epoch \(epoch) at offset \(offset) by \(writer)" }
}

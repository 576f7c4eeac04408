import AgentCoreModel

/// A batch's work beside the applying thread, behind one type: its records decoded ahead
/// (`DecodeAhead`) and then its results rows rendered (`ResultRenderer`), both on one helper
/// thread; a small batch (or `helperThreads` off) does both in line. `close()` ends them in
/// the one safe order, whether the batch committed or failed.
final class BatchPipeline {
    /// Renders the batch's results rows off the applying thread (nil: in line).
    let renderer: ResultRenderer?
    private let decoded: DecodeAhead

    init(
        _ records: [InputRecord],
        decoder: CommandDecoder,
        partitionCount: Int32?,
        helperThreads: Bool,
        helperCompressor: ResultCompressor,
        applyingCompressor: ResultCompressor
    ) {
        let helped = helperThreads && records.count >= DecodeAhead.minimumBatch
        renderer =
            helped
            ? ResultRenderer(capacity: records.count, helperCompressor: helperCompressor, applyingCompressor: applyingCompressor)
            : nil
        decoded = DecodeAhead(records, decoder: decoder, partitionCount: partitionCount, helper: helped, thenRender: renderer)
    }

    /// Record `i` decoded (by the helper, or now).
    func take(_ i: Int) -> Decoded { decoded.take(i) }

    /// Ends the helper: decoding stops, the renderer is cancelled (nothing, once its rows
    /// were taken), and the helper is joined, after which nothing of the batch runs.
    func close() {
        // In this order: the helper thread runs the renderer once it stops decoding.
        decoded.stopDecoding()
        renderer?.cancel()
        decoded.finish()
    }
}

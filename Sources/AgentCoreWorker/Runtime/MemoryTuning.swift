import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Allocator settings for the worker process (docs/operations.md, *Bounded memory*).
public enum MemoryTuning {
    /// glibc serves blocks from this size up with `mmap` of their own, returned to the
    /// system when freed.
    public static let mmapThreshold: Int32 = 256 * 1024

    /// Fixes glibc's `mmap` threshold at `mmapThreshold`, unless `GLIBC_TUNABLES` sets one.
    /// glibc otherwise raises the threshold each time a large block is freed (up to
    /// 32 MiB), after which fetch buffers and a publishing round's arrays come from the heap
    /// and leave it fragmented: the fixed threshold measured 147 → 131 MiB peak in the
    /// pipeline benchmark's throughput run at the same CPU and throughput (6 interleaved
    /// pairs). Returns whether it set the threshold.
    @discardableResult
    public static func fixMmapThreshold(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        #if canImport(Glibc)
        if environment["GLIBC_TUNABLES"]?.contains("mmap_threshold") == true { return false }
        // `mallopt` and `M_MMAP_THRESHOLD` (<malloc.h>) are not in Swift's Glibc module.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let mMmapThreshold: Int32 = -3
        return mallopt(mMmapThreshold, mmapThreshold) == 1
        #else
        return false
        #endif
    }
}

import Foundation
import Logging

/// Store files a worker's data directory keeps after their partition moved away: copies of
/// partitions this worker no longer owns or follows. A restore does not trust a store last
/// in step with the changelog longer ago than `--local-store-max-age-hours` (it rebuilds
/// it), so such a file past that age is only disk space: it is deleted, while the worker
/// holds its data directory alone (no other worker can have it open). Files set aside as
/// damaged (`.damaged-<time>`) are the operator's and are never deleted.
enum StaleStores {
    struct Found: Equatable {
        var partition: Int32
        /// The store file and whichever of its `-wal` and `-shm` files exist.
        var files: [String]
        /// The newest modification time among them.
        var modified: Date
    }

    /// The store files in `dir` of partitions not in `inUse` whose files were all last
    /// modified before `cutoff`, in partition order.
    static func find(in dir: String, inUse: Set<Int32>, modifiedBefore cutoff: Date) -> [Found] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: dir) else { return [] }
        var out: [Found] = []
        for name in names where name.hasPrefix("partition-") && name.hasSuffix(".sqlite") {
            guard let p = Int32(name.dropFirst("partition-".count).dropLast(".sqlite".count)), p >= 0, !inUse.contains(p) else {
                continue
            }
            let path = (dir as NSString).appendingPathComponent(name)
            var files: [String] = []
            var newest = Date.distantPast
            for f in [path, path + "-wal", path + "-shm"] {
                guard let m = (try? fm.attributesOfItem(atPath: f))?[.modificationDate] as? Date else { continue }
                files.append(f)
                newest = max(newest, m)
            }
            if !files.isEmpty, newest < cutoff { out.append(Found(partition: p, files: files, modified: newest)) }
        }
        return out.sorted { $0.partition < $1.partition }
    }

    /// Deletes what `find` returns; logs each store removed (and each that could not be).
    static func remove(in dir: String, inUse: Set<Int32>, maxAgeMillis: Int64, now: Date = Date(), logger: Logger) {
        let cutoff = now.addingTimeInterval(-Double(maxAgeMillis) / 1_000)
        for found in find(in: dir, inUse: inUse, modifiedBefore: cutoff) {
            do {
                // The store file first: without it, leftover -wal/-shm files are never read.
                for f in found.files { try FileManager.default.removeItem(atPath: f) }
                let hours = Int(now.timeIntervalSince(found.modified) / 3_600)
                logger.info(
                    "removed the store copy of partition \(found.partition) (last written \(hours) h ago, past --local-store-max-age-hours; a restore would rebuild it)"
                )
            } catch {
                logger.warning("could not remove the stale store copy of partition \(found.partition): \(error)")
            }
        }
    }
}

import CSQLite
import Foundation

/// A read-only connection to a partition store, for readers beside the applying worker
/// (the HTTP read API, tools): SQLite's WAL lets it read a consistent snapshot while the
/// worker writes, without blocking it. Open one per request or keep one per thread; it
/// must not outlive the store file it was opened on (a store set aside and rebuilt is a
/// new file).
public final class StoreReader: StoreReading {
    let db: SQLiteConnection
    public let readConnection: StoreConnection

    /// Opens `path` read-only; throws `not_a_store` when there is no store there.
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError("not_a_store", "no store at \(path)") }
        db = try SQLiteConnection(path: path, readOnly: true)
        readConnection = StoreConnection(db)
    }

    public func close() { db.close() }
}

/// Transactions and savepoints as scopes (GRDB's `inTransaction` / `inSavepoint` are the
/// model): the body's changes are committed when it returns and rolled back when it throws,
/// and the error is rethrown. No `BEGIN`, `COMMIT` or `ROLLBACK` is written out elsewhere.
extension SQLiteConnection {
    enum TransactionKind: String {
        /// Takes the write lock at once (every writing transaction of a store).
        case immediate = "BEGIN IMMEDIATE"
        /// Takes locks as statements need them (a read that must see one snapshot).
        case deferred = "BEGIN"
    }

    func inTransaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        try execute(kind.rawValue)
        let value: T
        do {
            value = try body()
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
        return value
    }

    /// A savepoint inside the current transaction: on a throw, what `body` changed is undone
    /// and the rest of the transaction stays.
    func inSavepoint<T>(_ name: String, _ body: () throws -> T) throws -> T {
        try run("SAVEPOINT \(name)")
        let value: T
        do {
            value = try body()
        } catch {
            // After some errors (a full disk, an I/O error) SQLite has rolled back the whole
            // transaction already and the savepoint is gone: the body's error is what counts.
            try? run("ROLLBACK TO \(name)")
            try? run("RELEASE \(name)")
            throw error
        }
        try run("RELEASE \(name)")
        return value
    }
}

/// A failed SQLite call: SQLite's result code, its message and the statement involved.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public var sql: String?

    public var description: String {
        "sqlite error \(code): \(message)" + (sql.map { " [\($0.prefix(120))]" } ?? "")
    }
}

/// A store-level failure that is not SQLite's: corrupt rows, a store opened for another
/// partition, a schema from a newer agentcore.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var description: String { "\(code): \(message)" }

    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }
}

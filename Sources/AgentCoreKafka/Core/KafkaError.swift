import CRdKafka

/// A librdkafka failure: its error code and name, a message, and how to react.
public struct KafkaError: Error, Sendable, CustomStringConvertible, Equatable {
    /// librdkafka's `rd_kafka_resp_err_t` value (negative: client-side, positive: broker).
    public var code: Int32
    /// librdkafka's name for the code, e.g. `_TIMED_OUT`, `UNKNOWN_TOPIC_OR_PART`.
    public var name: String
    public var message: String
    /// The client instance can no longer be used and must be re-created.
    public var isFatal: Bool
    /// The operation may succeed if tried again.
    public var isRetriable: Bool
    /// The current transaction must be aborted (and may then be retried).
    public var isTransactionAbortable: Bool

    public init(
        code: Int32,
        message: String,
        isFatal: Bool = false,
        isRetriable: Bool = false,
        isTransactionAbortable: Bool = false
    ) {
        self.code = code
        self.name = String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(code)))
        self.message = message
        self.isFatal = isFatal
        self.isRetriable = isRetriable
        self.isTransactionAbortable = isTransactionAbortable
    }

    init(_ err: rd_kafka_resp_err_t, _ context: String? = nil) {
        let text = String(cString: rd_kafka_err2str(err))
        self.init(code: err.rawValue, message: context.map { "\($0): \(text)" } ?? text)
    }

    /// Takes ownership of an `rd_kafka_error_t` and destroys it.
    init(consuming error: OpaquePointer, context: String? = nil) {
        let text = String(cString: rd_kafka_error_string(error))
        self.init(
            code: rd_kafka_error_code(error).rawValue,
            message: context.map { "\($0): \(text)" } ?? text,
            isFatal: rd_kafka_error_is_fatal(error) != 0,
            isRetriable: rd_kafka_error_is_retriable(error) != 0,
            isTransactionAbortable: rd_kafka_error_txn_requires_abort(error) != 0
        )
        rd_kafka_error_destroy(error)
    }

    /// A configuration or usage error detected before librdkafka was involved.
    public static func invalidArgument(_ message: String) -> KafkaError {
        KafkaError(code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue, message: message)
    }

    public static let timedOut = RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue
    public static let partitionEOF = RD_KAFKA_RESP_ERR__PARTITION_EOF.rawValue

    public var description: String { "kafka error \(name) (\(code)): \(message)" }

    static func check(_ err: rd_kafka_resp_err_t, _ context: String) throws(KafkaError) {
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context) }
    }
}

/// The NUL-terminated text librdkafka wrote into an error buffer.
func cString(_ buf: [CChar]) -> String {
    String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

import Logging

extension Logger {
    /// The logger a client uses when its caller gives none: warnings and errors only, so
    /// that an application (or a test run) is not filled with the clients' routine info
    /// lines (joins, assignments). Pass a logger of your own to see those.
    public static func library(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .warning
        return logger
    }
}

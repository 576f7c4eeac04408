import AgentCoreKafka
import AgentCoreWorker
import ArgumentParser
import Foundation
import Logging

/// Where Kafka is and how to talk to it; shared by the client-side commands.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "Bootstrap servers (host:port,...). Default: $AGENTCORE_BROKERS, else 127.0.0.1:9092 (agentcore broker).")
    var brokers: String?

    @Option(name: .long, help: "Topic name prefix. Default: $AGENTCORE_TOPIC_PREFIX or agentcore.")
    var topicPrefix: String?

    @Option(name: .customShort("X"), help: ArgumentHelp("librdkafka property key=value (repeatable).", valueName: "key=value"))
    var kafkaProperties: [String] = []

    var bootstrap: String {
        brokers ?? ProcessInfo.processInfo.environment[EnvironmentKeys.brokers] ?? "127.0.0.1:\(BrokerCommand.defaultPort)"
    }

    var topics: TopicNames {
        TopicNames(prefix: topicPrefix ?? ProcessInfo.processInfo.environment[EnvironmentKeys.topicPrefix] ?? "agentcore")
    }

    func kafkaConfig() throws -> KafkaConfig {
        var c = KafkaConfig(bootstrapServers: bootstrap)
        c.properties = try parseProperties(kafkaProperties)
        // Fail fast when nothing answers instead of retrying silently for minutes.
        if c.properties["message.timeout.ms"] == nil { c.properties["message.timeout.ms"] = "30000" }
        return c
    }
}

func parseProperties(_ items: [String]) throws -> [String: String] {
    var out: [String: String] = [:]
    for item in items {
        guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
            throw ValidationError("-X takes key=value, got '\(item)'")
        }
        out[String(item[..<eq])] = String(item[item.index(after: eq)...])
    }
    return out
}

/// Log level and format for every command.
struct LoggingOptions: ParsableArguments {
    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical. Default: $AGENTCORE_LOG_LEVEL or info.")
    var logLevel: String?

    func bootstrap(default level: Logger.Level = .info) -> Logger {
        let text = logLevel ?? ProcessInfo.processInfo.environment[EnvironmentKeys.logLevel]
        let resolved = text.flatMap(Logger.Level.init(rawValue:)) ?? level
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = resolved
            return h
        }
        var logger = Logger(label: "agentcore")
        logger.logLevel = resolved
        return logger
    }
}

/// Runs a client command, turning "cannot reach Kafka" into one actionable line.
func withKafkaHint<T>(_ connection: ConnectionOptions, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let e as KafkaError
        where [-195, -187, -185].contains(e.code)  // _TRANSPORT, _ALL_BROKERS_DOWN, _TIMED_OUT
    {
        throw CLIError(
            "cannot reach Kafka at \(connection.bootstrap) (\(e.name)): is `agentcore broker` or your cluster running? "
                + "Set --brokers or AGENTCORE_BROKERS."
        )
    }
}

/// A one-line, actionable failure for the user (no stack of librdkafka noise).
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

/// Blocks on a background thread until SIGINT or SIGTERM arrives.
enum Signals {
    /// SIGHUP too: a terminal closing or a supervisor's hang-up stops gracefully, like SIGTERM.
    static func wait(_ signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]) async -> Int32 {
        await withCheckedContinuation { (c: CheckedContinuation<Int32, Never>) in
            let queue = DispatchQueue(label: "agentcore.signals")
            var sources: [DispatchSourceSignal] = []
            let once = OnceFlag()
            for s in signals {
                signal(s, SIG_IGN)
                let src = DispatchSource.makeSignalSource(signal: s, queue: queue)
                src.setEventHandler {
                    if once.fire() {
                        for x in sources { x.cancel() }
                        c.resume(returning: s)
                    }
                }
                src.resume()
                sources.append(src)
            }
        }
    }
}

/// A flag that fires once, from any thread.
final class OnceFlag: Sendable {
    private let fired = Locked(false)
    var isFired: Bool { fired.get }

    /// True for the first caller only.
    func fire() -> Bool {
        fired.withLock { f in
            defer { f = true }
            return !f
        }
    }
}

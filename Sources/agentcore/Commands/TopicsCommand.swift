import AgentCoreKafka
import AgentCoreWorker
import ArgumentParser
import Foundation

struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics",
        abstract: "Create or describe agentcore's topics.",
        subcommands: [Create.self, Describe.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the input and output topics (existing ones are kept as they are)."
        )
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Partitions. Default: $AGENTCORE_PARTITIONS or 12. Fixed once data exists.") var partitions: Int?
        @Option(help: "Replication factor. Default: $AGENTCORE_REPLICATION_FACTOR or 1 (use 3 in production).")
        var replicationFactor: Int?
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            try await withKafkaHint(connection) { try create() }
        }

        func create() throws {
            let logger = logging.bootstrap(default: .warning)
            let env = ProcessInfo.processInfo.environment
            let p = partitions ?? env[EnvironmentKeys.partitions].flatMap(Int.init) ?? 12
            let rf = replicationFactor ?? env[EnvironmentKeys.replicationFactor].flatMap(Int.init) ?? 1
            let created = try TopicSetup.create(
                brokers: connection.kafkaConfig(),
                topics: connection.topics,
                partitions: p,
                replicationFactor: rf,
                logger: logger
            )
            for spec in TopicSetup.specs(connection.topics, partitions: p, replicationFactor: rf) {
                let note = created.contains(spec.name) ? "created" : "exists"
                print("\(spec.name)\t\(note)\tpartitions=\(spec.partitions)\treplication=\(spec.replicationFactor)")
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show partition counts and whether inputs are co-partitioned.")
        @OptionGroup var connection: ConnectionOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await withKafkaHint(connection) { try describe() }
        }

        func describe() throws {
            let admin = try KafkaAdmin(config: connection.kafkaConfig())
            let t = connection.topics
            var counts: [(String, Int?)] = []
            for name in t.inputs + t.outputs { counts.append((name, try admin.partitionCount(topic: name))) }
            if json {
                let items = counts.map { "\"\($0.0)\":\($0.1.map(String.init) ?? "null")" }
                print("{" + items.joined(separator: ",") + "}")
            } else {
                for (name, n) in counts { print("\(name)\t\(n.map { "partitions=\($0)" } ?? "missing")") }
            }
            let inputs = counts.prefix(2).map(\.1)
            if inputs[0] != inputs[1] {
                throw CLIError("\(t.commands) and \(t.contextWrites) must have the same partition count")
            }
        }
    }
}

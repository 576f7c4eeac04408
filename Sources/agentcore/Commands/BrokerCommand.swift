import AgentCoreKafka
import AgentCoreWorker
import ArgumentParser
import Foundation

struct BrokerCommand: AsyncParsableCommand {
    static let defaultPort = 9092

    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run the embedded Kafka cluster (librdkafka's mock) on fixed loopback ports.",
        discussion: """
            For development: separate `agentcore worker --mock-broker` processes, `agentcore send`, \
            kcat and other Kafka clients connect to 127.0.0.1:<port>. Data lives in memory and \
            is gone on exit; the mock keeps about 5 MiB per partition. Not for production.
            """
    )

    @Option(help: "First listening port; brokers use port, port+1, ...") var port = BrokerCommand.defaultPort
    @Option(help: "Number of brokers.") var brokers = 1
    @Option(help: "Partitions of the topics created at start.") var partitions = 12
    @Option(help: "Topic name prefix.") var topicPrefix = "agentcore"
    @Option(help: "Also write the bootstrap string to this file.") var bootstrapFile: String?
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap(default: .warning)
        let cluster: EmbeddedCluster
        do {
            cluster = try EmbeddedCluster(brokers: brokers, firstPort: port, logger: logger)
        } catch {
            throw CLIError("\(error.message); pick another with --port")
        }
        let topics = TopicNames(prefix: topicPrefix)
        try TopicSetup.create(on: cluster, topics: topics, partitions: partitions)
        if let f = bootstrapFile { try cluster.bootstrapServers.write(toFile: f, atomically: true, encoding: .utf8) }
        print("agentcore broker: \(brokers) broker(s) at \(cluster.bootstrapServers)")
        print("topics: \((topics.inputs + topics.outputs).joined(separator: ", ")) (\(partitions) partitions)")
        print("next:   agentcore worker --brokers \(cluster.bootstrapServers) --mock-broker")
        print("stop with Ctrl-C")
        fflush(nil)
        _ = await Signals.wait()
        withExtendedLifetime(cluster) {}
    }
}

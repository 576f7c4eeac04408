import AgentCoreAgents
import AgentCoreModel
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

struct AgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents",
        abstract: "Run agents in an agent host (the built-in examples).",
        subcommands: [AgentsRunCommand.self]
    )
}

struct AgentsRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an agent host with the built-in example agents (scribe, fragile).",
        discussion: """
            Beside a running cluster (agentcore dev, or workers and a broker):
              agentcore agents run
            runs the demo: scribe-1 greets scribe-2, which writes the message into its
            context 'inbox' and replies; fragile-1 fails its initialize on a bad config
            and shows up as 'error' with that message as its last error. Then:
              agentcore send --wait --type agent.message --workspace demo --project agents \\
                --payload '{"from_instance_id":"scribe-1","to_instance_id":"scribe-2","body":{"text":"hi"}}'
            With --config FILE the host runs what the file lists (docs/agents.md).
            SIGTERM or Ctrl-C: every instance is deactivated, shut down and reported
            offline; exit status 0.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Agent host config (JSON, docs/agents.md). Default: the built-in demo.") var config: String?
    @Option(help: "Host id for the built-in demo (instance ids do not depend on it).") var hostId = "demo-host"
    @Option(help: "Workspace of the built-in demo.") var workspace = "demo"
    @Option(help: "A worker's HTTP address, for context reads. Default: $AGENTCORE_READ_URL or http://127.0.0.1:8080.")
    var readURL: String?
    @Option(help: "Seconds a graceful stop may take before the process exits 1.") var shutdownTimeout: Double = 30
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap()
        var hostConfig: AgentHostConfig
        if let config {
            do { hostConfig = try AgentHostConfig.load(path: config) } catch { throw CLIError("\(error)") }
        } else {
            hostConfig = AgentRegistry.exampleConfig(hostId: hostId, workspace: workspace)
        }
        if hostConfig.readURL == nil {
            hostConfig.readURL = readURL ?? ProcessInfo.processInfo.environment["AGENTCORE_READ_URL"] ?? "http://127.0.0.1:8080"
        }
        let host = AgentHost(
            kafka: try connection.kafkaConfig(),
            topicPrefix: connection.topics.prefix,
            config: hostConfig,
            registry: .examples,
            shutdownGrace: .milliseconds(Int64(shutdownTimeout * 1000 * 2 / 3)),
            logger: logger
        )
        let ms = Int(shutdownTimeout * 1000)
        var group = ServiceGroupConfiguration(
            services: [
                .init(service: host, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: ShutdownBound(milliseconds: ms, logger: logger), successTerminationBehavior: .ignore),
            ],
            logger: logger
        )
        group.gracefulShutdownSignals = [.sigterm, .sigint, .sighup]
        group.maximumGracefulShutdownDuration = .milliseconds(ms)
        do {
            try await ServiceGroup(configuration: group).run()
        } catch let e as AgentHostError {
            throw CLIError(e.description)
        } catch {
            throw CLIError("agent host stopped: \(error)")
        }
    }
}

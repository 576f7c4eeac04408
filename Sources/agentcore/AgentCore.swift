import ArgumentParser

@main
struct AgentCore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agentcore",
        abstract: "The control plane and memory of a fleet of AI agents, as a Kafka worker cluster.",
        discussion: """
            Producers enqueue agent commands to Kafka; workers apply them, exactly once \
            and in order per workspace, to one SQLite store per partition, and publish \
            status events.

            Start here: agentcore dev (everything in one process, with a demo load).
            """,
        version: "0.1.0",
        subcommands: [
            DevCommand.self, BrokerCommand.self, WorkerCommand.self, TopicsCommand.self, SendCommand.self,
            TailCommand.self, InspectCommand.self, AgentsCommand.self, BenchCommand.self,
        ]
    )
}

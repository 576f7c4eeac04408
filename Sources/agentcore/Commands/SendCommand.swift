import AgentCoreClient
import AgentCoreModel
import ArgumentParser
import Foundation

struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Enqueue one command, from flags, a JSON file or stdin.",
        discussion: """
            From flags:
              agentcore send --type instance.spawn --workspace acme \\
                --project web --payload '{"definition":"coder","name":"c1"}'
            A whole envelope from a file, or from stdin with --file -.
            --wait prints the result events. Exit status: 0 applied,
            2 rejected, 1 error or timeout.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Command type, e.g. context.write.") var type: String?
    @Option(help: "Workspace id (also the record key).") var workspace: String?
    @Option(help: "Project id (required except for definition.* commands).") var project: String?
    @Option(help: "Who sends it.") var actor = "cli"
    @Option(help: "Command id; default: a new random id. Reuse it to retry idempotently.") var id: String?
    @Option(help: "Payload JSON object.") var payload: String?
    @Option(help: "Correlation id, carried by the result events (e.g. to pair an agent.message with its reply).")
    var correlationId: String?
    @Option(help: "A JSON file holding a whole command envelope ('-' for stdin).") var file: String?
    @Flag(help: "Wait for the result events and print them.") var wait = false
    @Option(help: "Seconds to wait with --wait.") var timeout: Double = 30
    @OptionGroup var logging: LoggingOptions

    func envelope() throws -> CommandEnvelope {
        if let file {
            let data: Data
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let d = FileManager.default.contents(atPath: file) else {
                    throw CLIError(FileManager.default.fileExists(atPath: file) ? "cannot read \(file)" : "no such file: \(file)")
                }
                data = d
            }
            do { return try CommandDecoder().decodeEnvelope(Array(data)) } catch {
                throw CLIError("\(file == "-" ? "stdin" : file): \(error.message) (\(error.reason.rawValue))")
            }
        }
        guard let type, let workspace else { throw ValidationError("give --type and --workspace (or --file)") }
        let body: JSONValue
        do { body = try JSONParser.parse(payload ?? "{}") } catch { throw ValidationError("--payload is not JSON: \(error)") }
        let env = CommandEnvelope(
            id: id ?? Commands.newId(),
            type: type,
            workspaceId: workspace,
            projectId: project,
            actor: actor,
            correlationId: correlationId,
            payload: body
        )
        do { return try CommandDecoder().decodeEnvelope(env.bytes) } catch { throw CLIError(error.message) }
    }

    func run() async throws {
        try await withKafkaHint(connection) { try await send() }
    }

    func send() async throws {
        let logger = logging.bootstrap(default: .error)
        let env = try envelope()
        if let type = CommandType(rawValue: env.type) {
            do { _ = try CommandDecoder().decodeCommand(env) } catch {
                // Rejected here as a worker would reject it: the same exit status as a rejection.
                FileHandle.standardError.write(
                    Data("\(type.rawValue) would be rejected: \(error.code.rawValue) at \(error.field ?? "?"): \(error.message)\n".utf8)
                )
                throw ExitCode(2)
            }
        }
        let client = try AgentCoreClient(config: connection.kafkaConfig(), topicPrefix: connection.topics.prefix, logger: logger)
        if !wait {
            let r = try await client.producer.enqueue(env)
            print(
                #"{"command_id":\#(JSONValue.string(env.id).canonicalString),"topic":"\#(r.topic)","partition":\#(r.partition),"offset":\#(r.offset)}"#
            )
            return
        }
        let events: [Event]
        do { events = try await client.enqueueAndWait(env, timeout: .milliseconds(Int64(timeout * 1000))) } catch let e as AgentCoreClient.Timeout {
            throw CLIError("\(e.description); is a worker running for \(connection.topics.prefix) at \(connection.bootstrap)?")
        }
        for e in events { print(e.json.canonicalString) }
        if events.contains(where: { $0.type == .commandRejected }) { throw ExitCode(2) }
    }
}

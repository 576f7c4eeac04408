import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs agents: registers their definitions, spawns or adopts the instances its config
/// lists, drives their lifecycle hooks, heartbeats them, delivers their messages and
/// follows operators' commands for them, all through the cluster's contract (commands on
/// Kafka, events from the status topic). A swift-service-lifecycle `Service`: on graceful
/// shutdown (SIGTERM in a `ServiceGroup`) every instance is deactivated, shut down and
/// reported `offline`; `stop()` does the same without a group.
///
/// Outages (broker, worker, a restoring partition) never end it: commands are sent again
/// with the same id until answered, with a log line per outage, and it catches up after.
public final class AgentHost: Service, Sendable {
    public let config: AgentHostConfig
    let registry: AgentRegistry
    let kafka: KafkaConfig
    let topicPrefix: String
    let logger: Logger
    /// How long stopping may take before hooks still running are cancelled.
    let shutdownGrace: Duration
    let board = InstanceBoard()
    private let stopRequest = Mutex<(requested: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    public init(
        kafka: KafkaConfig,
        topicPrefix: String = "agentcore",
        config: AgentHostConfig,
        registry: AgentRegistry,
        shutdownGrace: Duration = .seconds(20),
        logger: Logger = Logger(label: "agentcore.agents")
    ) {
        var kafka = kafka
        if kafka.properties["message.timeout.ms"] == nil { kafka.properties["message.timeout.ms"] = "30000" }
        self.kafka = kafka
        self.topicPrefix = topicPrefix
        self.config = config
        self.registry = registry
        self.shutdownGrace = shutdownGrace
        self.logger = logger
    }

    /// One instance as the host sees it.
    public struct InstanceSnapshot: Sendable, Equatable {
        public var workspace: String
        public var project: String
        public var id: String
        public var state: HostedState
        /// The last message sequence number delivered to `receive`.
        public var lastSeq: Int64
        public var lastError: String?
    }

    public var instances: [InstanceSnapshot] {
        board.entries.withLock { e in
            e.values.map {
                InstanceSnapshot(
                    workspace: $0.workspace,
                    project: $0.project,
                    id: $0.id,
                    state: $0.state,
                    lastSeq: $0.lastSeq,
                    lastError: $0.lastError
                )
            }.sorted { ($0.workspace, $0.project, $0.id) < ($1.workspace, $1.project, $1.id) }
        }
    }

    /// Stops the host as a graceful shutdown does.
    public func stop() {
        let w = stopRequest.withLock { s -> CheckedContinuation<Void, Never>? in
            s.requested = true
            defer { s.waiter = nil }
            return s.waiter
        }
        w?.resume()
    }

    /// Returns once `stop()` was called or the task was cancelled.
    private func stopRequested() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = stopRequest.withLock { s -> Bool in
                    if s.requested { return true }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            stop()
        }
    }

    private var isStopRequested: Bool { stopRequest.withLock { $0.requested } }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await runHost()
        } onGracefulShutdown: {
            self.stop()
        }
    }

    private func runHost() async throws {
        guard config.agentsEnabled else {
            logger.notice("agents_enabled is false: this host registers nothing and runs nothing")
            await stopRequested()
            return
        }
        try config.validate()
        var types: [String: any Agent.Type] = [:]
        for spec in config.instances {
            guard let t = registry.type(spec.type) else {
                throw AgentHostError(
                    "agent type '\(spec.type)' is not registered in this host (known: \(registry.types.keys.sorted().joined(separator: ", ")))"
                )
            }
            types[spec.type] = t
        }
        var clientLogger = logger
        clientLogger.logLevel = max(logger.logLevel, .warning)
        let client = try AgentCoreClient(config: kafka, topicPrefix: topicPrefix, logger: clientLogger)
        let runner = CommandRunner(client: client, logger: logger, attemptTimeout: config.commandAttemptTimeout)

        // Inboxes first, then the follower that fills them (it starts at the committed
        // offsets, so nothing sent to an instance while the host was away is missed).
        var inboxes: [String: (AsyncStream<Delivery>, AsyncStream<Delivery>.Continuation)] = [:]
        for spec in config.instances {
            for id in spec.ids {
                let key = StatusFollower.key(workspace: spec.workspace, project: spec.project, instance: id)
                inboxes[key] = AsyncStream<Delivery>.makeStream()
                board.entries.withLock {
                    $0[key] = InstanceBoard.Entry(
                        workspace: spec.workspace,
                        project: spec.project,
                        id: id,
                        state: .starting,
                        inCluster: false,
                        lastSeq: 0,
                        lastError: nil
                    )
                }
            }
        }
        guard let follower = await makeFollower(routes: inboxes.mapValues(\.1)) else {
            await offThread { client.close(timeout: .seconds(5)) }
            return
        }

        var registered = true
        for t in Set(config.instances.map(\.type)).sorted() where registered {
            registered = await register(types[t]!, runner: runner)
        }
        if registered { await runInstances(types: types, inboxes: inboxes, runner: runner, follower: follower, client: client) }
        // Blocking: the follower's last commit and close, the producer's flush.
        await offThread {
            follower.stop()
            client.close(timeout: .seconds(5))
        }
        logger.info("agent host \(config.hostId) stopped")
    }

    private func runInstances(
        types: [String: any Agent.Type],
        inboxes: [String: (AsyncStream<Delivery>, AsyncStream<Delivery>.Continuation)],
        runner: CommandRunner,
        follower: StatusFollower,
        client: AgentCoreClient
    ) async {
        logger.info("agent host \(config.hostId) starting \(inboxes.count) instance(s)")

        await withTaskGroup(of: Finished.self) { group in
            for spec in config.instances {
                for id in spec.ids {
                    let key = StatusFollower.key(workspace: spec.workspace, project: spec.project, instance: id)
                    var instanceLogger = logger
                    instanceLogger[metadataKey: "instance"] = "\(id)"
                    let handle = AgentHandle(
                        instanceId: id,
                        workspace: spec.workspace,
                        project: spec.project,
                        hostId: config.hostId,
                        runner: runner,
                        reader: config.readURL.map { ReadAPI(baseURL: $0, token: config.readToken) },
                        commandDeadline: config.commandDeadline,
                        logger: instanceLogger
                    )
                    let driver = InstanceDriver(
                        key: key,
                        id: id,
                        spec: spec,
                        agentType: types[spec.type]!,
                        handle: handle,
                        runner: runner,
                        hostId: config.hostId,
                        inbox: inboxes[key]!.0,
                        follower: follower,
                        board: board,
                        maxHeld: config.maxPendingMessages,
                        reader: handle.reader
                    )
                    group.addTask {
                        var d = driver
                        await d.run()
                        return .instance
                    }
                }
            }
            // A child task (not an unstructured one): it runs where the host runs.
            group.addTask {
                await self.heartbeatLoop(client: client)
                return .heartbeats
            }
            await stopRequested()
            logger.info("agent host \(config.hostId) stopping: deactivating and shutting down its instances")
            runner.stopping.store(true, ordering: .releasing)
            for (_, inbox) in inboxes.values { inbox.yield(Delivery(event: .stop, partition: -1, offset: -1, backlog: false)) }
            // Hooks that have not returned within the grace period are cancelled.
            let grace = shutdownGrace
            group.addTask {
                try? await Task.sleep(for: grace)
                return .overrun
            }
            var remaining = inboxes.count + 1  // the instances and the heartbeat loop
            while remaining > 0, let finished = await group.next() {
                if finished == .overrun {
                    logger.warning("instance(s) did not stop within \(grace): cancelling them")
                    break
                }
                remaining -= 1
            }
            group.cancelAll()
        }
    }

    /// The status follower, retried while the broker cannot be reached; nil when stopped first.
    private func makeFollower(routes: [String: AsyncStream<Delivery>.Continuation]) async -> StatusFollower? {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let (kafka, topic, group, logger) = (kafka, "\(topicPrefix).status", "agentcore-agent-host-\(config.hostId)", logger)
                let workspaces = Set(config.instances.map(\.workspace))
                let maxPending = config.maxPendingMessages
                // Metadata, committed offsets and watermarks are blocking calls: off the pool.
                return try await offThread {
                    try StatusFollower(
                        config: kafka,
                        topic: topic,
                        groupId: group,
                        workspaces: workspaces,
                        routes: routes,
                        maxPending: maxPending,
                        logger: logger
                    )
                }
            } catch {
                if attempt == 1 || attempt % 10 == 0 {
                    logger.warning("agent host cannot read \(topicPrefix).status yet (\(error)); retrying (attempt \(attempt))")
                }
            }
            if isStopRequested || Task.isCancelled { return nil }
            try? await Task.sleep(for: .seconds(min(10, attempt)))
        }
    }

    /// Registers a type's definition, or updates it when it exists (a definition follows the
    /// code that runs it). False when the host was stopped first.
    private func register(_ type: any Agent.Type, runner: CommandRunner) async -> Bool {
        let d = type.definition
        let commands = Commands(
            workspace: config.instances.first { $0.type == d.slug }?.workspace ?? "agentcore",
            project: "-",
            actor: "agent-host:\(config.hostId)"
        )
        do {
            do {
                try await runner.perform(
                    commands.registerDefinition(
                        slug: d.slug,
                        name: d.name,
                        agentType: d.agentType,
                        description: d.description,
                        capabilities: d.capabilities,
                        configSchema: d.configSchema
                    )
                )
                logger.info("registered definition \(d.slug)")
            } catch let r as AgentCommandRejected where r.code == RejectionCode.alreadyExists.rawValue {
                var changes: [String: JSONValue] = [
                    "name": .string(d.name), "agent_type": .string(d.agentType),
                    "capabilities": .array(d.capabilities.map(JSONValue.string)), "config_schema": d.configSchema,
                ]
                if let text = d.description { changes["description"] = .string(text) }
                try await runner.perform(commands.updateDefinition(slug: d.slug, changes: changes))
                logger.info("updated definition \(d.slug)")
            }
            return true
        } catch let r as AgentCommandRejected {
            logger.error("definition \(d.slug) was refused: \(r); its instances will fail to start")
            return true
        } catch {
            return false
        }
    }

    /// Every `heartbeatInterval`, one `instance.heartbeat` per instance the host runs, not
    /// waited for (a lost one is covered by the next; the liveness timeout is several
    /// intervals). The state carries the host id, the host's view and the last message seq.
    private enum Finished { case instance, heartbeats, overrun }

    private func heartbeatLoop(client: AgentCoreClient) async {
        let failures = Mutex(0)
        while !Task.isCancelled && !isStopRequested {
            let entries = board.entries.withLock { Array($0.values) }
            for e in entries where e.inCluster && e.state.heartbeats {
                let commands = Commands(workspace: e.workspace, project: e.project, actor: "agent-host:\(config.hostId)")
                let state: JSONValue = [
                    "host": .string(config.hostId), "hosted": .string(e.state.rawValue), "received_seq": .int(e.lastSeq),
                ]
                do {
                    try client.producer.enqueue(commands.heartbeat(instanceId: e.id, state: state)) { [logger] result in
                        guard case .failure(let error) = result else {
                            failures.withLock { $0 = 0 }
                            return
                        }
                        let n = failures.withLock { f -> Int in
                            f += 1
                            return f
                        }
                        if n == 1 || n % 100 == 0 {
                            logger.warning("heartbeats are not reaching the broker (\(error)); \(n) failed so far")
                        }
                    }
                } catch {
                    logger.warning("heartbeat for \(e.id) not sent: \(error)")
                }
            }
            // In steps, so that a stop does not wait for a whole interval.
            let next = ContinuousClock.now + config.heartbeatInterval
            while ContinuousClock.now < next && !isStopRequested && !Task.isCancelled {
                try? await Task.sleep(for: min(.milliseconds(200), next - ContinuousClock.now))
            }
        }
    }
}

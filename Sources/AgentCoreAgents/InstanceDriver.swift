import AgentCoreClient
import AgentCoreModel
import Logging
import Synchronization

/// How the host sees one of its instances.
public enum HostedState: String, Sendable {
    /// Spawning or adopting, initialising, activating.
    case starting
    case active
    /// Deactivated by an operator (`idle`): messages wait until it is active again.
    case idle
    /// A hook threw, or the cluster refused to start it: status `error` (or no instance).
    case failed
    /// Taken offline by an operator.
    case offline
    /// Removed by an operator: the host no longer runs it.
    case removed
    /// The host stopped it.
    case stopped

    /// Whether the host heartbeats it.
    var heartbeats: Bool { self == .starting || self == .active || self == .idle || self == .failed }
}

/// What the host shares about its instances: state for heartbeats and for callers.
final class InstanceBoard: Sendable {
    struct Entry: Sendable {
        var workspace: String
        var project: String
        var id: String
        var state: HostedState
        /// Spawned or adopted: heartbeats may go out.
        var inCluster: Bool
        var lastSeq: Int64
        var lastError: String?
    }
    let entries = Mutex<[String: Entry]>([:])

    func set(_ key: String, _ change: (inout Entry) -> Void) {
        entries.withLock { e in if var entry = e[key] { change(&entry); e[key] = entry } }
    }
}

/// Drives one instance: start-up (spawn or adopt, `initializing`, `initialize`,
/// `activate`, `active`), then its inbox one event at a time (messages, and operators'
/// commands it did not send), then stop (`deactivate`, `shutdown`, `offline`). All of it
/// in one task, so hooks of one instance never run at once.
struct InstanceDriver {
    let key: String
    let id: String
    let spec: AgentHostConfig.InstanceSpec
    let agentType: any Agent.Type
    let handle: AgentHandle
    let runner: CommandRunner
    let commands: Commands
    let inbox: AsyncStream<Delivery>
    let follower: StatusFollower
    let board: InstanceBoard
    let logger: Logger

    private var agent: (any Agent)?
    private var state = HostedState.starting
    /// Whether the instance exists in the cluster (spawned or adopted).
    private var exists = false
    private var initialized = false
    private var config: JSONValue = [:]
    /// Ids of the commands this host sent for the instance (their events are not an
    /// operator's): the last 1,024.
    private var own: [String] = []
    private var ownSet = Set<String>()
    private var lastSeq: Int64 = 0
    /// Messages that arrived while the instance was not active.
    private var held: [Delivery] = []

    init(
        key: String, id: String, spec: AgentHostConfig.InstanceSpec, agentType: any Agent.Type, handle: AgentHandle,
        runner: CommandRunner, hostId: String, inbox: AsyncStream<Delivery>, follower: StatusFollower, board: InstanceBoard
    ) {
        self.key = key
        self.id = id
        self.spec = spec
        self.agentType = agentType
        self.handle = handle
        self.runner = runner
        self.commands = Commands(workspace: spec.workspace, project: spec.project, actor: "agent-host:\(hostId)")
        self.inbox = inbox
        self.follower = follower
        self.board = board
        self.logger = handle.logger
    }

    mutating func run() async {
        await start()
        for await d in inbox {
            if case .stop = d.event { break }
            await handle(d)
        }
        await stop()
    }

    // MARK: Start

    private mutating func start() async {
        do {
            do {
                let ev = try await send(
                    commands.spawn(definition: agentType.definition.slug, name: id, instanceId: id, config: spec.config))
                config = ev.first { $0.type == .instanceSpawned }?.payload["config"] ?? spec.config
                logger.info("spawned instance \(id) (\(agentType.definition.slug)) in \(spec.workspace)/\(spec.project)")
            } catch let r as AgentCommandRejected where r.code == RejectionCode.alreadyExists.rawValue {
                // A restart: adopt it, with the config file's values over what it has.
                exists = true
                let ev = try await send(commands.configure(instanceId: id, config: spec.config.objectValue ?? [:]))
                config = ev.first { $0.type == .instanceConfigured }?.payload["config"] ?? spec.config
                logger.info("adopted instance \(id) (\(agentType.definition.slug)) in \(spec.workspace)/\(spec.project)")
            }
            exists = true
            board.set(key) { $0.inCluster = true }
            do {
                try await send(commands.transition(instanceId: id, to: .initializing, reason: "host start"))
            } catch let r as AgentCommandRejected where r.code == RejectionCode.invalidTransition.rawValue {
                // It was active, busy or initialising (a host that died): through idle.
                try await send(commands.transition(instanceId: id, to: .idle, reason: "host restart"))
                try await send(commands.transition(instanceId: id, to: .initializing, reason: "host start"))
            }
        } catch let r as AgentCommandRejected {
            logger.error("instance \(id) cannot start: \(r)")
            if exists {
                await fail(hook: "start", error: r)
            } else {
                setState(.failed, error: r.description)
            }
            return
        } catch {
            logger.info("instance \(id) start-up stopped: \(error)")
            setState(.stopped)
            return
        }
        agent = agentType.init(handle: handle)
        _ = await bringUp(from: "host start")
    }

    /// `initialize` (once), `activate`, then `active` (unless the cluster has it already:
    /// an operator's transition to `active`). False when a hook threw.
    private mutating func bringUp(from reason: String, report: Bool = true) async -> Bool {
        guard let agent else { return false }
        if !initialized {
            do { try await agent.initialize(config: config) } catch {
                await fail(hook: "initialize", error: error)
                return false
            }
            initialized = true
        }
        do { try await agent.activate() } catch {
            await fail(hook: "activate", error: error)
            return false
        }
        if report {
            do {
                try await send(commands.transition(instanceId: id, to: .active, reason: reason))
            } catch {
                logger.error("instance \(id) is active here but the cluster refused to record it: \(error)")
            }
        }
        setState(.active)
        await deliverHeld()
        return true
    }

    // MARK: Inbox

    private mutating func handle(_ d: Delivery) async {
        defer { if case .message = d.event {} else { follower.done(d) } }
        switch d.event {
        case .message:
            switch state {
            case .active: await deliver(d)
            case .removed, .stopped: follower.done(d)  // no longer run here: dropped
            default: held.append(d)
            }
        case .statusChanged(_, let to, let reason, let commandId):
            guard !d.backlog, !isOwn(commandId) else { return }
            await operatorTransition(to: to, reason: reason, byCommand: commandId != nil)
        case .configured(let merged, let commandId):
            guard !d.backlog, !isOwn(commandId) else { return }
            config = merged
            guard let agent, state == .active || state == .idle else { return }
            logger.info("instance \(id): configure from an operator")
            do { try await agent.configure(merged) } catch { await fail(hook: "configure", error: error) }
        case .removed(let commandId):
            guard !d.backlog, !isOwn(commandId) else { return }
            logger.notice("instance \(id) was removed by an operator: the host stops running it")
            await quiesce()
            exists = false
            board.set(key) { $0.inCluster = false }
            setState(.removed)
            for h in held { follower.done(h) }
            held.removeAll()
        case .stop:
            break
        }
    }

    private mutating func operatorTransition(to: InstanceStatus, reason: String?, byCommand: Bool) async {
        switch to {
        case .idle:
            guard state == .active, let agent else { return }
            do { try await agent.deactivate() } catch {
                await fail(hook: "deactivate", error: error)
                return
            }
            setState(.idle)
        case .active, .initializing:
            guard state == .idle || state == .failed || state == .offline, agent != nil else { return }
            if to == .initializing { initialized = false }
            _ = await bringUp(from: "operator", report: to == .initializing)
        case .offline where !byCommand:
            // The liveness sweep: no heartbeat reached the cluster in time (an outage).
            guard state == .active || state == .idle else { return }
            logger.warning("instance \(id) was marked offline (\(reason ?? "liveness_timeout")); the host is running it: reporting it again")
            do {
                try await send(commands.transition(instanceId: id, to: .idle, reason: "host still running"))
                if state == .active { try await send(commands.transition(instanceId: id, to: .active, reason: "host still running")) }
            } catch {
                logger.error("instance \(id) could not be reported again: \(error)")
            }
        case .offline, .error:
            guard state == .active || state == .idle else { return }
            await quiesce()
            setState(to == .offline ? .offline : .failed)
        case .busy:
            break
        }
    }

    private mutating func deliverHeld() async {
        while state == .active, !held.isEmpty {
            await deliver(held.removeFirst())
        }
    }

    private mutating func deliver(_ d: Delivery) async {
        defer { follower.done(d) }
        guard case .message(let m) = d.event, let agent else { return }
        guard m.seq > lastSeq else { return }  // a repeat (a re-published delivery)
        lastSeq = m.seq
        board.set(key) { $0.lastSeq = m.seq }
        do { try await agent.receive(m) } catch { await fail(hook: "receive", error: error) }
    }

    // MARK: Stop and failure

    /// `deactivate` if active; then `shutdown`.
    private mutating func quiesce() async {
        guard let agent else { return }
        if state == .active {
            do { try await agent.deactivate() } catch { logger.error("instance \(id): deactivate threw: \(error)") }
        }
        do { try await agent.shutdown() } catch { logger.error("instance \(id): shutdown threw: \(error)") }
        self.agent = nil
    }

    private mutating func stop() async {
        let wasState = state
        await quiesce()
        setState(.stopped)
        // Held messages stay uncommitted: the next start delivers them.
        guard exists, wasState != .offline, wasState != .removed else { return }
        do {
            try await send(commands.transition(instanceId: id, to: .offline, reason: "host stopped"), giveUpAfter: .seconds(5))
            logger.info("instance \(id) is offline")
        } catch {
            logger.error("instance \(id) could not be reported offline (\(error)); the liveness timeout will")
        }
    }

    /// A hook threw: `error` with the message as the instance's last error.
    private mutating func fail(hook: String, error: any Error) async {
        let text = "\(hook): \(error)"
        logger.error("instance \(id) failed in \(text)")
        setState(.failed, error: text)
        guard exists else { return }
        do {
            try await send(commands.transition(instanceId: id, to: .error, reason: "\(hook) failed", error: String(text.prefix(4_000))))
        } catch {
            logger.error("instance \(id): the error could not be recorded: \(error)")
        }
    }

    // MARK: Helpers

    @discardableResult
    private mutating func send(_ command: CommandEnvelope, giveUpAfter: Duration? = nil) async throws -> [Event] {
        own.append(command.id)
        ownSet.insert(command.id)
        if own.count > 1_024 { ownSet.remove(own.removeFirst()) }
        return try await runner.perform(command, giveUpAfter: giveUpAfter, until: Self.answer(to: command))
    }

    /// The event that answers each command the host sends (so it need not wait `settle`).
    static func answer(to command: CommandEnvelope) -> @Sendable ([Event]) -> Bool {
        switch CommandType(rawValue: command.type) {
        case .instanceSpawn: return AgentCoreClient.answered(by: [.instanceSpawned])
        case .instanceConfigure: return AgentCoreClient.answered(by: [.instanceConfigured])
        case .instanceTransition:
            // Activating a never-initialised instance causes two status changes: the answer
            // is the one that reaches the target.
            let target = command.payload["to"]?.stringValue
            return { events in
                events.contains { $0.type == .commandRejected || ($0.type == .instanceStatusChanged && $0.payload["to"]?.stringValue == target) }
            }
        default: return AgentCoreClient.answered(by: [])
        }
    }

    private func isOwn(_ commandId: String?) -> Bool { commandId.map(ownSet.contains) ?? false }

    private mutating func setState(_ s: HostedState, error: String? = nil) {
        state = s
        board.set(key) { e in
            e.state = s
            if let error { e.lastError = error }
        }
    }
}

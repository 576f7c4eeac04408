import AgentCoreClient
import AgentCoreModel
import Foundation
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
        entries.withLock { e in
            if var entry = e[key] {
                change(&entry)
                e[key] = entry
            }
        }
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
    let hostId: String
    let inbox: AsyncStream<Delivery>
    let follower: StatusFollower
    let board: InstanceBoard
    let logger: Logger
    /// Most messages held in memory while the instance is not active.
    let maxHeld: Int
    /// For the check that no other live host runs the instance (nil: not checked).
    let reader: ReadAPI?

    private var agent: (any Agent)?
    private var state = HostedState.starting
    /// Whether the instance exists in the cluster (spawned or adopted).
    private var exists = false
    /// Spawned by this start (not adopted): deliveries read from before it are a former
    /// instance's.
    private var spawnedNow = false
    private var initialized = false
    private var config: JSONValue = [:]
    /// Ids of the commands this host sent for the instance (their events are not an
    /// operator's): the last 1,024.
    private var own = Window(capacity: 1_024)
    /// Ids of the deliveries handed to `receive` (repeats are dropped by id): the last 10,000.
    private var delivered = Window(capacity: 10_000)
    private var lastSeq: Int64 = 0
    /// Messages that arrived while the instance was not active (their slots released).
    private var held: [Delivery] = []
    /// Messages beyond `maxHeld`: not in memory, left uncommitted (a restart delivers them).
    private var overflowed = 0

    init(
        key: String,
        id: String,
        spec: AgentHostConfig.InstanceSpec,
        agentType: any Agent.Type,
        handle: AgentHandle,
        runner: CommandRunner,
        hostId: String,
        inbox: AsyncStream<Delivery>,
        follower: StatusFollower,
        board: InstanceBoard,
        maxHeld: Int,
        reader: ReadAPI?
    ) {
        self.key = key
        self.id = id
        self.spec = spec
        self.agentType = agentType
        self.handle = handle
        self.runner = runner
        self.hostId = hostId
        self.commands = Commands(workspace: spec.workspace, project: spec.project, actor: "agent-host:\(hostId)")
        self.inbox = inbox
        self.follower = follower
        self.board = board
        self.logger = handle.logger
        self.maxHeld = maxHeld
        self.reader = reader
    }

    mutating func run() async {
        await start()
        for await d in inbox {
            // Stopping: what is left stays uncommitted, so the next start delivers it.
            if case .stop = d.event { break }
            if runner.stopping.load(ordering: .acquiring) { break }
            await handle(d)
        }
        await stop()
    }

    // MARK: Start

    private mutating func start() async {
        do {
            do {
                let ev = try await send(
                    commands.spawn(definition: agentType.definition.slug, name: id, instanceId: id, config: spec.config)
                )
                config = ev.first { $0.type == .instanceSpawned }?.payload["config"] ?? spec.config
                spawnedNow = true
                logger.info("spawned instance \(id) (\(agentType.definition.slug)) in \(spec.workspace)/\(spec.project)")
            } catch let r as AgentCommandRejected where r.code == RejectionCode.alreadyExists.rawValue {
                // A restart: adopt it (unless another live host runs it), with the config
                // file's values over what it has.
                if let other = await otherLiveHost() {
                    throw AgentHostError("instance \(id) is run by host '\(other)', which heartbeated it recently; not adopting it")
                }
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
        } catch let e as AgentHostError {
            logger.error("\(e.description)")
            setState(.failed, error: e.description)
            return
        } catch {
            logger.info("instance \(id) start-up stopped: \(error)")
            setState(.stopped)
            return
        }
        _ = await bringUp(from: "host start")
    }

    /// The host that last heartbeated the instance, when it is not this one and its last
    /// heartbeat is under 30 s old (read through the read API; nil when that cannot say).
    private func otherLiveHost() async -> String? {
        guard let reader else { return nil }
        let path = "/v1/workspaces/\(ReadAPI.escape(spec.workspace))/projects/\(ReadAPI.escape(spec.project))/instances/\(ReadAPI.escape(id))"
        guard let instance = try? await reader.get(path),
            let other = instance["state"]?["host"]?.stringValue, other != hostId,
            let at = instance["last_heartbeat"]?.stringValue, let millis = Timestamp.parseMillis(at)
        else { return nil }
        let age = Date().timeIntervalSince1970 * 1000 - Double(millis)
        return age < 30_000 ? other : nil
    }

    /// Makes the agent if it has none, `initialize` (once per agent), `activate`, then
    /// `active` (unless the cluster has it already: an operator's transition to `active`).
    /// False when a hook threw.
    private mutating func bringUp(from reason: String, report: Bool = true) async -> Bool {
        if agent == nil {
            agent = agentType.init(handle: handle)
            initialized = false
        }
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
        if report { await reportStatus(.active, reason: reason) }
        setState(.active)
        await deliverHeld()
        return true
    }

    // MARK: Inbox

    private mutating func handle(_ d: Delivery) async {
        if case .message = d.event {
            await message(d)
            return
        }
        defer { follower.done(d) }
        switch d.event {
        case .statusChanged(_, let to, let reason, let commandId):
            guard !d.backlog, !isOwn(commandId) else { return }
            await operatorTransition(to: to, reason: reason, byCommand: commandId != nil)
        case .configured(let merged, let commandId):
            guard !d.backlog, !isOwn(commandId) else { return }
            config = merged  // a later initialize gets it; an initialised agent hears it now
            guard let agent, initialized, state == .active || state == .idle else { return }
            logger.info("instance \(id): configure from an operator")
            do { try await agent.configure(merged) } catch { await fail(hook: "configure", error: error) }
        case .removed(let commandId):
            guard !d.backlog, !isOwn(commandId) else { return }
            logger.notice("instance \(id) was removed by an operator: the host stops running it")
            await quiesce()
            exists = false
            board.set(key) { $0.inCluster = false }
            setState(.removed)
            for h in held { follower.done(h, released: true) }
            held.removeAll()
        case .message, .stop:
            break
        }
    }

    private mutating func message(_ d: Delivery) async {
        switch state {
        case _ where d.backlog && spawnedNow:
            follower.done(d)  // a former instance's (this one did not exist when the host started)
        case .active:
            await deliver(d, released: false)
        case .removed, .stopped:
            follower.done(d)  // no longer run here: dropped
        default:
            follower.release(d)
            if held.count < maxHeld {
                held.append(d)
            } else {
                // Kept in Kafka only: never committed in this lifetime, delivered after a restart.
                overflowed += 1
                if overflowed == 1 || overflowed % 1_000 == 0 {
                    logger.error(
                        "instance \(id) is \(state.rawValue) and holds \(maxHeld) messages already; \(overflowed) more wait in Kafka until the host restarts"
                    )
                }
            }
        }
    }

    private mutating func operatorTransition(to: InstanceStatus, reason: String?, byCommand: Bool) async {
        switch to {
        case .idle:
            if state == .active, let agent {
                do { try await agent.deactivate() } catch {
                    await fail(hook: "deactivate", error: error)
                    return
                }
            } else if state != .failed && state != .offline {
                return
            }
            setState(.idle)
            // The host's own report may have landed after the operator's (a transition
            // during start-up): say again what the host now does.
            await reportStatus(.idle, reason: "host followed an operator")
        case .active, .initializing:
            guard state == .idle || state == .failed || state == .offline else { return }
            if to == .initializing { initialized = false }
            _ = await bringUp(from: "operator", report: to == .initializing)
        case .offline where !byCommand:
            // The liveness sweep: no heartbeat reached the cluster in time (an outage).
            guard state == .active || state == .idle else { return }
            logger.warning("instance \(id) was marked offline (\(reason ?? "liveness_timeout")); the host is running it: reporting it again")
            await reportStatus(.idle, reason: "host still running")
            if state == .active { await reportStatus(.active, reason: "host still running") }
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
            await deliver(held.removeFirst(), released: true)
        }
    }

    private mutating func deliver(_ d: Delivery, released: Bool) async {
        guard case .message(let m) = d.event, let agent else {
            follower.done(d, released: released)
            return
        }
        // A repeat (a delivery published again after a worker crash).
        guard delivered.insert(m.eventId) else {
            follower.done(d, released: released)
            return
        }
        lastSeq = max(lastSeq, m.seq)
        board.set(key) { $0.lastSeq = m.seq }
        do {
            try await agent.receive(m)
        } catch is CancellationError {
            return  // the host is stopping: left uncommitted, delivered after a restart
        } catch {
            await fail(hook: "receive", error: error)
        }
        follower.done(d, released: released)
    }

    // MARK: Stop and failure

    /// `deactivate` if active; then `shutdown`; the agent is gone (a later start makes a new one).
    private mutating func quiesce() async {
        guard let agent else { return }
        if state == .active {
            do { try await agent.deactivate() } catch { logger.error("instance \(id): deactivate threw: \(error)") }
        }
        do { try await agent.shutdown() } catch { logger.error("instance \(id): shutdown threw: \(error)") }
        self.agent = nil
        initialized = false
    }

    private mutating func stop() async {
        let wasState = state
        await quiesce()
        setState(.stopped)
        // Held messages stay uncommitted: the next start delivers them.
        guard exists, wasState != .offline, wasState != .removed else { return }
        let command = commands.transition(instanceId: id, to: .offline, reason: "host stopped")
        own.insert(command.id)
        let (runner, logger, id) = (runner, logger, id)
        @Sendable func report() async {
            do {
                try await runner.perform(command, giveUpAfter: .seconds(5), until: Self.answer(to: command))
                logger.info("instance \(id) is offline")
            } catch {
                logger.error("instance \(id) could not be reported offline (\(error)); the liveness timeout will")
            }
        }
        // Reported even when the stop was cancelled (the grace period ran out): from a task
        // of its own, which the cancellation does not reach.
        if Task.isCancelled { await Task.detached { await report() }.value } else { await report() }
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

    /// Sends a transition the host's own state calls for; one the cluster has already
    /// (`invalid_transition`) is fine.
    private mutating func reportStatus(_ to: InstanceStatus, reason: String) async {
        do {
            try await send(commands.transition(instanceId: id, to: to, reason: reason))
        } catch let r as AgentCommandRejected where r.code == RejectionCode.invalidTransition.rawValue {
            logger.debug("instance \(id): the cluster has it \(to.rawValue) already (\(r.message))")
        } catch {
            logger.error("instance \(id) is \(to.rawValue) here but the cluster did not record it: \(error)")
        }
    }

    @discardableResult
    private mutating func send(_ command: CommandEnvelope, giveUpAfter: Duration? = nil) async throws -> [Event] {
        own.insert(command.id)
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

    private func isOwn(_ commandId: String?) -> Bool { commandId.map(own.contains) ?? false }

    private mutating func setState(_ s: HostedState, error: String? = nil) {
        state = s
        board.set(key) { e in
            e.state = s
            if let error { e.lastError = error }
        }
    }
}

/// The last `capacity` distinct strings, oldest forgotten first.
struct Window {
    let capacity: Int
    private var order: [String] = []
    private var head = 0
    private var members = Set<String>()

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func contains(_ s: String) -> Bool { members.contains(s) }

    /// False when `s` is there already.
    @discardableResult
    mutating func insert(_ s: String) -> Bool {
        guard members.insert(s).inserted else { return false }
        if order.count < capacity {
            order.append(s)
        } else {
            members.remove(order[head])
            order[head] = s
            head = (head + 1) % capacity
        }
        return true
    }
}

import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import Logging
import Synchronization

/// Sends commands for the host and its agents and turns their answers into values: the
/// events, or `AgentCommandRejected`. While the cluster does not answer (broker or worker
/// down, a partition restoring) it sends the **same** command again with backoff (the same
/// id, so a command that did arrive is answered, never applied twice) and logs once per
/// outage, until it is answered, `giveUpAfter` passes, or the task is cancelled.
final class CommandRunner: Sendable {
    let client: AgentCoreClient
    let logger: Logger
    /// How long one attempt waits for the answer.
    let attemptTimeout: Duration
    /// Set when the host stops: retries without a deadline end (`CancellationError`).
    let stopping = Atomic<Bool>(false)

    init(client: AgentCoreClient, logger: Logger, attemptTimeout: Duration = .seconds(10)) {
        self.client = client
        self.logger = logger
        self.attemptTimeout = attemptTimeout
    }

    /// The command's events; throws `AgentCommandRejected` when it was refused.
    @discardableResult
    func perform(
        _ command: CommandEnvelope,
        giveUpAfter: Duration? = nil,
        until: (@Sendable ([Event]) -> Bool)? = nil
    ) async throws -> [Event] {
        let clock = ContinuousClock()
        let start = clock.now
        var backoff = Duration.milliseconds(500)
        var attempt = 0
        while true {
            attempt += 1
            do {
                let events =
                    if let until {
                        try await client.enqueueAndWait(command, timeout: attemptTimeout, until: until)
                    } else {
                        try await client.enqueueAndWait(command, timeout: attemptTimeout)
                    }
                if attempt > 1 {
                    logger.notice("the cluster answered \(command.type) \(command.id) after \(attempt) attempts")
                }
                if let r = events.first(where: { $0.type == .commandRejected }) {
                    throw AgentCommandRejected(
                        code: r.payload["code"]?.stringValue ?? "",
                        message: r.payload["message"]?.stringValue ?? "",
                        field: r.payload["field"]?.stringValue,
                        commandType: command.type
                    )
                }
                return events
            } catch let e as AgentCommandRejected {
                throw e
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if !Self.isTransient(error) { throw error }
                if let limit = giveUpAfter, clock.now - start >= limit { throw error }
                if giveUpAfter == nil && stopping.load(ordering: .acquiring) { throw CancellationError() }
                if attempt == 1 || attempt % 10 == 0 {
                    logger.warning(
                        "no answer for \(command.type) \(command.id) (\(error)); retrying the same command (attempt \(attempt)); is a worker running and the broker reachable?"
                    )
                }
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(10))
            }
        }
    }

    /// Worth sending again: no answer in time, or a Kafka error that is not fatal and not a
    /// misuse (an invalid argument, a closed or destroyed client, a record too large).
    static func isTransient(_ error: any Error) -> Bool {
        if error is AgentCoreClient.Timeout { return true }
        guard let k = error as? KafkaError else { return false }
        return !k.isFatal && k.code != KafkaError.invalidArgument("").code && k.name != "_DESTROY" && k.name != "_FATAL"
            && k.name != "MSG_SIZE_TOO_LARGE"
    }
}

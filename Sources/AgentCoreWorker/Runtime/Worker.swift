import AgentCoreKafka
import CoreMetrics
import Foundation
import Logging
import ServiceLifecycle

/// One agentcore worker as a swift-service-lifecycle `Service`: a member of the consumer
/// group that owns some partitions and their stores. Graceful shutdown (SIGTERM/SIGINT via
/// `ServiceGroup`) stops polling, finishes and publishes the batch, commits and leaves the
/// group.
public final class Worker: Service, Sendable {
    let engine: WorkerEngine

    /// - Parameter bootstrap: the brokers to use (an embedded cluster's bootstrap string or
    ///   `configuration.brokers`).
    /// - Parameter metrics: where the worker's metrics go (docs/http-api.md lists them);
    ///   by default nowhere.
    public init(
        configuration: WorkerConfiguration,
        bootstrap: String,
        logger: Logger,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance
    ) {
        engine = WorkerEngine(config: configuration, bootstrap: bootstrap, logger: logger, metrics: metrics)
    }

    /// Counters, partitions and recent events, refreshed every loop and heartbeat.
    public var status: WorkerStatus { engine.statusBox.withLock { $0 } }

    public var configuration: WorkerConfiguration { engine.config }

    /// The URL heartbeats advertise for this worker's HTTP server (nil: none).
    public var advertisedHTTPURL: String? {
        get { engine.httpURL.withLock { $0 } }
        set { engine.httpURL.withLock { $0 = newValue } }
    }

    /// The store file of partition `p` in this worker's data directory.
    public func storePath(partition p: Int32) -> String { engine.storePath(p) }

    /// Seconds since the loop last completed a step (nil before the first one).
    public var secondsSinceProgress: Double? {
        let last = engine.lastStepNanos.load(ordering: .acquiring)
        guard last > 0 else { return nil }
        return Double(DispatchTime.now().uptimeNanoseconds &- last) / 1e9
    }

    /// Asks the loop to stop after the current round.
    public func stop() { engine.requestStop() }

    public func run() async throws {
        // Graceful shutdown and cancellation (a group whose bound ran out) both stop the
        // loop the same way: the loop's thread does not see task cancellation.
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await runLoop()
            } onGracefulShutdown: { [engine] in
                engine.requestStop()
            }
        } onCancel: { [engine] in
            engine.requestStop()
        }
    }

    /// A stop was asked for (`stop()`, a signal): the worker is finishing and leaving.
    public var isStopping: Bool { engine.stopRequested.load(ordering: .acquiring) }

    /// Runs the loop on a dedicated thread until `stop()`; blocking calls never touch the
    /// cooperative pool.
    public func runLoop() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            start { c.resume(with: $0) }
        }
    }

    /// Starts the loop's thread at once and returns; `completion` gets how the loop ended.
    /// For callers that must not depend on Swift's cooperative pool to get the loop going
    /// (a test that waits by blocking a thread, say).
    public func start(_ completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        let thread = Thread { [engine] in
            completion(Result { try engine.run() })
        }
        thread.name = "agentcore-worker"
        thread.stackSize = 4 << 20
        thread.start()
    }
}

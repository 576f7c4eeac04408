import AgentCoreKafka
import AgentCoreModel
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// An event as received, with where it came from for the consumer's own checkpointing.
public struct ReceivedEvent: Sendable {
    public var event: Event
    public var topic: String
    public var partition: Int32
    public var offset: Int64
}

/// A downstream consumer of agentcore's status (and heartbeat) topics: decodes events and
/// drops duplicates by event id (a bounded memory of recent ids). Records that are not
/// events (worker heartbeats, foreign data) are skipped and counted.
///
/// Two ways to read, not to be mixed: `poll` (blocking; call it from a thread of your own)
/// or `events()`, an `AsyncSequence` that polls on a thread it starts and ends when the
/// iterating task stops.
public final class EventStream: Sendable {
    let consumer: KafkaConsumer
    /// The dedupe memory and counters: one owner at a time (the poller), behind a lock.
    private struct State {
        var seen = Set<String>()
        /// Ring of the ids in `seen`, oldest at `ringHead` once full.
        var ring: [String] = []
        var ringHead = 0
        var duplicatesDropped = 0
        var undecodable = 0
    }
    private let state = Mutex(State())
    private let dedupeWindow: Int
    public var duplicatesDropped: Int { state.withLock { $0.duplicatesDropped } }
    public var undecodable: Int { state.withLock { $0.undecodable } }

    /// - Parameters:
    ///   - groupId: the consumer group (nil: a private group that starts at `start`).
    ///   - fromBeginning: where a group without committed offsets starts.
    public init(
        config: KafkaConfig,
        topics: [String],
        groupId: String? = nil,
        fromBeginning: Bool = true,
        dedupeWindow: Int = 100_000,
        consumerOptions: ((inout ConsumerOptions) -> Void)? = nil,
        logger: Logger = .library("agentcore.client.events")
    ) throws {
        var o = ConsumerOptions(groupId: groupId ?? "agentcore-events-\(UUID().uuidString)")
        o.autoOffsetReset = fromBeginning ? .earliest : .latest
        consumerOptions?(&o)
        consumer = try KafkaConsumer(config: config, options: o, logger: logger)
        self.dedupeWindow = max(1, dedupeWindow)
        try consumer.subscribe(topics)
    }

    deinit { consumer.close() }

    /// Leaves the group (its partitions go to the other members at once) and closes the
    /// consumer, after the `events()` thread stopped (the consumer is used by one thread at
    /// a time). Polling after it returns nothing.
    public func close() {
        if let control = poller.withLock({ $0 }) {
            control.stopped.store(true, ordering: .releasing)
            control.room.give()  // a thread waiting for room wakes up and sees the stop
            control.done.wait()
            control.done.signal()  // later waits return at once
        }
        consumer.close()
    }

    /// The `events()` thread: asked to stop, and done.
    private final class PollControl: Sendable {
        let stopped = Atomic<Bool>(false)
        let done = DispatchSemaphore(value: 0)
        let room: Room
        init(room: Room) { self.room = room }
    }
    private let poller = Mutex<PollControl?>(nil)

    @available(*, deprecated, renamed: "poll(maxRecords:timeout:)")
    public func poll(maxRecords: Int = 500, timeoutMs: Int32) -> [ReceivedEvent] {
        poll(maxRecords: maxRecords, timeout: .milliseconds(Int64(timeoutMs)))
    }

    /// Waits up to `timeout` for events; returns new (not duplicate) events in order.
    public func poll(maxRecords: Int = 500, timeout: Duration = .milliseconds(100)) -> [ReceivedEvent] {
        let records = consumer.poll(maxRecords: maxRecords, timeoutMs: Int32(clamping: timeout.milliseconds)).records
        return state.withLock { st in
            var out: [ReceivedEvent] = []
            for r in records {
                guard let value = r.value, let event = try? Event(bytes: value) else {
                    st.undecodable += 1
                    continue
                }
                if st.seen.contains(event.id) {
                    st.duplicatesDropped += 1
                    continue
                }
                st.seen.insert(event.id)
                if st.ring.count < dedupeWindow {
                    st.ring.append(event.id)
                } else {
                    st.seen.remove(st.ring[st.ringHead])
                    st.ring[st.ringHead] = event.id
                    st.ringHead = (st.ringHead + 1) % dedupeWindow
                }
                out.append(ReceivedEvent(event: event, topic: r.topic, partition: r.partition, offset: r.offset))
            }
            return out
        }
    }

    /// The events as an `AsyncSequence`: a thread polls and hands them over (at most
    /// `buffer` wait for a slow reader; the thread then waits for room rather than drop
    /// any). Polling stops when the iterating task ends or is cancelled. One at a time.
    public func events(buffer: Int = 10_000) -> Events {
        let (stream, continuation) = AsyncStream<ReceivedEvent>.makeStream(bufferingPolicy: .unbounded)
        let room = Room(slots: buffer)
        let control = PollControl(room: room)
        poller.withLock { $0 = control }
        continuation.onTermination = { _ in
            control.stopped.store(true, ordering: .releasing)
            room.give()
        }
        let thread = Thread { [self] in
            defer { control.done.signal() }
            while !control.stopped.load(ordering: .acquiring) && !consumer.isClosed {
                for e in poll() {
                    _ = room.take()
                    if control.stopped.load(ordering: .acquiring) { break }
                    continuation.yield(e)
                }
            }
            continuation.finish()
        }
        thread.name = "agentcore-events"
        thread.start()
        return Events(stream: stream, room: room)
    }

    /// `events()`: received events in order; each one taken makes room for another.
    public struct Events: AsyncSequence, Sendable {
        public typealias Element = ReceivedEvent
        let stream: AsyncStream<ReceivedEvent>
        let room: Room

        public struct AsyncIterator: AsyncIteratorProtocol {
            var base: AsyncStream<ReceivedEvent>.AsyncIterator
            let room: Room

            public mutating func next() async -> ReceivedEvent? {
                let e = await base.next()
                if e != nil { room.give() }
                return e
            }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: stream.makeAsyncIterator(), room: room) }
    }

    /// Commits `event`'s position + 1 to the group (for a named group's checkpointing), for
    /// the partitions this member still holds: an event of a partition the group gave to
    /// another member since must not move that member's position.
    public func commit(_ events: [ReceivedEvent]) throws {
        var last: [TopicPartition: Int64] = [:]
        for e in events { last[TopicPartition(e.topic, e.partition)] = max(last[TopicPartition(e.topic, e.partition)] ?? -1, e.offset) }
        let held = Set(try consumer.assignment())
        let offsets = last.filter { held.contains($0.key) }.map { TopicPartitionOffset($0.key, offset: $0.value + 1) }
        if !offsets.isEmpty { try consumer.commit(offsets) }
    }

    /// Whether the consumer holds partitions yet (after the group join).
    public var isAssigned: Bool { ((try? consumer.assignment()) ?? []).isEmpty == false }
}

extension EventStream {
    /// The stream as a swift-service-lifecycle `Service`: hands each event to `handler`, one
    /// at a time and in order, until a graceful shutdown or cancellation, and commits the
    /// group's offsets every `commitEvery` handled events and when it ends (for a stream
    /// with a named group: a restart resumes after what was handled). A handler that
    /// throws ends the service with that error, committing only what was handled before.
    /// The service owns the stream: when `run` ends, the stream is closed (it leaves the
    /// group).
    public func service(
        commitEvery: Int = 100,
        commitInterval: Duration = .seconds(1),
        _ handler: @escaping @Sendable (ReceivedEvent) async throws -> Void
    ) -> Consumer {
        Consumer(stream: self, commitEvery: max(1, commitEvery), commitInterval: commitInterval, handler: handler)
    }

    public struct Consumer: Service {
        let stream: EventStream
        let commitEvery: Int
        let commitInterval: Duration
        let handler: @Sendable (ReceivedEvent) async throws -> Void

        public func run() async throws {
            var handled: [ReceivedEvent] = []
            var lastCommit = ContinuousClock.now
            do {
                for await event in stream.events().cancelOnGracefulShutdown() {
                    try await handler(event)
                    handled.append(event)
                    if handled.count >= commitEvery || ContinuousClock.now - lastCommit >= commitInterval {
                        try stream.commit(handled)
                        handled.removeAll(keepingCapacity: true)
                        lastCommit = .now
                    }
                }
            } catch {
                await finish(handled)
                throw error
            }
            await finish(handled)
        }

        /// Commits what was handled and closes the stream, on a thread of its own (leaving
        /// the group waits for the broker).
        private func finish(_ handled: [ReceivedEvent]) async {
            let stream = stream
            await offThread {
                if !handled.isEmpty { try? stream.commit(handled) }
                stream.close()
            }
        }
    }
}

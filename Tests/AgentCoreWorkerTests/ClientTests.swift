import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import AgentCoreWorker

/// The client's shared result consumer and `EventStream.events()` against a worker on the
/// embedded cluster (issue 16).
@Suite(.serialized) struct ClientTests {
    @Test func concurrentWaitsEachGetTheirOwnEvents() async throws {
        try await withTaskExecutorPreference(TestExecutor.shared) {
            let h = try WorkerHarness(partitions: 4)
            h.startWorker("w1")
            let client = try h.client()
            defer { client.close() }
            let c = Commands(workspace: "acme", project: "p", actor: "t")
            let def = try await client.enqueueAndWait(c.registerDefinition(slug: "d", name: "D", agentType: "t"))
            #expect(def.map(\.type) == [.definitionRegistered])
            // A spawn causes one event; a first write two (context.created, version_created).
            let spawned = try await client.enqueueAndWait(c.spawn(definition: "d", name: "i", instanceId: "i1"))
            #expect(spawned.map(\.type) == [.instanceSpawned])
            let results = try await withThrowingTaskGroup(of: (Int, [Event]).self) { group in
                for n in 0..<200 {
                    let w = Commands(workspace: "ws-\(n % 8)", project: "p", actor: "t")
                    group.addTask {
                        (n, try await client.enqueueAndWait(w.writeContext(instanceId: "nobody", name: "c\(n)", data: ["n": .int(Int64(n))])))
                    }
                }
                var out: [Int: [Event]] = [:]
                for try await (n, events) in group { out[n] = events }
                return out
            }
            // Every write names an unknown instance: each gets exactly its own rejection.
            #expect(results.count == 200)
            #expect(results.values.allSatisfy { $0.count == 1 && $0[0].type == .commandRejected })
            #expect(Set(results.values.map { $0[0].commandId }).count == 200)
            // An instance heartbeat is answered on the heartbeats topic.
            let beat = try await client.enqueueAndWait(c.heartbeat(instanceId: "i1"))
            #expect(beat.map(\.type) == [.instanceHeartbeat])
            try await h.stopAll()
        }
    }

    @Test func waitsEndByTimeoutOrCancellation() async throws {
        try await withTaskExecutorPreference(TestExecutor.shared) {
            let h = try WorkerHarness(partitions: 2)  // no worker: nothing answers
            let client = try h.client()
            defer { client.close() }
            let c = Commands(workspace: "acme", project: "p", actor: "t")
            await #expect(throws: AgentCoreClient.Timeout.self) {
                _ = try await client.enqueueAndWait(c.heartbeat(instanceId: "i1"), timeout: .milliseconds(500))
            }
            let task = Task(executorPreference: TestExecutor.shared) {
                try await client.enqueueAndWait(c.heartbeat(instanceId: "i2"), timeout: .seconds(60))
            }
            try await Task.sleep(for: .milliseconds(300))
            let started = Date()
            task.cancel()
            await #expect(throws: CancellationError.self) { _ = try await task.value }
            #expect(Date().timeIntervalSince(started) < 5)
        }
    }

    /// `EventStream.service`: events to a handler in order until a graceful shutdown, the
    /// group's offsets committed, so a stream of the same group resumes after them.
    @Test func eventStreamAsAServiceCommitsAndStopsOnGracefulShutdown() async throws {
        try await withTaskExecutorPreference(TestExecutor.shared) {
            let h = try WorkerHarness(partitions: 2)
            h.startWorker("w1")
            let client = try h.client()
            defer { client.close() }
            let c = Commands(workspace: "acme", project: "p", actor: "t")
            _ = try await client.enqueueAndWait(c.registerDefinition(slug: "d", name: "D", agentType: "t"))
            _ = try await client.enqueueAndWait(c.spawn(definition: "d", name: "i", instanceId: "i1"))
            let group = "svc-\(UUID().uuidString)"
            let seen = Locked<[EventType]>([])
            // The mock broker lets a departed member's partitions go only after its session
            // timeout: a short one keeps the second stream's join quick.
            let quick: @Sendable (inout ConsumerOptions) -> Void = {
                $0.sessionTimeout = .seconds(6)
                $0.heartbeatInterval = .milliseconds(500)
            }
            let stream = try EventStream(config: h.kafka, topics: [h.topics.status], groupId: group, consumerOptions: quick)
            let service = stream.service(commitEvery: 1) { e in seen.withLock { $0.append(e.event.type) } }
            let services = ServiceGroup(configuration: .init(services: [service], logger: Logger(label: "test.events")))
            let run = Task(executorPreference: TestExecutor.shared) { try await services.run() }
            #expect(await eventually(seconds: 60) { seen.withLock { $0 } == [.definitionRegistered, .instanceSpawned] })
            await services.triggerGracefulShutdown()
            try await run.value

            // The same group resumes after what was handled: only the new events.
            _ = try await client.enqueueAndWait(c.transition(instanceId: "i1", to: .active))
            let again = try EventStream(config: h.kafka, topics: [h.topics.status], groupId: group, consumerOptions: quick)
            var types: [EventType] = []
            #expect(
                await eventually(seconds: 60) {
                    types += again.poll().map(\.event.type)
                    return types.count >= 2
                }
            )
            #expect(types == [.instanceStatusChanged, .instanceStatusChanged])  // idle → initializing → active
            try await h.stopAll()
        }
    }

    @Test func eventStreamAsAnAsyncSequence() async throws {
        try await withTaskExecutorPreference(TestExecutor.shared) {
            let h = try WorkerHarness(partitions: 2)
            h.startWorker("w1")
            let client = try h.client()
            defer { client.close() }
            let c = Commands(workspace: "acme", project: "p", actor: "t")
            _ = try await client.enqueueAndWait(c.registerDefinition(slug: "d", name: "D", agentType: "t"))
            _ = try await client.enqueueAndWait(c.spawn(definition: "d", name: "i", instanceId: "i1"))
            let stream = try h.reader([h.topics.status])
            var types: [EventType] = []
            for await received in stream.events() {
                types.append(received.event.type)
                if types.count == 2 { break }
            }
            #expect(types == [.definitionRegistered, .instanceSpawned])
            try await h.stopAll()
        }
    }
}

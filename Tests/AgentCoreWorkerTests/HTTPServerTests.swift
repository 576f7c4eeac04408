import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import Testing

@testable import AgentCoreHTTP
@testable import AgentCoreWorker

/// The HTTP server on the embedded cluster with two workers, each with its own data
/// directory and server: every endpoint, reads routed to the partition's owner, isolation,
/// the token, metrics and the live feed (issue 13).
@Suite(.serialized) struct HTTPServerTests {
    /// A worker and its running HTTP server.
    struct Node {
        let worker: Worker
        let server: AgentCoreHTTPServer
        let group: ServiceGroup
        let task: Task<Void, any Error>
        var base: String { "http://127.0.0.1:\(server.port ?? 0)" }
    }

    static func startNode(_ h: WorkerHarness, _ id: String, token: String? = nil) throws -> Node {
        let registry = PrometheusCollectorRegistry()
        let w = h.startWorker(id, metrics: PrometheusMetricsFactory(registry: registry)) { c in
            c.dataDirectory = (h.dataDir as NSString).appendingPathComponent(id)
        }
        var options = HTTPOptions()
        options.port = 0
        options.token = token
        var logger = Logger(label: "test.http.\(id)")
        logger.logLevel = .warning
        let server = AgentCoreHTTPServer(worker: w, bootstrap: h.cluster.bootstrapServers, options: options, registry: registry, logger: logger)
        let group = ServiceGroup(services: [server], logger: logger)
        let task = Task(executorPreference: TestExecutor.shared) { try await group.run() }
        return Node(worker: w, server: server, group: group, task: task)
    }

    static func get(_ node: Node, _ path: String, token: String? = nil) async throws -> (status: Int, headers: [String: String], body: JSONValue) {
        let (status, headers, data) = try await HTTPForwarder.get(
            base: node.base,
            path: path,
            authorization: token.map { "Bearer \($0)" },
            forwarded: false
        )
        return (status, headers, (try? JSONParser.parse(data)) ?? .string(String(decoding: data, as: UTF8.self)))
    }

    static func text(_ node: Node, _ path: String) async throws -> String {
        let (_, _, data) = try await HTTPForwarder.get(base: node.base, path: path, authorization: nil, forwarded: false)
        return String(decoding: data, as: UTF8.self)
    }

    /// Polls until `check` holds (the cluster settles: group join, restores, heartbeats).
    static func until(seconds: Double = 60, _ check: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await check() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return try await check()
    }

    @Test func readsAreRoutedToTheOwnerAndEveryEndpointAnswers() async throws {
        try await withTaskExecutorPreference(TestExecutor.shared) {
            let h = try WorkerHarness(partitions: 4)
            let a = try Self.startNode(h, "http-a")
            let b = try Self.startNode(h, "http-b")
            defer { Task { [a, b] in for n in [a, b] { await n.group.triggerGracefulShutdown() } } }
            #expect(try await Self.until { a.server.port != nil && b.server.port != nil })

            // Workspaces on all four partitions, so each worker owns some of them.
            let workspaces = (0..<12).map { "ws-\($0)" }
            let client = try h.client()
            defer { client.close() }
            _ = try await client.enqueueAndWait(
                Commands(workspace: "ws-0", project: "p", actor: "t").registerDefinition(slug: "d", name: "D", agentType: "t")
            )
            for ws in workspaces {
                let c = Commands(workspace: ws, project: "p", actor: "t")
                _ = try await client.enqueueAndWait(c.spawn(definition: "d", name: "i", instanceId: "i1"))
            }
            let c = Commands(workspace: "ws-1", project: "p", actor: "t")
            for v in 1...3 {
                _ = try await client.enqueueAndWait(
                    c.writeContext(instanceId: "i1", name: "plan", data: ["step": .int(Int64(v)), "list": .array([1, 2, .int(Int64(v))])])
                )
            }
            _ = try await client.enqueueAndWait(c.rollbackContext(instanceId: "i1", name: "plan", targetVersion: 1))

            // Both workers ready, each knows the other from its heartbeats.
            #expect(
                try await Self.until {
                    let ra = try await Self.get(a, "/readyz").status
                    let rb = try await Self.get(b, "/readyz").status
                    return ra == 200 && rb == 200
                }
            )
            #expect(
                try await Self.until {
                    let workers = try await Self.get(a, "/v1/cluster").body["workers"]?.arrayValue ?? []
                    return workers.count == 2 && workers.allSatisfy { $0["http_url"]?.stringValue != nil }
                }
            )
            #expect(try await Self.get(a, "/healthz").body["status"] == "ok")

            // Every workspace read through either worker, answered by the owner.
            var owners: Set<String> = []
            for ws in workspaces {
                for node in [a, b] {
                    let r = try await Self.get(node, "/v1/workspaces/\(ws)/projects/p/instances")
                    #expect(r.status == 200, "\(ws) via \(node.worker.configuration.workerId): \(r.body)")
                    #expect(r.body["instances"]?.arrayValue?.map { $0["id"]?.stringValue } == ["i1"])
                    let p = Murmur2.partition(forKey: ws, partitionCount: 4)
                    #expect(r.headers["x-agentcore-partition"] == String(p))
                    if let owner = r.headers["x-agentcore-worker"] { owners.insert(owner) }
                }
            }
            #expect(owners == ["http-a", "http-b"], "reads were answered by \(owners)")

            // The cluster-wide workspace list has all of them, from both workers' stores.
            let list = try await Self.get(a, "/v1/workspaces").body
            #expect(list["partial"] == false)
            #expect(Set(list["workspaces"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []) == Set(workspaces))
            #expect(try await Self.get(b, "/v1/definitions").body["definitions"]?.arrayValue?.first?["slug"] == "d")

            // One instance, its contexts, versions (paged), a version, the diff.
            let base = "/v1/workspaces/ws-1/projects/p/instances/i1"
            #expect(try await Self.get(b, base).body["status"] == "idle")
            let contexts = try await Self.get(a, base + "/contexts").body["contexts"]?.arrayValue ?? []
            #expect(contexts.count == 1)
            #expect(contexts.first?["current_version"] == 4)
            #expect(contexts.first?["rollback_pointer"] == 1)
            let page1 = try await Self.get(b, base + "/contexts/plan/versions?limit=3").body
            #expect(page1["versions"]?.arrayValue?.map { $0["version"] } == [4, 3, 2])
            #expect(page1["next_before"] == 2)
            let page2 = try await Self.get(a, base + "/contexts/plan/versions?limit=3&before=2").body
            #expect(page2["versions"]?.arrayValue?.map { $0["version"] } == [1])
            #expect(page2["next_before"] == .null)
            let v2 = try await Self.get(a, base + "/contexts/plan?version=2").body
            #expect(v2["version"]?["data"] == ["step": 2, "list": [1, 2, 2]])
            let current = try await Self.get(b, base + "/contexts/plan").body
            #expect(current["version"]?["mode"] == "rollback")
            let diff = try await Self.get(a, base + "/contexts/plan/diff?from=3&to=2").body
            let ops = try (diff["patch"]?.arrayValue ?? []).map { j -> JSONPatch.Operation in
                guard let op = j["op"]?.stringValue.flatMap(JSONPatch.Operation.Kind.init(rawValue:)), let path = j["path"]?.stringValue else {
                    throw JSONPatch.ApplyError(description: "bad op \(j)")
                }
                return JSONPatch.Operation(op: op, path: path, value: j["value"])
            }
            #expect(ops.count == 2)
            #expect(try JSONPatch.apply(ops, to: ["step": 3, "list": [1, 2, 3]]) == ["step": 2, "list": [1, 2, 2]])

            // Errors: unknown objects, another workspace's instance, pruned versions, bad input.
            #expect(try await Self.get(a, "/v1/workspaces/ws-1/projects/p/instances/nope").status == 404)
            let other = try await Self.get(b, "/v1/workspaces/ws-2/projects/p/instances/i1/contexts/plan")
            #expect(other.status == 404)  // ws-2 has an i1 too, but no context "plan": ws-1's is never shown
            #expect(other.body["error"]?["code"] == "not_found")
            #expect(try await Self.get(a, base + "/contexts/plan?version=9").body["error"]?["code"] == "version_not_retained")
            #expect(try await Self.get(a, base + "/contexts/plan/diff?from=1").status == 400)
            #expect(try await Self.get(a, base + "/contexts/plan?version=9223372036854775807").status == 400)  // no overflow
            #expect(
                try await Self.get(a, base + "/contexts/plan/diff?from=9223372036854775806&to=1").body["error"]?["code"] == "version_not_retained"
            )
            #expect(try await Self.get(a, base + "/contexts/plan/versions?before=0").status == 400)
            #expect(try await Self.get(a, "/v1/workspaces/ws-1/projects/p/instances?limit=0").status == 400)
            #expect(try await Self.get(a, "/v1/nothing").body["error"]?["code"] == "not_found")

            // Metrics: the documented names, with what this load did.
            let metrics = try await Self.text(a, "/metrics") + Self.text(b, "/metrics")
            for name in [
                "agentcore_records_applied_total{", "agentcore_batch_apply_seconds_bucket{", "agentcore_publish_round_seconds_bucket",
                "agentcore_events_published_total", "agentcore_rebalances_total{", "agentcore_partitions{", "agentcore_outbox_depth{",
                "agentcore_consumer_lag{", "agentcore_store_bytes{", "agentcore_loop_last_progress_seconds", "agentcore_consumer_paused",
                "agentcore_changelog_records_total{", "agentcore_changelog_bytes_total{",
            ] {
                #expect(metrics.contains(name), "missing \(name)")
            }
            #expect(metrics.contains(#"type="context.write""#))

            // The console's files.
            let index = try await Self.text(a, "/")
            let app = try await Self.text(a, "/console/app.js")
            #expect(index.contains("/console/app.js"))
            #expect(!app.isEmpty)

            for n in [a, b] { await n.group.triggerGracefulShutdown() }
            for n in [a, b] { try await n.task.value }
            try await h.stopAll()
        }
    }

    @Test func tokenGuardsTheAPIAndTheFeedFollowsAWorkspace() async throws {
        try await withTaskExecutorPreference(TestExecutor.shared) {
            let h = try WorkerHarness(partitions: 2)
            let a = try Self.startNode(h, "http-t", token: "s3cret")
            #expect(try await Self.until { a.server.port != nil })
            let client = try h.client()
            defer { client.close() }
            let c = Commands(workspace: "acme", project: "p", actor: "t")
            _ = try await client.enqueueAndWait(c.registerDefinition(slug: "d", name: "D", agentType: "t"))
            _ = try await client.enqueueAndWait(c.spawn(definition: "d", name: "i", instanceId: "i1"))

            #expect(try await Self.get(a, "/v1/workspaces/acme/projects/p/instances").status == 401)
            #expect(try await Self.get(a, "/v1/workspaces/acme/projects/p/instances", token: "wrong").status == 401)
            #expect(try await Self.get(a, "/v1/workspaces/acme/projects/p/instances", token: "s3cret").status == 200)
            #expect(try await Self.get(a, "//v1/workspaces/acme/projects/p/instances").status == 401)  // no other spelling gets through
            #expect(try await Self.get(a, "/v1//workspaces").status == 401)
            #expect(try await Self.get(a, "/healthz").status == 200)  // probes stay open
            #expect(try await Self.get(a, "/metrics").status == 200)

            // The live feed: only acme's events, from when the stream opened.
            let feed = try StreamReader(port: a.server.port!, path: "/v1/events?workspace=acme&access_token=s3cret")
            defer { feed.close() }
            #expect(try await Self.until(seconds: 20) { feed.text.contains(": following acme") })
            try await Task.sleep(for: .seconds(1))  // the observer assigns the status topic at its end
            let other = Commands(workspace: "globex", project: "p", actor: "t")
            _ = try await client.enqueueAndWait(other.spawn(definition: "d", name: "g", instanceId: "g1"))
            _ = try await client.enqueueAndWait(c.writeContext(instanceId: "i1", name: "v-feed", data: ["x": 1]))
            #expect(try await Self.until(seconds: 30) { feed.text.contains("\"v-feed\"") })
            let text = feed.text
            #expect(text.contains("event: context.version_created"))
            #expect(!text.contains("globex"))

            await a.group.triggerGracefulShutdown()
            try await a.task.value
            try await h.stopAll()
        }
    }
}

/// Reads a streaming HTTP response (the SSE feed) over a plain socket on a thread of its
/// own, collecting the text until closed.
final class StreamReader: @unchecked Sendable {
    private let fd: Int32
    private let collected = Locked<String>("")
    var text: String { collected.get }

    init(port: Int, path: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw POSIXError(.ECONNREFUSED) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        let thread = Thread { [fd, collected] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return }
                collected.withLock { $0 += String(decoding: buffer[0..<n], as: UTF8.self) }
            }
        }
        thread.start()
    }

    func close() { shutdown(fd, Int32(SHUT_RDWR)) }
}

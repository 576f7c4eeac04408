import AgentCoreKafka
import AgentCoreModel
import AgentCoreStore
import AgentCoreWorker
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// Where and how the worker serves HTTP.
public struct HTTPOptions: Sendable {
    public var host = "127.0.0.1"
    /// 0: any free port (`AgentCoreHTTPServer.port` tells which, once running).
    public var port = 8080
    /// When set, `/v1/*` requires `Authorization: Bearer <token>` (or, for the event
    /// stream, `?access_token=`).
    public var token: String?
    /// How long the loop may go without finishing a step before `/healthz` fails.
    public var stallSeconds: Double = 60

    public init() {}

    /// Parses `host:port` (`[v6]:port` for IPv6).
    public init(address: String) throws {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (0...65_535).contains(port)
        else { throw HTTPOptionsError(description: "HTTP address '\(address)' is not host:port") }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw HTTPOptionsError(description: "HTTP address '\(address)' has no host") }
        self.host = host
        self.port = port
    }
}

public struct HTTPOptionsError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The worker's HTTP server: metrics, health, the read API (routed to the partition's
/// owner) and the web console. A swift-service-lifecycle `Service` to run beside the
/// worker in one `ServiceGroup`; it never runs on the worker loop's thread, and store
/// reads use read-only connections of their own (SQLite WAL readers never block the
/// writer).
public final class AgentCoreHTTPServer: Service, Sendable {
    let worker: Worker
    let options: HTTPOptions
    public let registry: PrometheusCollectorRegistry
    let observer: ClusterObserver
    let logger: Logger
    private let boundPort = Mutex<Int?>(nil)
    private let startedAt = Date()

    /// - Parameters:
    ///   - registry: the registry the worker's metrics go to (give the worker
    ///     `PrometheusMetricsFactory(registry: registry)`).
    public init(worker: Worker, bootstrap: String, options: HTTPOptions, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.worker = worker
        self.options = options
        self.registry = registry
        self.logger = logger
        let c = worker.configuration
        var kafka = c.kafkaConfig(bootstrap: bootstrap)
        kafka.clientId = "agentcore-\(c.workerId)-http"
        observer = ClusterObserver(
            kafka: kafka,
            heartbeatsTopic: c.topics.heartbeats,
            statusTopic: c.topics.output(.status),
            heartbeatIntervalMs: c.heartbeatIntervalMs,
            logger: logger
        )
    }

    /// The port the server listens on, once it does.
    public var port: Int? { boundPort.withLock { $0 } }

    public func run() async throws {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AuthMiddleware(token: options.token))
        addRoutes(router)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: nil),
            onServerRunning: { [self] channel in
                let port = channel.localAddress?.port
                boundPort.withLock { $0 = port }
                // No URL given to advertise: the one bound (the host name for 0.0.0.0).
                if let port, worker.advertisedHTTPURL == nil {
                    let host = ["0.0.0.0", "::"].contains(options.host) ? ProcessInfo.processInfo.hostName : options.host
                    worker.advertisedHTTPURL = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
                }
                logger.info("HTTP on http://\(options.host):\(port ?? options.port) (console at /, metrics at /metrics)")
            },
            logger: logger
        )
        observer.start()
        defer { observer.stop() }
        try await withGracefulShutdownHandler {
            try await app.run()
        } onGracefulShutdown: { [observer] in
            observer.stop()  // ends the live feeds, which would hold the server open
        }
    }

    // MARK: routes

    private func addRoutes(_ router: Router<BasicRequestContext>) {
        router.get("/healthz") { [self] _, _ in health() }
        router.get("/readyz") { [self] _, _ in readiness() }
        router.get("/metrics") { [self] _, _ in metrics() }
        router.get("/") { _, _ in Self.asset(PackageResources.index_html, "text/html; charset=utf-8") }
        router.get("/console/app.js") { _, _ in Self.asset(PackageResources.app_js, "text/javascript; charset=utf-8") }
        router.get("/console/style.css") { _, _ in Self.asset(PackageResources.style_css, "text/css; charset=utf-8") }
        router.get("/v1/cluster") { [self] _, _ in cluster() }
        router.get("/v1/definitions") { [self] request, _ in try await definitions(request) }
        router.get("/v1/workspaces") { [self] request, _ in try await workspaces(request) }
        router.get("/v1/events") { [self] request, _ in try events(request) }
        let ws = "/v1/workspaces/:ws/projects/:project/instances"
        router.get(RouterPath(ws)) { [self] request, context in
            let (w, p) = try Self.scope(context)
            let q = request.uri.queryParameters
            let limit = try Self.intParameter(q, "limit", default: 50, range: 1...500)
            let status = try q.get("status").map { s -> InstanceStatus in
                guard let st = InstanceStatus(rawValue: s) else {
                    throw APIError(
                        .badRequest,
                        "bad_request",
                        "status must be one of \(InstanceStatus.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                return st
            }
            let after = q.get("after")
            return try await read(w, request) { r in
                let page = try r.instances(workspace: w, project: p, status: status, after: after, limit: limit + 1)
                let items = Array(page.prefix(limit))
                return .object([
                    "instances": .array(items.map(APIJSON.instance)),
                    "next_after": page.count > limit ? .string(items.last!.id) : .null,
                ])
            }
        }
        router.get(RouterPath("\(ws)/:id")) { [self] request, context in
            let (w, p) = try Self.scope(context)
            let id = try Self.parameter(context, "id")
            return try await read(w, request) { r in
                guard let i = try r.instance(workspace: w, project: p, id: id) else {
                    throw APIError(.notFound, "not_found", "no instance \(id) in \(w)/\(p)")
                }
                return APIJSON.instance(i)
            }
        }
        router.get(RouterPath("\(ws)/:id/contexts")) { [self] request, context in
            let (w, p) = try Self.scope(context)
            let id = try Self.parameter(context, "id")
            return try await read(w, request) { r in
                guard try r.instance(workspace: w, project: p, id: id) != nil else {
                    throw APIError(.notFound, "not_found", "no instance \(id) in \(w)/\(p)")
                }
                return .object(["contexts": .array(try r.contexts(workspace: w, project: p, instanceId: id).map(APIJSON.context))])
            }
        }
        router.get(RouterPath("\(ws)/:id/contexts/:name")) { [self] request, context in
            let (w, p) = try Self.scope(context)
            let id = try Self.parameter(context, "id")
            let name = try Self.parameter(context, "name")
            let version = try Self.optionalInt(request.uri.queryParameters, "version")
            return try await read(w, request) { r in
                let c = try Self.context(r, w, p, id, name)
                guard let v = try r.read(workspace: w, project: p, instanceId: id, name: name, version: version) else {
                    throw APIError(
                        .notFound,
                        "version_not_retained",
                        "version \(version ?? c.currentVersion) of \(name) is not retained (oldest kept: \(c.oldestVersion))"
                    )
                }
                return .object(["context": APIJSON.context(c), "version": APIJSON.version(v)])
            }
        }
        router.get(RouterPath("\(ws)/:id/contexts/:name/versions")) { [self] request, context in
            let (w, p) = try Self.scope(context)
            let id = try Self.parameter(context, "id")
            let name = try Self.parameter(context, "name")
            let q = request.uri.queryParameters
            let limit = try Self.intParameter(q, "limit", default: 20, range: 1...200)
            let before = try Self.optionalInt(q, "before")
            return try await read(w, request) { r in
                _ = try Self.context(r, w, p, id, name)
                let page = try r.versions(workspace: w, project: p, instanceId: id, name: name, before: before, limit: limit + 1)
                let items = Array(page.prefix(limit))
                return .object([
                    "versions": .array(items.map(APIJSON.version)),
                    "next_before": page.count > limit ? .int(items.last!.version) : .null,
                ])
            }
        }
        router.get(RouterPath("\(ws)/:id/contexts/:name/diff")) { [self] request, context in
            let (w, p) = try Self.scope(context)
            let id = try Self.parameter(context, "id")
            let name = try Self.parameter(context, "name")
            let q = request.uri.queryParameters
            guard let from = try Self.optionalInt(q, "from"), let to = try Self.optionalInt(q, "to") else {
                throw APIError(.badRequest, "bad_request", "from and to (version numbers) are required")
            }
            return try await read(w, request) { r in
                _ = try Self.context(r, w, p, id, name)
                var docs: [JSONValue] = []
                for v in [from, to] {
                    guard let version = try r.read(workspace: w, project: p, instanceId: id, name: name, version: v) else {
                        throw APIError(.notFound, "version_not_retained", "version \(v) of \(name) is not retained")
                    }
                    docs.append(version.data)
                }
                let patch = JSONPatch.diff(from: docs[0], to: docs[1])
                return .object(["from": .int(from), "to": .int(to), "patch": .array(patch.map(\.json))])
            }
        }
    }

    // MARK: health and metrics

    func health() -> Response {
        guard let idle = worker.secondsSinceProgress else {
            return Self.json(.ok, ["status": "starting"])
        }
        let ms = JSONValue.int(Int64(idle * 1000))
        if idle > options.stallSeconds { return Self.json(.serviceUnavailable, ["status": "stalled", "last_loop_ms_ago": ms]) }
        return Self.json(.ok, ["status": "ok", "last_loop_ms_ago": ms])
    }

    func readiness() -> Response {
        let s = worker.status
        var reasons: [String] = []
        if worker.isStopping { reasons.append("shutting down") }
        if !s.joinedGroup { reasons.append("not in the consumer group yet") }
        for (p, state) in s.states.sorted(by: { $0.key < $1.key }) where state != .active {
            reasons.append("partition \(p) \(state.rawValue)")
        }
        if s.paused { reasons.append("consumption paused: outbox over its limit") }
        let counts = Dictionary(grouping: s.states.values, by: \.rawValue).mapValues { JSONValue.int(Int64($0.count)) }
        let partitions = JSONValue.object(
            ["active": counts["active"] ?? 0, "restoring": counts["restoring"] ?? 0, "failed": counts["failed"] ?? 0])
        if reasons.isEmpty { return Self.json(.ok, ["ready": true, "partitions": partitions]) }
        return Self.json(.serviceUnavailable, ["ready": false, "reasons": .array(reasons.map(JSONValue.string)), "partitions": partitions])
    }

    func metrics() -> Response {
        registry.makeGauge(name: "agentcore_loop_last_progress_seconds").set(worker.secondsSinceProgress ?? 0)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }

    // MARK: cluster-wide reads

    func cluster() -> Response {
        let me = worker.status
        let config = worker.configuration
        let selfEntry = ClusterObserver.WorkerInfo(
            workerId: config.workerId,
            httpURL: worker.advertisedHTTPURL,
            partitions: me.states.mapValues(\.rawValue),
            partitionCount: me.partitionCount,
            atMillis: Int64(Date().timeIntervalSince1970 * 1000)
        )
        let others = observer.liveWorkers().filter { $0.workerId != config.workerId }
        let all = ([selfEntry] + others).sorted { $0.workerId < $1.workerId }
        return Self.json(
            .ok,
            [
                "self": .string(config.workerId), "partition_count": .int(Int64(me.partitionCount)),
                "workers": .array(
                    all.map { w in
                        .object([
                            "worker_id": .string(w.workerId), "http_url": w.httpURL.map(JSONValue.string) ?? .null,
                            "last_seen": .string(Timestamp.iso8601(millis: w.atMillis)),
                            "partitions": .array(
                                w.partitions.keys.sorted().map { p in
                                    .object(["partition": .int(Int64(p)), "state": .string(w.partitions[p]!)])
                                }
                            ),
                        ])
                    }
                ),
            ]
        )
    }

    /// Definitions are in every store: any active partition here answers; else the owner
    /// of one does.
    func definitions(_ request: Request) async throws -> Response {
        let s = worker.status
        if let p = s.states.filter({ $0.value == .active }).keys.min() {
            let body = try await readStore(p) { r in
                JSONValue.object(["definitions": .array(try r.definitions().map(APIJSON.definition))])
            }
            return Self.json(.ok, body)
        }
        if request.headers[Self.forwardedHeader] == nil,
            let url = observer.liveWorkers().first(where: { $0.workerId != worker.configuration.workerId && $0.partitions.values.contains("active") }
            )?.httpURL
        {
            return try await forward(request, to: url)
        }
        throw APIError.unavailable("no active partition to read the definitions from yet", retryAfter: 2)
    }

    /// Every workspace of the cluster: this worker's partitions read here, the others
    /// asked of their owners (`scope=local`). `partial` when some partition went unread.
    func workspaces(_ request: Request) async throws -> Response {
        let s = worker.status
        let local = s.states.filter { $0.value == .active }.keys.sorted()
        var found: [(String, Int32, [String])] = []
        var read = Set<Int32>()
        for p in local {
            let rows = try await readStore(p) { try $0.workspaces() }
            found += rows.map { ($0.id, p, $0.projects) }
            read.insert(p)
        }
        if request.uri.queryParameters.get("scope") != "local" {
            let me = worker.configuration.workerId
            for w in observer.liveWorkers() where w.workerId != me && w.httpURL != nil {
                guard w.partitions.contains(where: { $0.value == "active" && !read.contains($0.key) }) else { continue }
                do {
                    let (status, body) = try await fetch(request, to: w.httpURL!, path: "/v1/workspaces?scope=local")
                    guard status == 200, let list = body["workspaces"]?.arrayValue else { continue }
                    // Only partitions the peer says it read and nobody answered for yet.
                    let theirs = Set((body["partitions_read"]?.arrayValue ?? []).compactMap { $0.intValue.flatMap(Int32.init(exactly:)) })
                        .subtracting(read)
                    for item in list {
                        guard let id = item["id"]?.stringValue, let p = item["partition"]?.intValue.flatMap(Int32.init(exactly:)),
                            theirs.contains(p)
                        else { continue }
                        found.append((id, p, item["projects"]?.arrayValue?.compactMap(\.stringValue) ?? []))
                    }
                    read.formUnion(theirs)
                } catch {
                    logger.debug("workspaces from \(w.workerId): \(error)")
                }
            }
        }
        found.sort { $0.0 < $1.0 }
        return Self.json(
            .ok,
            [
                "workspaces": .array(
                    found.map { .object(["id": .string($0.0), "partition": .int(Int64($0.1)), "projects": .array($0.2.map(JSONValue.string))]) }
                ),
                "partial": .bool(read.count < s.partitionCount),
                "partitions_read": .array(read.sorted().map { .int(Int64($0)) }),
            ]
        )
    }

    func events(_ request: Request) throws -> Response {
        guard let ws = request.uri.queryParameters.get("workspace"), !ws.isEmpty else {
            throw APIError(.badRequest, "bad_request", "workspace is required")
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody { [observer] writer in
                // Subscribed only once the body is written: a client gone before that
                // leaves nothing behind; the stream's end (client gone, server stopping)
                // unsubscribes.
                let stream = observer.subscribe(workspace: ws)
                try await writer.write(ByteBuffer(string: ": following \(ws)\n\n"))
                for await message in stream { try await writer.write(ByteBuffer(bytes: message)) }
                try await writer.finish(nil)
            }
        )
    }

    // MARK: routing to the owner

    static let forwardedHeader = HTTPField.Name("X-Agentcore-Forwarded")!
    static let workerHeader = HTTPField.Name("X-Agentcore-Worker")!
    static let partitionHeader = HTTPField.Name("X-Agentcore-Partition")!

    /// Answers a read of workspace `ws`: from this worker's store when it owns the
    /// partition, else from the owner.
    func read(_ ws: String, _ request: Request, _ body: @escaping @Sendable (StoreReader) throws -> JSONValue) async throws -> Response {
        let s = worker.status
        let me = worker.configuration.workerId
        let route = ReadRoute.decide(
            workspace: ws,
            partitionCount: s.partitionCount,
            states: s.states,
            forwarded: request.headers[Self.forwardedHeader] != nil
        ) { [observer] p in observer.owner(of: p, excluding: me)?.httpURL }
        switch route {
        case .local(let p):
            let value = try await readStore(p, body)
            var response = Self.json(.ok, value)
            response.headers[Self.workerHeader] = me
            response.headers[Self.partitionHeader] = String(p)
            return response
        case .forward(_, let url):
            return try await forward(request, to: url)
        case .unavailable(let p, let reason, let retryAfter):
            throw APIError.unavailable(reason, retryAfter: retryAfter, partition: p)
        }
    }

    private func fetch(_ request: Request, to url: String, path: String) async throws -> (Int, JSONValue) {
        let (status, _, data) = try await HTTPForwarder.get(base: url, path: path, authorization: request.headers[.authorization])
        return (status, (try? JSONParser.parse(data)) ?? .null)
    }

    private func forward(_ request: Request, to url: String) async throws -> Response {
        let (status, headers, data): (Int, [String: String], [UInt8])
        do {
            (status, headers, data) = try await HTTPForwarder.get(
                base: url,
                path: request.uri.description,
                authorization: request.headers[.authorization]
            )
        } catch {
            throw APIError.unavailable("the owner at \(url) did not answer: \(error)", retryAfter: 2)
        }
        var fields = HTTPFields()
        fields[.contentType] = headers["content-type"] ?? "application/json"
        for (name, value) in headers {
            guard let n = HTTPField.Name(name) else { continue }
            if n == Self.workerHeader || n == Self.partitionHeader || n == .retryAfter { fields[n] = value }
        }
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: helpers

    /// Reads partition `p`'s store through a read-only connection of its own, on a
    /// Dispatch thread: never on the worker's loop, NIO's event loops or the cooperative pool.
    func readStore<T: Sendable>(_ p: Int32, _ body: @escaping @Sendable (StoreReader) throws -> T) async throws -> T {
        let path = worker.storePath(partition: p)
        return try await withCheckedThrowingContinuation { c in
            DispatchQueue.global().async {
                c.resume(
                    with: Result {
                        let r: StoreReader
                        do { r = try StoreReader(path: path) } catch let e as StoreError where e.code == "not_a_store" {
                            throw APIError.unavailable("the partition's store is not there yet", retryAfter: 2)
                        }
                        defer { r.close() }
                        return try body(r)
                    }
                )
            }
        }
    }

    static func context(_ r: StoreReader, _ w: String, _ p: String, _ id: String, _ name: String) throws -> ContextInfo {
        guard let c = try r.context(workspace: w, project: p, instanceId: id, name: name) else {
            throw APIError(.notFound, "not_found", "no context \(name) of instance \(id) in \(w)/\(p)")
        }
        return c
    }

    static func scope(_ context: BasicRequestContext) throws -> (String, String) {
        (try parameter(context, "ws"), try parameter(context, "project"))
    }

    static func parameter(_ context: BasicRequestContext, _ name: String) throws -> String {
        guard let raw = context.parameters.get(name) else { throw APIError(.badRequest, "bad_request", "missing \(name)") }
        return raw.removingPercentEncoding ?? raw
    }

    /// A version number: a positive integer.
    static func optionalInt(_ q: Hummingbird.Parameters, _ name: String) throws -> Int64? {
        guard let s = q.get(name) else { return nil }
        guard let v = Int64(s), v >= 1, v < Int64.max else {
            throw APIError(.badRequest, "bad_request", "\(name) must be a positive integer")
        }
        return v
    }

    static func intParameter(_ q: Hummingbird.Parameters, _ name: String, default d: Int, range: ClosedRange<Int>) throws -> Int {
        guard let s = q.get(name) else { return d }
        guard let v = Int(s), range.contains(v) else {
            throw APIError(.badRequest, "bad_request", "\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: value.canonicalBytes)))
    }

    static func asset(_ bytes: [UInt8], _ type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

import AgentCoreModel
import HTTPTypes
import Hummingbird

/// An error answer: the status and `{"error": {"code", "message"}}` (docs/http-api.md).
struct APIError: Error, Sendable {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    /// Seconds for `Retry-After` (503 answers).
    var retryAfter: Int?
    var partition: Int32?

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfter: Int? = nil, partition: Int32? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
        self.partition = partition
    }

    static func unavailable(_ message: String, retryAfter: Int, partition: Int32? = nil) -> APIError {
        APIError(.serviceUnavailable, "partition_unavailable", message, retryAfter: retryAfter, partition: partition)
    }

    var response: Response {
        var r = AgentCoreHTTPServer.json(status, ["error": ["code": .string(code), "message": .string(message)]])
        if let retryAfter { r.headers[.retryAfter] = String(retryAfter) }
        if let partition { r.headers[AgentCoreHTTPServer.partitionHeader] = String(partition) }
        return r
    }
}

/// Every failure as the documented error JSON: ours, the router's (an unknown route is a
/// `not_found`), and anything unexpected (`internal`, logged).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as APIError {
            return e.response
        } catch let e as HTTPError {
            let code = e.status == .notFound ? "not_found" : e.status.code < 500 ? "bad_request" : "internal"
            let message = e.status == .notFound ? "no such endpoint: \(request.method) \(request.uri.path)" : (e.body ?? e.status.reasonPhrase)
            return APIError(e.status, code, message).response
        } catch {
            context.logger.error("\(request.method) \(request.uri): \(error)")
            return APIError(.internalServerError, "internal", "\(error)").response
        }
    }
}

/// Paths served without the token, matched exactly.
let openPaths: Set<String> = ["/healthz", "/readyz", "/metrics", "/", "/console/app.js", "/console/style.css"]

/// The optional bearer token on everything but a short open list, matched exactly: probes,
/// metrics and the console's files (the console asks for the token when the API answers
/// 401). Denying by default keeps spellings the router also accepts (`//v1/...`) closed.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token, !openPaths.contains(request.uri.path) else { return try await next(request, context) }
        var given: String?
        if let h = request.headers[.authorization], h.hasPrefix("Bearer ") { given = String(h.dropFirst(7)) }
        // EventSource cannot set headers: the feed also takes the token as a query parameter.
        if given == nil, request.uri.path.split(separator: "/") == ["v1", "events"] {
            given = request.uri.queryParameters.get("access_token")
        }
        guard let given, Self.equal(Array(given.utf8), Array(token.utf8)) else {
            var r = APIError(.unauthorized, "unauthorized", "this API needs Authorization: Bearer <token> (--http-token)").response
            r.headers[.wwwAuthenticate] = "Bearer"
            return r
        }
        return try await next(request, context)
    }

    /// Compares in time independent of where the first difference is.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) { diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
        return diff == 0
    }
}

import AsyncHTTPClient
import NIOCore

/// One GET to an agentcore worker's HTTP API (a read forwarded to a partition's owner, an
/// agent host's context read), over AsyncHTTPClient's shared client: no client of its own
/// to start or shut down, connections kept between requests, and `https` URLs as well as
/// `http` ones. (Foundation's URLSession on Linux loads libcurl and its TLS, Kerberos and
/// LDAP libraries into every process that links it, about 4 MiB of resident memory in a
/// worker that never makes a request.)
public enum HTTPGet {
    /// The largest body read; a larger answer is an error.
    public static let maxBodyBytes = 64 << 20

    /// A response: the status, the headers with lower-cased names (the last of a repeated
    /// name wins) and the body.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: [UInt8]
    }

    /// GETs `url` with `headers`, giving up after `timeoutSeconds` (connecting, sending and
    /// reading the whole answer).
    public static func get(_ url: String, headers: [(String, String)] = [], timeoutSeconds: Int64 = 15) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeoutSeconds))
        var fields: [String: String] = [:]
        for h in response.headers { fields[h.name.lowercased()] = h.value }
        let body = try await response.body.collect(upTo: maxBodyBytes)
        return Response(status: Int(response.status.code), headers: fields, body: Array(buffer: body))
    }
}

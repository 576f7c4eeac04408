import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// GETs from another worker's HTTP server (a read forwarded to a partition's owner).
enum HTTPForwarder {
    static let session: URLSession = {
        let c = URLSessionConfiguration.ephemeral
        c.timeoutIntervalForRequest = 10
        c.timeoutIntervalForResource = 15
        return URLSession(configuration: c)
    }()

    /// The status, lower-cased headers and body. Marks the request as forwarded so that
    /// the owner answers itself instead of forwarding again.
    static func get(base: String, path: String, authorization: String?, forwarded: Bool = true) async throws -> (Int, [String: String], [UInt8]) {
        guard let url = URL(string: base.hasSuffix("/") ? String(base.dropLast()) + path : base + path) else {
            throw URLError(.badURL)
        }
        var request = URLRequest(url: url)
        if forwarded { request.setValue("1", forHTTPHeaderField: "X-Agentcore-Forwarded") }
        if let authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw URLError(.badServerResponse) }
        var headers: [String: String] = [:]
        for (k, v) in http.allHeaderFields {
            if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v }
        }
        return (http.statusCode, headers, Array(data))
    }
}

import AgentCoreClient

/// GETs from another worker's HTTP server (a read forwarded to a partition's owner).
enum HTTPForwarder {
    /// The status, lower-cased headers and body. Marks the request as forwarded so that
    /// the owner answers itself instead of forwarding again.
    static func get(base: String, path: String, authorization: String?, forwarded: Bool = true) async throws -> (Int, [String: String], [UInt8]) {
        var headers: [(String, String)] = []
        if forwarded { headers.append(("X-Agentcore-Forwarded", "1")) }
        if let authorization { headers.append(("Authorization", authorization)) }
        let url = base.hasSuffix("/") ? String(base.dropLast()) + path : base + path
        let r = try await HTTPGet.get(url, headers: headers)
        return (r.status, r.headers, r.body)
    }
}

import CRdKafka

/// What agentcore sets on librdkafka, typed, plus a pass-through of any other property.
/// Every property is checked by librdkafka when a client is created; an invalid one fails
/// start-up with librdkafka's own message.
public struct KafkaConfig: Sendable, Equatable {
    /// Comma-separated `host:port` list.
    public var bootstrapServers: String
    public var clientId = "agentcore"
    /// `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    public var securityProtocol: String?
    /// `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER`, `GSSAPI`.
    public var saslMechanism: String?
    public var saslUsername: String?
    public var saslPassword: String?
    /// CA bundle to verify brokers with (`ssl.ca.location`).
    public var sslCALocation: String?
    public var sslCertificateLocation: String?
    public var sslKeyLocation: String?
    /// Default timeout of socket requests.
    public var socketTimeout: Duration = .seconds(30)
    /// Any other librdkafka property, e.g. `["compression.type": "lz4"]`. Applied last, so
    /// it wins over the typed fields.
    public var properties: [String: String] = [:]

    public init(bootstrapServers: String) { self.bootstrapServers = bootstrapServers }

    /// Properties as librdkafka sees them, in a deterministic order.
    public func librdkafkaProperties() -> [(String, String)] {
        var p: [(String, String)] = [
            ("bootstrap.servers", bootstrapServers), ("client.id", clientId),
            ("socket.timeout.ms", String(socketTimeout.milliseconds)),
        ]
        if let v = securityProtocol { p.append(("security.protocol", v)) }
        if let v = saslMechanism { p.append(("sasl.mechanism", v)) }
        if let v = saslUsername { p.append(("sasl.username", v)) }
        if let v = saslPassword { p.append(("sasl.password", v)) }
        if let v = sslCALocation { p.append(("ssl.ca.location", v)) }
        if let v = sslCertificateLocation { p.append(("ssl.certificate.location", v)) }
        if let v = sslKeyLocation { p.append(("ssl.key.location", v)) }
        for k in properties.keys.sorted() { p.append((k, properties[k]!)) }
        return p
    }

    /// Builds an `rd_kafka_conf_t` (caller owns it) with `extra` applied after this config.
    func makeConf(extra: [(String, String)] = [], overrides: [(String, String)] = []) throws(KafkaError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var buf = [CChar](repeating: 0, count: 512)
        // Defaults first (`extra`), then the user's config, then what a client must have (`overrides`).
        for (k, v) in extra + librdkafkaProperties() + overrides {
            if rd_kafka_conf_set(conf, k, v, &buf, buf.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let text = cString(buf)
                throw .invalidArgument("invalid Kafka property \(k)=\(k.contains("password") ? "***" : v): \(text)")
            }
        }
        return conf
    }
}

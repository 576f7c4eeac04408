/// Why bytes on an output topic are not an agentcore event.
public struct EventDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension Event {
    /// Decodes an `agentcore.event/v1` envelope, as downstream consumers read it.
    public init(bytes: [UInt8]) throws(EventDecodingError) {
        let value: JSONValue
        do { value = try JSONParser.parse(bytes) } catch { throw EventDecodingError(message: "not JSON: \(error)") }
        try self.init(json: value)
    }

    public init(json value: JSONValue) throws(EventDecodingError) {
        guard case .object(let o) = value else { throw EventDecodingError(message: "event must be an object") }
        guard o["schema"]?.stringValue == Event.schema else {
            throw EventDecodingError(message: "schema is not \(Event.schema)")
        }
        func str(_ k: String) throws(EventDecodingError) -> String {
            guard let s = o[k]?.stringValue else { throw EventDecodingError(message: "'\(k)' is missing or not a string") }
            return s
        }
        let typeText = try str("type")
        guard let type = EventType(rawValue: typeText) else { throw EventDecodingError(message: "unknown type '\(typeText)'") }
        guard let millis = Timestamp.parseMillis(try str("occurred_at")) else {
            throw EventDecodingError(message: "'occurred_at' is not an RFC 3339 UTC timestamp")
        }
        guard case .object(let payload) = o["payload"] ?? .null else {
            throw EventDecodingError(message: "'payload' must be an object")
        }
        let commandId: String?
        switch o["command_id"] {
        case .string(let s): commandId = s
        case .null, nil: commandId = nil
        default: throw EventDecodingError(message: "'command_id' must be a string or null")
        }
        self.init(
            id: try str("id"),
            type: type,
            commandId: commandId,
            workspaceId: try str("workspace_id"),
            projectId: o["project_id"]?.stringValue,
            correlationId: o["correlation_id"]?.stringValue,
            occurredAtMillis: millis,
            payload: payload
        )
    }
}

extension Timestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` back to milliseconds since the epoch.
    public static func parseMillis(_ s: String) -> Int64? {
        let u = Array(s.utf8)
        guard u.count >= 20, u.last == UInt8(ascii: "Z"), u[4] == 0x2D, u[7] == 0x2D, u[10] == UInt8(ascii: "T"),
            u[13] == 0x3A, u[16] == 0x3A
        else { return nil }
        func num(_ a: Int, _ b: Int) -> Int64? {
            var v: Int64 = 0
            for i in a..<b {
                guard u[i] >= 0x30 && u[i] <= 0x39 else { return nil }
                v = v * 10 + Int64(u[i] - 0x30)
            }
            return v
        }
        guard var y = num(0, 4), let mo = num(5, 7), let d = num(8, 10), let h = num(11, 13), let mi = num(14, 16),
            let sec = num(17, 19), (1...12).contains(mo), (1...31).contains(d)
        else { return nil }
        var ms: Int64 = 0
        if u[19] == UInt8(ascii: ".") {
            let digits = Array(u[20..<(u.count - 1)])
            guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            for i in 0..<3 { ms = ms * 10 + (i < digits.count ? Int64(digits[i] - 0x30) : 0) }
        } else if u.count != 20 {
            return nil
        }
        // Days from civil (Howard Hinnant).
        y -= mo <= 2 ? 1 : 0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return ((days * 86_400 + h * 3600 + mi * 60 + sec) * 1000) + ms
    }
}

/// Reads typed fields out of a payload object, consuming them, so that whatever is left
/// over is an unknown field. Every failure names its field as `payload.<name>`.
struct PayloadReader {
    private var object: [String: JSONValue]
    let limits: Limits

    init(object: [String: JSONValue], limits: Limits) {
        self.object = object
        self.limits = limits
    }

    mutating func take(_ key: String) -> JSONValue? { object.removeValue(forKey: key) }

    func rejectUnknown() throws(CommandRejection) {
        if let k = object.keys.sorted(by: JSONValue.utf8Less).first {
            throw CommandRejection(.invalidPayload, "unknown field '\(k.prefix(64))'", field: "payload.\(k.prefix(64))")
        }
    }

    mutating func string(
        _ key: String,
        required: Bool,
        maxLength: Int,
        nonEmpty: Bool = false
    ) throws(CommandRejection)
        -> String?
    {
        guard let v = take(key), v != .null else {
            if required { throw CommandRejection(.invalidPayload, "'\(key)' is required", field: "payload.\(key)") }
            return nil
        }
        guard let s = v.stringValue else {
            throw CommandRejection(.invalidPayload, "'\(key)' must be a string", field: "payload.\(key)")
        }
        if (required || nonEmpty) && s.isEmpty { throw CommandRejection(.invalidPayload, "'\(key)' must not be empty", field: "payload.\(key)") }
        if s.hasMoreCharacters(than: maxLength) {
            throw CommandRejection(.limitExceeded, "'\(key)' is longer than \(maxLength) characters", field: "payload.\(key)")
        }
        return s
    }

    mutating func identifier(_ key: String, required: Bool) throws(CommandRejection) -> String? {
        guard let s = try string(key, required: required, maxLength: limits.maxIdentifierLength) else { return nil }
        guard Identifier.isValid(s) else {
            throw CommandRejection(.invalidPayload, "'\(key)' must match [A-Za-z0-9][A-Za-z0-9._:@-]*", field: "payload.\(key)")
        }
        return s
    }

    mutating func slug(_ key: String) throws(CommandRejection) -> String {
        let s = try string(key, required: true, maxLength: limits.maxIdentifierLength)!
        guard Identifier.isValidSlug(s) else {
            throw CommandRejection(.invalidPayload, "'\(key)' must match [a-z0-9][a-z0-9._-]*", field: "payload.\(key)")
        }
        return s
    }

    mutating func contextName(_ key: String) throws(CommandRejection) -> String {
        let s = try string(key, required: true, maxLength: limits.maxIdentifierLength)!
        if s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw CommandRejection(.invalidPayload, "'\(key)' must not contain control characters", field: "payload.\(key)")
        }
        return s
    }

    mutating func bool(_ key: String) throws(CommandRejection) -> Bool? {
        guard let v = take(key), v != .null else { return nil }
        guard let b = v.boolValue else {
            throw CommandRejection(.invalidPayload, "'\(key)' must be a boolean", field: "payload.\(key)")
        }
        return b
    }

    mutating func int(_ key: String, required: Bool, minimum: Int64) throws(CommandRejection) -> Int64? {
        guard let v = take(key), v != .null else {
            if required { throw CommandRejection(.invalidPayload, "'\(key)' is required", field: "payload.\(key)") }
            return nil
        }
        guard v.typeName == "integer", let i = v.intValue, i >= minimum else {
            throw CommandRejection(.invalidPayload, "'\(key)' must be an integer >= \(minimum)", field: "payload.\(key)")
        }
        return i
    }

    mutating func document(_ key: String, requireObject: Bool) throws(CommandRejection) -> JSONValue? {
        guard let v = take(key), v != .null else { return nil }
        if requireObject, v.objectValue == nil {
            throw CommandRejection(.invalidPayload, "'\(key)' must be an object", field: "payload.\(key)")
        }
        if v.canonicalString.utf8.count > limits.maxDocumentBytes {
            throw CommandRejection(.limitExceeded, "'\(key)' is larger than \(limits.maxDocumentBytes) bytes", field: "payload.\(key)")
        }
        return v
    }

    mutating func capabilities(_ key: String) throws(CommandRejection) -> [String]? {
        guard let v = take(key), v != .null else { return nil }
        guard let arr = v.arrayValue else {
            throw CommandRejection(.invalidPayload, "'\(key)' must be an array of strings", field: "payload.\(key)")
        }
        if arr.count > limits.maxCapabilities {
            throw CommandRejection(.limitExceeded, "more than \(limits.maxCapabilities) capabilities", field: "payload.\(key)")
        }
        var out: [String] = []
        for (i, item) in arr.enumerated() {
            guard let s = item.stringValue, !s.isEmpty, s.count <= limits.maxIdentifierLength else {
                throw CommandRejection(
                    .invalidPayload,
                    "capabilities must be strings of 1 to \(limits.maxIdentifierLength) characters",
                    field: "payload.\(key)[\(i)]"
                )
            }
            if !out.contains(s) { out.append(s) }
        }
        return out
    }
}

/// A config that does not satisfy a definition's `config_schema`.
public struct SchemaViolation: Error, Sendable, Equatable {
    /// JSON Pointer-like path of the failing value, e.g. `config.retries`.
    public var path: String
    public var message: String
}

/// The practical JSON Schema subset agentcore enforces on instance configs: `type`
/// (string or array), `properties`, `required`, `enum`, `const`, `minimum`, `maximum`,
/// `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`, `minItems`,
/// `maxItems`, `items`, `additionalProperties` (boolean or schema). Other keywords are
/// accepted and ignored, so a full schema can be stored and this subset still applies.
public struct ConfigSchema: Sendable {
    public let schema: JSONValue

    public init(_ schema: JSONValue) { self.schema = schema }

    /// Checks that a schema uses the subset's keywords with well-formed values.
    public static func checkWellFormed(_ schema: JSONValue, path: String = "config_schema") -> SchemaViolation? {
        guard case .object(let s) = schema else {
            if case .bool = schema { return nil }
            return SchemaViolation(path: path, message: "a schema must be an object or a boolean")
        }
        if let t = s["type"] {
            let names: [JSONValue] = t.arrayValue ?? [t]
            for n in names {
                guard let name = n.stringValue, Self.typeNames.contains(name) else {
                    return SchemaViolation(path: path + ".type", message: "unknown type \(n.canonicalString)")
                }
            }
        }
        if let props = s["properties"] {
            guard case .object(let p) = props else {
                return SchemaViolation(path: path + ".properties", message: "must be an object")
            }
            for key in p.keys.sorted(by: JSONValue.utf8Less) {
                if let v = checkWellFormed(p[key]!, path: path + ".properties." + key) { return v }
            }
        }
        if let req = s["required"] {
            guard let arr = req.arrayValue, arr.allSatisfy({ $0.stringValue != nil }) else {
                return SchemaViolation(path: path + ".required", message: "must be an array of strings")
            }
        }
        if let e = s["enum"], e.arrayValue == nil {
            return SchemaViolation(path: path + ".enum", message: "must be an array")
        }
        for k in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] {
            if let v = s[k], v.numberValue == nil { return SchemaViolation(path: path + "." + k, message: "must be a number") }
        }
        for k in ["minLength", "maxLength", "minItems", "maxItems"] {
            if let v = s[k], (v.intValue ?? -1) < 0 {
                return SchemaViolation(path: path + "." + k, message: "must be a non-negative integer")
            }
        }
        if let items = s["items"], let v = checkWellFormed(items, path: path + ".items") { return v }
        if let ap = s["additionalProperties"], let v = checkWellFormed(ap, path: path + ".additionalProperties") {
            return v
        }
        return nil
    }

    static let typeNames: Set<String> = ["null", "boolean", "integer", "number", "string", "array", "object"]

    /// The first violation in deterministic order (keys sorted), or nil when valid.
    public func validate(_ value: JSONValue, path: String = "config") -> SchemaViolation? {
        Self.validate(value, against: schema, path: path)
    }

    static func validate(_ value: JSONValue, against schema: JSONValue, path: String) -> SchemaViolation? {
        switch schema {
        case .bool(true): return nil
        case .bool(false): return SchemaViolation(path: path, message: "no value is allowed here")
        case .object(let s):
            if let t = s["type"] {
                let names = (t.arrayValue ?? [t]).compactMap(\.stringValue)
                if !names.contains(where: { matches(value, type: $0) }) {
                    return SchemaViolation(
                        path: path,
                        message: "expected \(names.joined(separator: " or ")), got \(value.typeName)"
                    )
                }
            }
            if let e = s["enum"]?.arrayValue, !e.contains(where: { $0.jsonEquals(value) }) {
                return SchemaViolation(path: path, message: "value is not one of the allowed values")
            }
            if let c = s["const"], !c.jsonEquals(value) {
                return SchemaViolation(path: path, message: "value must equal \(c.canonicalString)")
            }
            if let n = value.numberValue, value.typeName != "boolean" {
                if let m = s["minimum"]?.numberValue, n < m { return SchemaViolation(path: path, message: "must be >= \(fmt(m))") }
                if let m = s["maximum"]?.numberValue, n > m { return SchemaViolation(path: path, message: "must be <= \(fmt(m))") }
                if let m = s["exclusiveMinimum"]?.numberValue, n <= m {
                    return SchemaViolation(path: path, message: "must be > \(fmt(m))")
                }
                if let m = s["exclusiveMaximum"]?.numberValue, n >= m {
                    return SchemaViolation(path: path, message: "must be < \(fmt(m))")
                }
            }
            if case .string(let str) = value {
                let len = Int64(str.unicodeScalars.count)
                if let m = s["minLength"]?.intValue, len < m { return SchemaViolation(path: path, message: "shorter than \(m)") }
                if let m = s["maxLength"]?.intValue, len > m { return SchemaViolation(path: path, message: "longer than \(m)") }
            }
            if case .array(let items) = value {
                if let m = s["minItems"]?.intValue, items.count < m {
                    return SchemaViolation(path: path, message: "fewer than \(m) items")
                }
                if let m = s["maxItems"]?.intValue, items.count > m {
                    return SchemaViolation(path: path, message: "more than \(m) items")
                }
                if let itemSchema = s["items"] {
                    for (i, item) in items.enumerated() {
                        if let v = validate(item, against: itemSchema, path: "\(path)[\(i)]") { return v }
                    }
                }
            }
            if case .object(let obj) = value {
                for key in (s["required"]?.arrayValue ?? []).compactMap(\.stringValue) where obj[key] == nil {
                    return SchemaViolation(path: path + "." + key, message: "required property is missing")
                }
                let props = s["properties"]?.objectValue ?? [:]
                for key in obj.keys.sorted(by: JSONValue.utf8Less) {
                    if let ps = props[key] {
                        if let v = validate(obj[key]!, against: ps, path: path + "." + key) { return v }
                    } else if let ap = s["additionalProperties"] {
                        if case .bool(false) = ap {
                            return SchemaViolation(path: path + "." + key, message: "property is not allowed")
                        }
                        if let v = validate(obj[key]!, against: ap, path: path + "." + key) { return v }
                    }
                }
            }
            return nil
        default:
            return SchemaViolation(path: path, message: "invalid schema")
        }
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch type {
        case "number": return value.numberValue != nil
        case "integer": return value.typeName == "integer"
        default: return value.typeName == type
        }
    }

    static func fmt(_ d: Double) -> String { JSONValue.double(d).canonicalString }
}

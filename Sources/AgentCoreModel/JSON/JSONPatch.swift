/// RFC 6902 JSON Patch: the difference between two JSON documents as operations, and
/// applying them. `diff(from:to:)` is deterministic (object keys in sorted order) and its
/// result, applied to `from`, gives a document `jsonEquals` to `to`.
public enum JSONPatch {
    public struct Operation: Sendable, Equatable {
        public enum Kind: String, Sendable { case add, remove, replace }
        public var op: Kind
        /// A JSON Pointer (RFC 6901).
        public var path: String
        /// The new value (`add`, `replace`); nil for `remove`.
        public var value: JSONValue?

        public init(op: Kind, path: String, value: JSONValue? = nil) {
            self.op = op
            self.path = path
            self.value = value
        }

        /// `{"op": ..., "path": ..., "value": ...}`.
        public var json: JSONValue {
            var o: [String: JSONValue] = ["op": .string(op.rawValue), "path": .string(path)]
            if let value { o["value"] = value }
            return .object(o)
        }
    }

    public struct ApplyError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// The operations that turn `from` into `to`.
    public static func diff(from: JSONValue, to: JSONValue) -> [Operation] {
        var ops: [Operation] = []
        diff(from, to, path: "", into: &ops)
        return ops
    }

    private static func diff(_ a: JSONValue, _ b: JSONValue, path: String, into ops: inout [Operation]) {
        if a.jsonEquals(b) { return }
        switch (a, b) {
        case (.object(let x), .object(let y)):
            for key in x.keys.sorted() where y[key] == nil {
                ops.append(Operation(op: .remove, path: path + "/" + escape(key)))
            }
            for key in y.keys.sorted() {
                let p = path + "/" + escape(key)
                if let old = x[key] { diff(old, y[key]!, path: p, into: &ops) } else { ops.append(Operation(op: .add, path: p, value: y[key]!)) }
            }
        case (.array(let x), .array(let y)):
            // Common prefix and suffix kept; the middle compared index by index, then the
            // surplus removed from the end backwards or appended.
            var prefix = 0
            while prefix < x.count, prefix < y.count, x[prefix].jsonEquals(y[prefix]) { prefix += 1 }
            var suffix = 0
            while suffix < x.count - prefix, suffix < y.count - prefix,
                x[x.count - 1 - suffix].jsonEquals(y[y.count - 1 - suffix])
            {
                suffix += 1
            }
            let xMid = Array(x[prefix..<(x.count - suffix)])
            let yMid = Array(y[prefix..<(y.count - suffix)])
            let common = min(xMid.count, yMid.count)
            for i in 0..<common { diff(xMid[i], yMid[i], path: path + "/\(prefix + i)", into: &ops) }
            if xMid.count > common {
                for i in stride(from: prefix + xMid.count - 1, through: prefix + common, by: -1) {
                    ops.append(Operation(op: .remove, path: path + "/\(i)"))
                }
            } else {
                for i in common..<yMid.count {
                    ops.append(Operation(op: .add, path: path + "/\(prefix + i)", value: yMid[i]))
                }
            }
        default:
            ops.append(Operation(op: .replace, path: path, value: b))
        }
    }

    /// `from` with `ops` applied in order.
    public static func apply(_ ops: [Operation], to document: JSONValue) throws(ApplyError) -> JSONValue {
        var doc = document
        for op in ops {
            let tokens = try pointerTokens(op.path)
            doc = try apply(op, tokens[...], to: doc)
        }
        return doc
    }

    private static func apply(_ op: Operation, _ tokens: ArraySlice<String>, to node: JSONValue) throws(ApplyError) -> JSONValue {
        guard let first = tokens.first else {
            switch op.op {
            case .add, .replace: return op.value ?? .null
            case .remove: throw ApplyError(description: "cannot remove the whole document")
            }
        }
        let rest = tokens.dropFirst()
        switch node {
        case .object(var o):
            if rest.isEmpty {
                switch op.op {
                case .add: o[first] = op.value ?? .null
                case .replace:
                    guard o[first] != nil else { throw ApplyError(description: "\(op.path): no such member") }
                    o[first] = op.value ?? .null
                case .remove:
                    guard o.removeValue(forKey: first) != nil else { throw ApplyError(description: "\(op.path): no such member") }
                }
                return .object(o)
            }
            guard let child = o[first] else { throw ApplyError(description: "\(op.path): no such member") }
            o[first] = try apply(op, rest, to: child)
            return .object(o)
        case .array(var a):
            let index: Int
            if first == "-", op.op == .add, rest.isEmpty {
                index = a.count
            } else {
                guard let i = Int(first), i >= 0, String(i) == first else { throw ApplyError(description: "\(op.path): bad index") }
                index = i
            }
            if rest.isEmpty {
                switch op.op {
                case .add:
                    guard index <= a.count else { throw ApplyError(description: "\(op.path): index out of range") }
                    a.insert(op.value ?? .null, at: index)
                case .replace:
                    guard index < a.count else { throw ApplyError(description: "\(op.path): index out of range") }
                    a[index] = op.value ?? .null
                case .remove:
                    guard index < a.count else { throw ApplyError(description: "\(op.path): index out of range") }
                    a.remove(at: index)
                }
                return .array(a)
            }
            guard index < a.count else { throw ApplyError(description: "\(op.path): index out of range") }
            a[index] = try apply(op, rest, to: a[index])
            return .array(a)
        default:
            throw ApplyError(description: "\(op.path): not a container")
        }
    }

    /// RFC 6901: `~` as `~0`, `/` as `~1`.
    public static func escape(_ token: String) -> String {
        guard token.contains(where: { $0 == "~" || $0 == "/" }) else { return token }
        var out = ""
        for c in token {
            switch c {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.append(c)
            }
        }
        return out
    }

    static func unescape<S: StringProtocol>(_ token: S) -> String {
        var out = ""
        var tilde = false
        for c in token {
            if tilde {
                out.append(c == "1" ? "/" : c == "0" ? "~" : c)
                tilde = false
            } else if c == "~" {
                tilde = true
            } else {
                out.append(c)
            }
        }
        if tilde { out.append("~") }
        return out
    }

    static func pointerTokens(_ pointer: String) throws(ApplyError) -> [String] {
        if pointer.isEmpty { return [] }
        guard pointer.hasPrefix("/") else { throw ApplyError(description: "\(pointer): a pointer starts with /") }
        return pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map { unescape($0) }
    }
}

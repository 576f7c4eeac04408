/// Why a byte string is not acceptable JSON.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var description: String { "\(message) at byte \(offset)" }
}

/// A strict RFC 8259 parser over UTF-8 bytes with bounded nesting. It keeps integers exact,
/// rejects duplicate object keys (their meaning is ambiguous) and trailing garbage.
public struct JSONParser {
    public static let defaultMaxDepth = 64

    public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buf throws(JSONParseError) in
            var p = JSONParser(bytes: buf, maxDepth: maxDepth)
            p.skipWhitespace()
            let value = try p.parseValue(depth: 0)
            p.skipWhitespace()
            if p.index != buf.count { throw p.error("unexpected trailing characters") }
            return value
        }
    }

    public static func parse(_ string: String, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        try parse(Array(string.utf8), maxDepth: maxDepth)
    }

    /// Parses like `parse(_:maxDepth:)`, except for the value at `path` (object keys from
    /// the root): when its bytes are already its canonical form (`JSONValue.canonicalBytes`
    /// of what parsing them would give), no tree is built for it. The tree then holds
    /// `.null` in its place, and the value's byte range comes back. Otherwise the value is
    /// parsed as usual and no range comes back. Either way the input is accepted or refused
    /// exactly as `parse(_:maxDepth:)` would.
    ///
    /// A `context.write` carries its data to be stored as canonical bytes: a producer that
    /// sends canonical JSON spares the worker building and re-serialising the tree. The
    /// recogniser is deliberately narrow (integers, ASCII strings without escapes, sorted
    /// keys, no whitespace); anything else takes the general path.
    public static func parse(
        _ bytes: [UInt8],
        maxDepth: Int = defaultMaxDepth,
        canonicalAt path: [String]
    ) throws(JSONParseError) -> (value: JSONValue, canonical: Range<Int>?) {
        try bytes.withUnsafeBufferPointer { buf throws(JSONParseError) in
            var p = JSONParser(bytes: buf, maxDepth: maxDepth)
            p.capturePath = path
            p.skipWhitespace()
            let value = try p.parseValue(depth: 0)
            p.skipWhitespace()
            if p.index != buf.count { throw p.error("unexpected trailing characters") }
            return (value, p.captured)
        }
    }

    /// The end of the canonical value at `from` in `bytes`, read as the parser reads a
    /// value at `depth` (see `parse(_:maxDepth:canonicalAt:)`), or nil. For
    /// `CommandDecoder.decodeCommonContextWrite`.
    static func canonicalValueEnd(in bytes: UnsafeBufferPointer<UInt8>, from: Int, depth: Int) -> Int? {
        JSONParser(bytes: bytes, maxDepth: defaultMaxDepth).canonicalEnd(from: from, depth: depth)
    }

    /// The canonical bytes of the value at `from` in `bytes` and where it ends, read as the
    /// parser reads a value at `depth`, for a value whose strings (keys included) are
    /// printable ASCII without escapes; whitespace between its tokens, object keys in any
    /// order and numbers in any spelling are fine. What `parse(_:)` then `canonicalBytes`
    /// gives, without building the tree; nil for anything else (a string with an escape or
    /// a non-ASCII byte, a repeated key, an error), which the caller parses. For
    /// `CommandDecoder.decodeCommonContextWrite`: producers that do not sort their keys.
    static func canonicalRewrite(in bytes: UnsafeBufferPointer<UInt8>, from: Int, depth: Int) -> (end: Int, canonical: [UInt8])? {
        var p = JSONParser(bytes: bytes, maxDepth: defaultMaxDepth)
        p.index = from
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count - from)
        guard p.rewrite(depth: depth, into: &out) else { return nil }
        return (p.index, out)
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private let maxDepth: Int
    private var index = 0
    /// See `parse(_:maxDepth:canonicalAt:)`: the path, how many of its keys the objects
    /// being parsed have matched so far (-1 inside an array: a path goes through objects
    /// only), and the range found.
    private var capturePath: [String] = []
    private var matched = 0
    private var captured: Range<Int>?

    private init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    private func error(_ message: String) -> JSONParseError { JSONParseError(message: message, offset: index) }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard index + n <= bytes.count else { throw error("unexpected end of input") }
        let w = word.utf8Start
        for i in 0..<n where bytes[index + i] != w[i] { throw error("invalid literal") }
        index += n
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > maxDepth { throw error("nesting deeper than \(maxDepth)") }
        index += 1
        var result: [String: JSONValue] = [:]
        result.reserveCapacity(8)
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(result)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected object key") }
            let keyStart = index
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            let value: JSONValue
            if matched == depth - 1, depth <= capturePath.count, key == capturePath[depth - 1] {
                if depth < capturePath.count {
                    matched = depth
                    value = try parseValue(depth: depth)
                    matched = depth - 1
                } else if captured == nil, let end = canonicalEnd(from: index, depth: depth) {
                    captured = index..<end
                    index = end
                    value = .null
                } else {
                    value = try parseValue(depth: depth)
                }
            } else {
                value = try parseValue(depth: depth)
            }
            if result.updateValue(value, forKey: key) != nil {
                throw JSONParseError(message: "duplicate key \"\(key)\"", offset: keyStart)
            }
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(result)
            }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > maxDepth { throw error("nesting deeper than \(maxDepth)") }
        index += 1
        var result: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(result)
        }
        let outer = matched
        matched = -1
        defer { matched = outer }
        while true {
            skipWhitespace()
            result.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(result)
            }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes. ASCII needs no UTF-8 validation (`String(validating:)` is
        // generic and costs more than the rest of the scan).
        var ascii = true
        while index < bytes.count {
            index = JSONScan.next(in: bytes, from: index, stopAtNonASCII: ascii)
            guard index < bytes.count else { break }
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                if ascii { return String(decoding: slice, as: UTF8.self) }
                guard let s = String(validating: slice, as: UTF8.self) else {
                    throw JSONParseError(message: "invalid UTF-8 in string", offset: start)
                }
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("control character in string") }
            if b >= 0x80 { ascii = false }
            index += 1
        }
        var out = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                index += 1
                guard let s = String(validating: out, as: UTF8.self) else {
                    throw JSONParseError(message: "invalid UTF-8 in string", offset: start)
                }
                return s
            }
            if b < 0x20 { throw error("control character in string") }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { break }
            let e = bytes[index]
            index += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                    else { throw error("unpaired surrogate") }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error("unpaired surrogate")
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("invalid escape") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw error("invalid escape")
            }
        }
        throw error("unterminated string")
    }

    /// The end of the value starting at `start` if its bytes are canonical JSON in the
    /// narrow sense of `parse(_:maxDepth:canonicalAt:)`, else nil. `depth` is that of
    /// `parseValue` for the same value (the same nesting limit applies). Reads only.
    private func canonicalEnd(from start: Int, depth: Int) -> Int? {
        let n = bytes.count
        guard start < n else { return nil }
        switch bytes[start] {
        case UInt8(ascii: "{"):
            let inner = depth + 1
            if inner > maxDepth { return nil }
            var i = start + 1
            if i < n, bytes[i] == UInt8(ascii: "}") { return i + 1 }
            var previous: Range<Int>?
            while true {
                guard i < n, bytes[i] == UInt8(ascii: "\""), let keyEnd = canonicalStringEnd(from: i) else { return nil }
                let key = (i + 1)..<(keyEnd - 1)
                if let previous, !bytesLess(previous, key) { return nil }  // unsorted or repeated
                previous = key
                i = keyEnd
                guard i < n, bytes[i] == UInt8(ascii: ":"), let valueEnd = canonicalEnd(from: i + 1, depth: inner) else {
                    return nil
                }
                i = valueEnd
                guard i < n else { return nil }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                return bytes[i] == UInt8(ascii: "}") ? i + 1 : nil
            }
        case UInt8(ascii: "["):
            let inner = depth + 1
            if inner > maxDepth { return nil }
            var i = start + 1
            if i < n, bytes[i] == UInt8(ascii: "]") { return i + 1 }
            while true {
                guard let valueEnd = canonicalEnd(from: i, depth: inner) else { return nil }
                i = valueEnd
                guard i < n else { return nil }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                return bytes[i] == UInt8(ascii: "]") ? i + 1 : nil
            }
        case UInt8(ascii: "\""):
            return canonicalStringEnd(from: start)
        case UInt8(ascii: "t"): return matches("true", at: start)
        case UInt8(ascii: "f"): return matches("false", at: start)
        case UInt8(ascii: "n"): return matches("null", at: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return canonicalIntegerEnd(from: start)
        default:
            return nil
        }
    }

    /// Writes the canonical form of the value at `index` (see `canonicalRewrite`) and moves
    /// past it; false when the value leaves that subset. `depth` as for `canonicalEnd`.
    private mutating func rewrite(depth: Int, into out: inout [UInt8]) -> Bool {
        let n = bytes.count
        guard index < n else { return false }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            let inner = depth + 1
            if inner > maxDepth { return false }
            index += 1
            let open = out.count
            out.append(UInt8(ascii: "{"))
            if closesEmpty(UInt8(ascii: "}"), into: &out) { return true }
            // Members are written as they come, then put in key order if they were not.
            var members: [(key: Range<Int>, member: Range<Int>)] = []
            var inOrder = true
            while true {
                skipWhitespace()
                guard index < n, bytes[index] == UInt8(ascii: "\""), let keyEnd = canonicalStringEnd(from: index) else {
                    return false
                }
                let key = (index + 1)..<(keyEnd - 1)
                if let last = members.last, !bytesLess(last.key, key) { inOrder = false }
                let start = out.count
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<keyEnd]))
                index = keyEnd
                skipWhitespace()
                guard index < n, bytes[index] == UInt8(ascii: ":") else { return false }
                index += 1
                out.append(UInt8(ascii: ":"))
                skipWhitespace()
                guard rewrite(depth: inner, into: &out) else { return false }
                members.append((key, start..<out.count))
                guard let more = nextOrClose(UInt8(ascii: "}"), into: &out) else { return false }
                if !more { break }
            }
            if !inOrder {
                let reader = self
                members.sort { reader.bytesLess($0.key, $1.key) }
                for k in 1..<members.count where !bytesLess(members[k - 1].key, members[k].key) { return false }  // repeated
                let body = Array(out[(open + 1)...])
                out.removeSubrange((open + 1)...)
                for (k, m) in members.enumerated() {
                    if k > 0 { out.append(UInt8(ascii: ",")) }
                    out.append(contentsOf: body[(m.member.lowerBound - open - 1)..<(m.member.upperBound - open - 1)])
                }
            }
            out.append(UInt8(ascii: "}"))
            return true
        case UInt8(ascii: "["):
            let inner = depth + 1
            if inner > maxDepth { return false }
            index += 1
            out.append(UInt8(ascii: "["))
            if closesEmpty(UInt8(ascii: "]"), into: &out) { return true }
            while true {
                skipWhitespace()
                guard rewrite(depth: inner, into: &out) else { return false }
                guard let more = nextOrClose(UInt8(ascii: "]"), into: &out) else { return false }
                if !more {
                    out.append(UInt8(ascii: "]"))
                    return true
                }
            }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            if let end = canonicalIntegerEnd(from: index) {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<end]))
                index = end
                return true
            }
            guard let number = try? parseNumber() else { return false }
            number.write(to: &out)  // the writer's own spelling (1.0 is 1, 1e2 is 100, -0 is 0)
            return true
        default:
            let end: Int?
            switch bytes[index] {
            case UInt8(ascii: "\""): end = canonicalStringEnd(from: index)
            case UInt8(ascii: "t"): end = matches("true", at: index)
            case UInt8(ascii: "f"): end = matches("false", at: index)
            case UInt8(ascii: "n"): end = matches("null", at: index)
            default: end = nil
            }
            guard let end else { return false }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<end]))
            index = end
            return true
        }
    }

    /// Right after a container's opening byte: whether it is empty, then consumed with its
    /// closing byte written.
    private mutating func closesEmpty(_ close: UInt8, into out: inout [UInt8]) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == close else { return false }
        index += 1
        out.append(close)
        return true
    }

    /// After a member or an element: a comma (written; true, another follows) or `close`
    /// (consumed, not written; false); nil for anything else.
    private mutating func nextOrClose(_ close: UInt8, into out: inout [UInt8]) -> Bool? {
        skipWhitespace()
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: ",") {
            index += 1
            out.append(UInt8(ascii: ","))
            return true
        }
        guard bytes[index] == close else { return nil }
        index += 1
        return false
    }

    /// A string of printable ASCII without escapes: what the writer writes for it.
    private func canonicalStringEnd(from start: Int) -> Int? {
        let i = JSONScan.next(in: bytes, from: start + 1, stopAtNonASCII: true)
        return i < bytes.count && bytes[i] == UInt8(ascii: "\"") ? i + 1 : nil
    }

    private func matches(_ word: StaticString, at start: Int) -> Int? {
        let count = word.utf8CodeUnitCount
        guard start + count <= bytes.count else { return nil }
        for k in 0..<count where bytes[start + k] != word.utf8Start[k] { return nil }
        return start + count
    }

    /// An integer as the writer writes an `Int64`: no sign on zero, no leading zeros, no
    /// fraction or exponent, within range.
    private func canonicalIntegerEnd(from start: Int) -> Int? {
        let n = bytes.count
        var i = start
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        let digits = i
        var magnitude: UInt64 = 0
        while i < n, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) {
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[i] - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            magnitude = sum
            i += 1
        }
        let count = i - digits
        if count == 0 || (count > 1 && bytes[digits] == UInt8(ascii: "0")) { return nil }
        if negative && magnitude == 0 { return nil }  // "-0" is written "0"
        if magnitude > (negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)) { return nil }
        if i < n, bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            return nil
        }
        return i
    }

    /// Byte-wise order of two ranges of the input (`JSONValue.utf8Less` for raw keys).
    private func bytesLess(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        let m = min(a.count, b.count)
        for k in 0..<m {
            let x = bytes[a.lowerBound + k]
            let y = bytes[b.lowerBound + k]
            if x != y { return x < y }
        }
        return a.count < b.count
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | d
            index += 1
        }
        return v
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        var isInteger = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw error("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[index]) {
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        } else {
            throw error("invalid number")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            let digits = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            if index == digits { throw error("invalid number") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            let digits = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            if index == digits { throw error("invalid number") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isInteger, let i = Int64(text) { return .int(i) }
        guard let d = Double(text), d.isFinite else {
            throw JSONParseError(message: "number out of range", offset: start)
        }
        return .double(d)
    }
}

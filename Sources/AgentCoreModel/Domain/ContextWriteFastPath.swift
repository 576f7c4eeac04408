import Foundation

/// A `context.write` decoded in one pass over its bytes (see `decodeCommonContextWrite`).
public struct DecodedContextWrite: Sendable, Equatable {
    /// The envelope, with `payload` `.null` (the payload is read into `command`).
    public var envelope: CommandEnvelope
    /// The command: a `replace` write's data as `.canonical` bytes, a `merge_patch`'s as a `.tree`.
    public var command: Command
}

extension CommandDecoder {
    /// The common shape of a `context.write`, decoded without building the envelope and
    /// payload as JSON trees (about a third of decoding was hashing their keys into
    /// dictionaries and looking them up again): no whitespace, keys and strings in printable
    /// ASCII without escapes, only the fields a `context.write` knows, each once. Its data
    /// is taken as it is when canonical (what `AgentCoreClient` sends), else written
    /// canonically when its strings are printable ASCII without escapes (what most other
    /// producers send: keys unsorted, numbers spelled their way).
    ///
    /// Returns nil for anything else, and for anything the general path would refuse or
    /// reject: the caller then decodes with `decodeEnvelope(_:capturingData:)` and
    /// `decodeCommand`, which also word every error. When it returns a value, that value is
    /// what the general path gives (`FastPathTests` compares the two on random inputs).
    public func decodeCommonContextWrite(_ bytes: [UInt8]) -> DecodedContextWrite? {
        guard bytes.count <= limits.maxRecordBytes else { return nil }
        return bytes.withUnsafeBufferPointer { buffer in
            var scanner = FastScanner(bytes: buffer)
            return scanner.contextWrite(limits: limits)
        }
    }
}

/// The one-pass reader behind `decodeCommonContextWrite`. Every method returns nil (or
/// false) as soon as the input leaves the common shape.
private struct FastScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private static let quote = UInt8(ascii: "\"")

    mutating func take(_ c: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == c else { return false }
        index += 1
        return true
    }

    /// The canonical value starting here, of the kind whose first byte is `first`
    /// (`JSONParser`'s recogniser, at the depth of a payload member): its range.
    mutating func canonical(startingWith first: UInt8) -> Range<Int>? {
        guard index < bytes.count, bytes[index] == first,
            let end = JSONParser.canonicalValueEnd(in: bytes, from: index, depth: 2)
        else { return nil }
        defer { index = end }
        return index..<end
    }

    /// A string of printable ASCII without escapes: the range of its contents.
    mutating func plainString() -> Range<Int>? {
        canonical(startingWith: Self.quote).map { ($0.lowerBound + 1)..<($0.upperBound - 1) }
    }

    mutating func null() -> Bool { canonical(startingWith: UInt8(ascii: "n")) != nil }

    func text(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self) }

    /// Which of `names` the key in `r` is.
    func field(_ r: Range<Int>, in names: [StaticString]) -> Int? {
        for (i, name) in names.enumerated() where name.utf8CodeUnitCount == r.count {
            if memcmp(bytes.baseAddress! + r.lowerBound, name.utf8Start, r.count) == 0 { return i }
        }
        return nil
    }

    /// An object of known fields, each at most once, calling `value` for each: `{}` and
    /// unknown or repeated fields leave the common shape.
    mutating func object(_ names: [StaticString], _ value: (inout FastScanner, Int) -> Bool) -> Bool {
        guard take(UInt8(ascii: "{")) else { return false }
        var seen = 0
        repeat {
            guard let key = plainString(), take(UInt8(ascii: ":")), let f = field(key, in: names), seen & (1 << f) == 0
            else { return false }
            seen |= 1 << f
            guard value(&self, f) else { return false }
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "}"))
    }

    /// The envelope's fields in `EnvelopeField` order (its raw values are the indexes here).
    static let envelopeFields: [StaticString] = EnvelopeField.allCases.map(\.name)
    /// `context.write`'s payload fields in `ContextWriteField` order.
    static let payloadFields: [StaticString] = ContextWriteField.allCases.map(\.name)

    mutating func contextWrite(limits: Limits) -> DecodedContextWrite? {
        var envelope = [Range<Int>?](repeating: nil, count: EnvelopeField.payload.rawValue)
        var payload = [Range<Int>?](repeating: nil, count: ContextWriteField.allCases.count)
        var expectedVersion: Int64?
        var rewrittenData: [UInt8]?
        let read = object(Self.envelopeFields) { s, f in
            if f != EnvelopeField.payload.rawValue {
                envelope[f] = s.plainString()
                return envelope[f] != nil
            }
            return s.object(Self.payloadFields) { s, f in
                switch f {
                case ContextWriteField.data.rawValue:  // at the depth the general parser sees it
                    let start = s.index
                    if let end = JSONParser.canonicalValueEnd(in: s.bytes, from: start, depth: 2) {
                        s.index = end
                    } else {
                        // Not canonical (keys unsorted, whitespace, a number spelled
                        // otherwise): written canonically, unless it needs the parser.
                        guard let r = JSONParser.canonicalRewrite(in: s.bytes, from: start, depth: 2) else { return false }
                        s.index = r.end
                        rewrittenData = r.canonical
                    }
                    payload[ContextWriteField.data.rawValue] = start..<s.index
                    return true
                case ContextWriteField.expectedVersion.rawValue:  // an integer >= 0, or null
                    if s.null() { return true }
                    let start = s.index
                    guard let end = JSONParser.canonicalValueEnd(in: s.bytes, from: start, depth: 2),
                        let v = Int64(s.text(start..<end)), v >= 0
                    else { return false }
                    s.index = end
                    expectedVersion = v
                    return true
                case ContextWriteField.mode.rawValue, ContextWriteField.description.rawValue:  // optional
                    if s.null() { return true }
                    payload[f] = s.plainString()
                    return payload[f] != nil
                default:
                    payload[f] = s.plainString()
                    return payload[f] != nil
                }
            }
        }
        guard read, index == bytes.count else { return nil }

        // The checks of `decodeEnvelope` and `decodeCommand`: any failure goes back to them.
        // Every string here is ASCII, so its characters are its bytes.
        func string(_ r: Range<Int>?, max: Int, identifier: Bool, required: Bool) -> (ok: Bool, value: String?) {
            guard let r else { return (!required, nil) }
            guard !r.isEmpty, r.count <= max else { return (false, nil) }
            let s = text(r)
            if identifier && !Identifier.isValid(s) { return (false, nil) }
            return (true, s)
        }
        /// An envelope field by the shared table's rule (`project_id` is required here: a
        /// `context.write` without one is the general path's rejection to word).
        func field(_ f: EnvelopeField) -> (ok: Bool, value: String?) {
            let rule = f.rule(limits)!
            return string(envelope[f.rawValue], max: rule.maxLength, identifier: rule.identifier, required: rule.required || f == .projectId)
        }
        guard let schema = envelope[EnvelopeField.schema.rawValue], text(schema) == CommandEnvelope.schema,
            let type = envelope[EnvelopeField.type.rawValue], text(type) == CommandType.contextWrite.rawValue,
            payload[ContextWriteField.data.rawValue] != nil
        else { return nil }
        let id = field(.id)
        let workspace = field(.workspaceId)
        let project = field(.projectId)
        let actor = field(.actor)
        let correlation = field(.correlationId)
        func member(_ f: ContextWriteField, identifier: Bool, required: Bool) -> (ok: Bool, value: String?) {
            string(payload[f.rawValue], max: f.maxLength(limits)!, identifier: identifier, required: required)
        }
        let instance = member(.instanceId, identifier: true, required: true)
        let name = member(.name, identifier: false, required: true)
        let mode = member(.mode, identifier: false, required: false)
        let description = member(.description, identifier: false, required: false)
        guard id.ok, workspace.ok, project.ok, actor.ok, correlation.ok, instance.ok, name.ok, mode.ok, description.ok,
            let writeMode = WriteMode(rawValue: mode.value ?? WriteMode.replace.rawValue),
            !bytes[payload[ContextWriteField.name.rawValue]!].contains(0x7F)  // a context name has no control characters
        else { return nil }
        let bytesOfData = Array(bytes[payload[ContextWriteField.data.rawValue]!])
        let data: ContextData
        if writeMode == .replace {
            data = .canonical(rewrittenData ?? bytesOfData)
        } else {  // the tree of the bytes as sent (1.0 stays a double, as the general path has it)
            guard let parsed = try? JSONParser.parse(bytesOfData) else { return nil }
            data = .tree(parsed)
        }
        return DecodedContextWrite(
            envelope: CommandEnvelope(
                id: id.value!,
                type: CommandType.contextWrite.rawValue,
                workspaceId: workspace.value!,
                projectId: project.value!,
                actor: actor.value!,
                correlationId: correlation.value,
                payload: .null
            ),
            command: .contextWrite(
                instanceId: instance.value!,
                name: name.value!,
                data: data,
                description: description.value,
                mode: writeMode,
                expectedVersion: expectedVersion
            )
        )
    }
}

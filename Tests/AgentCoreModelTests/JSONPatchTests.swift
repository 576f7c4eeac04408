import AgentCoreModel
import Testing

@Suite struct JSONPatchTests {
    @Test func diffOfObjectsNamesEachChangeOnce() throws {
        let a: JSONValue = ["keep": 1, "change": "x", "drop": true, "nested": ["a": 1, "b": [1, 2, 3]]]
        let b: JSONValue = ["keep": 1, "change": "y", "add": nil, "nested": ["a": 1, "b": [1, 9, 3, 4]]]
        let ops = JSONPatch.diff(from: a, to: b)
        // Removed members first, then the target's members in key order.
        #expect(
            ops == [
                .init(op: .remove, path: "/drop"),
                .init(op: .add, path: "/add", value: .null),
                .init(op: .replace, path: "/change", value: "y"),
                .init(op: .replace, path: "/nested/b/1", value: 9),
                .init(op: .add, path: "/nested/b/3", value: 4),
            ]
        )
        #expect(try JSONPatch.apply(ops, to: a).jsonEquals(b))
        #expect(JSONPatch.diff(from: a, to: a).isEmpty)
        #expect(JSONPatch.diff(from: 1, to: 1.0).isEmpty)  // equal as JSON
    }

    @Test func pointersEscapeTildeAndSlash() throws {
        let a: JSONValue = ["a/b": 1, "m~n": 2]
        let b: JSONValue = ["a/b": 3]
        let ops = JSONPatch.diff(from: a, to: b)
        #expect(ops.map(\.path).sorted() == ["/a~1b", "/m~0n"])
        #expect(try JSONPatch.apply(ops, to: a) == b)
    }

    @Test func wholeDocumentAndTypeChangesAreReplaced() throws {
        #expect(JSONPatch.diff(from: ["a": 1], to: [1, 2]) == [.init(op: .replace, path: "", value: [1, 2])])
        #expect(JSONPatch.diff(from: ["a": [1]], to: ["a": "x"]) == [.init(op: .replace, path: "/a", value: "x")])
    }

    @Test func arraysShrinkFromTheEndBackwards() throws {
        let a: JSONValue = [1, 2, 3, 4, 5]
        let b: JSONValue = [1, 5]
        let ops = JSONPatch.diff(from: a, to: b)
        #expect(try JSONPatch.apply(ops, to: a) == b)
        #expect(ops.allSatisfy { $0.op == .remove || $0.op == .replace })
    }

    @Test func applyRefusesWhatDoesNotFit() {
        #expect(throws: JSONPatch.ApplyError.self) { try JSONPatch.apply([.init(op: .remove, path: "/x")], to: ["a": 1]) }
        #expect(throws: JSONPatch.ApplyError.self) { try JSONPatch.apply([.init(op: .add, path: "/5", value: 1)], to: [1]) }
        #expect(throws: JSONPatch.ApplyError.self) { try JSONPatch.apply([.init(op: .replace, path: "a", value: 1)], to: [:]) }
    }

    /// Random documents (a fixed seed): every diff applied to its source gives its target.
    @Test func randomDocumentsRoundTrip() throws {
        var rng = SplitMix(seed: 20_261_207)
        for _ in 0..<500 {
            let a = Self.document(&rng, depth: 3)
            let b = Self.mutate(a, &rng, depth: 3)
            let ops = JSONPatch.diff(from: a, to: b)
            let applied = try JSONPatch.apply(ops, to: a)
            #expect(applied.jsonEquals(b), "\(a.canonicalString) → \(b.canonicalString) via \(ops.map(\.json.canonicalString))")
        }
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static func scalar(_ rng: inout SplitMix) -> JSONValue {
        switch rng.below(5) {
        case 0: return .null
        case 1: return .bool(rng.below(2) == 0)
        case 2: return .int(Int64(rng.below(10)))
        case 3: return .string(["a", "b", "x/y", "~"][rng.below(4)])
        default: return .double(Double(rng.below(100)) / 4)
        }
    }

    static func document(_ rng: inout SplitMix, depth: Int) -> JSONValue {
        guard depth > 0, rng.below(3) > 0 else { return scalar(&rng) }
        if rng.below(2) == 0 {
            return .array((0..<rng.below(5)).map { _ in document(&rng, depth: depth - 1) })
        }
        var o: [String: JSONValue] = [:]
        for _ in 0..<rng.below(5) { o[["k", "l", "m/n", "o~p", ""][rng.below(5)]] = document(&rng, depth: depth - 1) }
        return .object(o)
    }

    static func mutate(_ v: JSONValue, _ rng: inout SplitMix, depth: Int) -> JSONValue {
        if rng.below(6) == 0 { return document(&rng, depth: depth) }
        switch v {
        case .array(var a):
            if !a.isEmpty, rng.below(3) == 0 { a.remove(at: rng.below(a.count)) }
            if rng.below(3) == 0 { a.insert(document(&rng, depth: depth - 1), at: rng.below(a.count + 1)) }
            return .array(a.map { mutate($0, &rng, depth: depth - 1) })
        case .object(var o):
            if let k = o.keys.sorted().first, rng.below(3) == 0 { o[k] = nil }
            if rng.below(3) == 0 { o["new"] = document(&rng, depth: depth - 1) }
            return .object(o.mapValues { mutate($0, &rng, depth: depth - 1) })
        default:
            return rng.below(2) == 0 ? v : scalar(&rng)
        }
    }
}

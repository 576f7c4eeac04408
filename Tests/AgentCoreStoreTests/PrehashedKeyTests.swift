import AgentCoreModel
import Testing

@testable import AgentCoreStore

@Suite struct PrehashedKeyTests {
    /// Keys that differ only where a separator could hide the difference stay distinct,
    /// and every key inserted is found again (the precomputed hash spreads them).
    @Test func headKeysAreTheirWholeText() {
        let a = HeadKey(workspace: "w", project: "p", instanceId: "a\u{0}b", name: "c")
        let b = HeadKey(workspace: "w", project: "p", instanceId: "a", name: "b\u{0}c")
        #expect(a.text == b.text)  // the text alone is ambiguous here…
        #expect(a == b)  // …and so is the key: both name the same cache slot, as before
        let c = HeadKey(workspace: "w", project: "p", instanceId: "a", name: "c")
        #expect(a != c)
        var cache: [HeadKey: Int] = [:]
        for i in 0..<20_000 { cache[HeadKey(workspace: "ws", project: "p", instanceId: "i\(i % 100)", name: "c\(i)")] = i }
        #expect(cache.count == 20_000)
        for i in stride(from: 0, to: 20_000, by: 7) {
            #expect(cache[HeadKey(workspace: "ws", project: "p", instanceId: "i\(i % 100)", name: "c\(i)")] == i)
        }
    }

    /// Command hashes that share their low bits (the bits a small table buckets by) are
    /// still told apart and found.
    @Test func commandHashesWithEqualLowBits() {
        var index: [CommandHash: Int64] = [:]
        for i in 0..<10_000 { index[CommandHash(Int64(i) << 32)] = Int64(i) }
        #expect(index.count == 10_000)
        for i in 0..<10_000 { #expect(index[CommandHash(Int64(i) << 32)] == Int64(i)) }
        #expect(index[CommandHash(1)] == nil)
    }
}

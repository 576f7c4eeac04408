import AgentCoreModel

// Keys of the applying thread's per-record dictionaries. `Dictionary` runs SipHash over
// every key it looks up (seeded per process, to resist chosen collisions); these keys carry
// a hash worked out beforehand instead: the one the batch's helper thread computed while
// decoding (`HeadKey`). Equality still compares the whole key, so a hash collision costs a
// probe, never a wrong answer.
//
// `_rawHashValue(seed:)` is the standard library's hook for a type that knows its own
// hash; the seed (per dictionary) is mixed in so that layouts still differ per table.

/// Final mix of a 64-bit hash (MurmurHash3's fmix64): every input bit moves the low bits
/// that pick a bucket.
@inline(__always) func mixHash(_ h: UInt64) -> Int {
    var x = h
    x ^= x >> 33
    x = x &* 0xff51_afd7_ed55_8ccd
    x ^= x >> 33
    x = x &* 0xc4ce_b9fe_1a85_ec53
    x ^= x >> 33
    return Int(truncatingIfNeeded: x)
}

/// The key of a context in the head cache: workspace, project, instance and name, with
/// their hash.
struct HeadKey: Hashable, Sendable {
    let text: String
    let hash: Int

    init(workspace: String, project: String, instanceId: String, name: String) {
        text = workspace + "\u{0}" + project + "\u{0}" + instanceId + "\u{0}" + name
        hash = mixHash(FNV1a64.hash([text]))
    }

    static func == (a: HeadKey, b: HeadKey) -> Bool { a.hash == b.hash && a.text == b.text }
    func hash(into hasher: inout Hasher) { hasher.combine(hash) }
    func _rawHashValue(seed: Int) -> Int { hash ^ seed }
}

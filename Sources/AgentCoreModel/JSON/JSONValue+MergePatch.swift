extension JSONValue {
    /// RFC 7396 JSON Merge Patch: objects merge recursively, `null` removes a member,
    /// anything else replaces the target.
    public func applyingMergePatch(_ patch: JSONValue) -> JSONValue {
        guard case .object(let patchObject) = patch else { return patch }
        var target: [String: JSONValue]
        if case .object(let o) = self { target = o } else { target = [:] }
        for (key, value) in patchObject {
            if case .null = value {
                target.removeValue(forKey: key)
            } else {
                target[key] = (target[key] ?? .null).applyingMergePatch(value)
            }
        }
        return .object(target)
    }

    /// The seed's `set_config`: top-level keys of `update` are added or overwrite; other
    /// keys stay. Unlike a merge patch, `null` is stored as a value.
    public func mergingTopLevel(_ update: [String: JSONValue]) -> JSONValue {
        var target = objectValue ?? [:]
        for (k, v) in update { target[k] = v }
        return .object(target)
    }
}

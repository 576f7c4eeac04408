/// The six lifecycle statuses of an agent instance (the seed's `AgentStatus`).
public enum InstanceStatus: String, Sendable, CaseIterable, Codable {
    case idle, initializing, active, busy, error, offline

    /// Statuses reachable from this one by `instance.transition`. `offline` is also
    /// entered by the liveness sweep and `error` from anywhere, since failures are not
    /// scheduled. Re-entering the same status is a no-op refused as `invalid_transition`.
    ///
    /// | from \ to     | idle | initializing | active | busy | error | offline |
    /// |---------------|------|--------------|--------|------|-------|---------|
    /// | idle          |      | yes          | yes¹   |      | yes   | yes     |
    /// | initializing  | yes  |              | yes    |      | yes   | yes     |
    /// | active        | yes  |              |        | yes  | yes   | yes     |
    /// | busy          | yes  |              | yes    |      | yes   | yes     |
    /// | error         | yes  | yes          |        |      |       | yes     |
    /// | offline       | yes  | yes          |        |      | yes   |         |
    ///
    /// ¹ idle → active on an instance never initialised passes through `initializing`
    /// (two `instance.status_changed` events), as the seed's `activate()` calls
    /// `initialize()` first.
    public var allowedTargets: Set<InstanceStatus> {
        switch self {
        case .idle: return [.initializing, .active, .error, .offline]
        case .initializing: return [.idle, .active, .error, .offline]
        case .active: return [.idle, .busy, .error, .offline]
        case .busy: return [.idle, .active, .error, .offline]
        case .error: return [.idle, .initializing, .offline]
        case .offline: return [.idle, .initializing, .error]
        }
    }

    public func canTransition(to target: InstanceStatus) -> Bool { allowedTargets.contains(target) }
}

/// State of a context's last rollback (the seed's `ContextRollbackState`).
public enum RollbackState: String, Sendable, CaseIterable, Codable {
    case pending, success, failed
}

/// How `context.write` combines its data with the current version.
public enum WriteMode: String, Sendable, CaseIterable, Codable {
    /// The data becomes the new version as given.
    case replace
    /// RFC 7396 JSON Merge Patch applied to the current version's data.
    case mergePatch = "merge_patch"
}

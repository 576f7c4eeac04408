import AgentCoreModel
import AgentCoreStore
import ArgumentParser
import Foundation

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Read partition stores offline: instances, contexts, versions, data, canonical dumps.",
        discussion: "Stores are found in --data-dir as partition-<p>.sqlite; safe while workers run (SQLite WAL readers).",
        subcommands: [Definitions.self, Instances.self, Contexts.self, Versions.self, Read.self, Dump.self]
    )

    struct StoreOptions: ParsableArguments {
        @Option(help: "Directory of the stores. Default: $AGENTCORE_DATA_DIR or ./data.") var dataDir: String?

        var directory: String { dataDir ?? ProcessInfo.processInfo.environment["AGENTCORE_DATA_DIR"] ?? "./data" }

        /// Every store in the directory, by partition, opened read-only.
        func stores() throws -> [(Int32, StoreReader)] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            let parts = names.compactMap { n -> Int32? in
                guard n.hasPrefix("partition-"), n.hasSuffix(".sqlite") else { return nil }
                return Int32(n.dropFirst(10).dropLast(7))
            }.sorted()
            if parts.isEmpty { throw CLIError("no partition-<p>.sqlite stores in \(directory)") }
            return try parts.map { p in
                (p, try StoreReader(path: (directory as NSString).appendingPathComponent("partition-\(p).sqlite")))
            }
        }
    }

    struct Scope: ParsableArguments {
        @Option(help: "Workspace id.") var workspace: String
        @Option(help: "Project id.") var project: String
    }

    /// Says on standard error that a listing found nothing (standard output stays empty,
    /// for scripts).
    static func none(_ what: String, _ scope: Scope, in directory: String) {
        FileHandle.standardError.write(Data("no \(what) in \(scope.workspace)/\(scope.project) (stores in \(directory))\n".utf8))
    }

    struct Definitions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the agent definitions (every store holds them all).")
        @OptionGroup var store: StoreOptions
        func run() async throws {
            let stores = try store.stores()
            defer { for (_, s) in stores { s.close() } }
            // Each store holds the whole registry; the one that has seen most of it answers.
            let lists = try stores.map { try $0.1.definitions() }
            let best = lists.max { $0.map(\.revision).reduce(0, +) < $1.map(\.revision).reduce(0, +) } ?? []
            if best.isEmpty { FileHandle.standardError.write(Data("no definitions in \(store.directory)\n".utf8)) }
            for d in best {
                print(
                    JSONValue.object([
                        "slug": .string(d.slug), "name": .string(d.name), "agent_type": .string(d.agentType),
                        "enabled": .bool(d.isEnabled), "revision": .int(d.revision), "capabilities": d.capabilities,
                        "updated_at": .string(Timestamp.iso8601(millis: d.updatedAtMillis)),
                    ]).canonicalString
                )
            }
        }
    }

    struct Instances: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a project's instances.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var scope: Scope
        func run() async throws {
            var found = 0
            for (_, s) in try store.stores() {
                for i in try s.instances(workspace: scope.workspace, project: scope.project) {
                    found += 1
                    print(
                        JSONValue.object([
                            "instance_id": .string(i.id), "definition": .string(i.definition), "name": .string(i.name),
                            "status": .string(i.status.rawValue), "config": i.config, "state": i.state ?? .null,
                            "last_heartbeat": i.lastHeartbeatMillis.map { .string(Timestamp.iso8601(millis: $0)) } ?? .null,
                            "last_error": i.lastError.map(JSONValue.string) ?? .null,
                        ]).canonicalString
                    )
                }
                s.close()
            }
            if found == 0 { InspectCommand.none("instances", scope, in: store.directory) }
        }
    }

    struct Contexts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a project's contexts.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var scope: Scope
        @Option(help: "Only this instance.") var instance: String?
        func run() async throws {
            var found = 0
            for (_, s) in try store.stores() {
                for c in try s.contexts(workspace: scope.workspace, project: scope.project, instanceId: instance) {
                    found += 1
                    print(
                        JSONValue.object([
                            "context_id": .string(c.id), "instance_id": .string(c.instanceId), "name": .string(c.name),
                            "current_version": .int(c.currentVersion), "oldest_version": .int(c.oldestVersion),
                            "rollback_pointer": c.rollbackPointer.map(JSONValue.int) ?? .null,
                            "rollback_state": c.rollbackState.map { .string($0.rawValue) } ?? .null,
                        ]).canonicalString
                    )
                }
                s.close()
            }
            if found == 0 { InspectCommand.none(instance.map { "contexts of instance \($0)" } ?? "contexts", scope, in: store.directory) }
        }
    }

    struct Versions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A context's versions, newest first, paged.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var scope: Scope
        @Option(help: "Instance id.") var instance: String
        @Option(help: "Context name.") var name: String
        @Option(help: "Show versions below this one (paging).") var before: Int64?
        @Option(help: "Page size.") var limit = 20
        func run() async throws {
            var found = 0
            for (_, s) in try store.stores() {
                for v in try s.versions(
                    workspace: scope.workspace,
                    project: scope.project,
                    instanceId: instance,
                    name: name,
                    before: before,
                    limit: limit
                ) {
                    found += 1
                    print(
                        JSONValue.object([
                            "version": .int(v.version), "byte_size": .int(v.byteSize), "mode": .string(v.mode),
                            "created_by": .string(v.createdBy), "description": v.description.map(JSONValue.string) ?? .null,
                            "created_at": .string(Timestamp.iso8601(millis: v.createdAtMillis)),
                        ]).canonicalString
                    )
                }
                s.close()
            }
            if found == 0 { InspectCommand.none("versions of \(instance)/\(name)\(before.map { " below \($0)" } ?? "")", scope, in: store.directory) }
        }
    }

    struct Read: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a context's data at a version (default: current).")
        @OptionGroup var store: StoreOptions
        @OptionGroup var scope: Scope
        @Option(help: "Instance id.") var instance: String
        @Option(help: "Context name.") var name: String
        @Option(help: "Version (default: current).") var version: Int64?
        func run() async throws {
            for (_, s) in try store.stores() {
                defer { s.close() }
                if let v = try s.read(workspace: scope.workspace, project: scope.project, instanceId: instance, name: name, version: version) {
                    print(v.data.canonicalString)
                    return
                }
            }
            throw CLIError("no such context or version (it may have been pruned by the history limit)")
        }
    }

    struct Dump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Canonical dump of all state (equal stores, equal dumps), or its hash with --hash.",
            discussion: "Times print as RFC 3339; --exact prints them as stored (epoch milliseconds), as --hash hashes them."
        )
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print only an FNV-1a 64 hash of the exact dump.") var hash = false
        @Flag(help: "Times as stored (epoch milliseconds): the dump to compare between stores.") var exact = false
        func run() async throws {
            var all = ""
            for (p, s) in try store.stores() {
                let d = try s.canonicalDump(isoTimes: !(hash || exact))
                s.close()
                all += hash ? d : d.split(separator: "\n").map { "\(p)\t\($0)" }.joined(separator: "\n") + (d.isEmpty ? "" : "\n")
            }
            print(hash ? FNV1a64.hex([all]) : all, terminator: hash ? "\n" : "")
        }
    }
}

import AgentCoreModel
import AgentCoreStore
import ArgumentParser
import Foundation

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Read partition stores offline: instances, contexts, versions, data, canonical dumps.",
        discussion: "Stores are found in --data-dir as partition-<p>.sqlite; safe while workers run (SQLite WAL readers).",
        subcommands: [Instances.self, Contexts.self, Versions.self, Read.self, Dump.self])

    struct StoreOptions: ParsableArguments {
        @Option(help: "Directory of the stores. Default: $AGENTCORE_DATA_DIR or ./data.") var dataDir: String?

        var directory: String { dataDir ?? ProcessInfo.processInfo.environment["AGENTCORE_DATA_DIR"] ?? "./data" }

        /// Every store in the directory, by partition.
        func stores() throws -> [(Int32, PartitionStore)] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            let parts = names.compactMap { n -> Int32? in
                guard n.hasPrefix("partition-"), n.hasSuffix(".sqlite") else { return nil }
                return Int32(n.dropFirst(10).dropLast(7))
            }.sorted()
            if parts.isEmpty { throw CLIError("no partition-<p>.sqlite stores in \(directory)") }
            return try parts.map { p in
                (p, try PartitionStore(path: (directory as NSString).appendingPathComponent("partition-\(p).sqlite"), partition: p))
            }
        }
    }

    struct Scope: ParsableArguments {
        @Option(help: "Workspace id.") var workspace: String
        @Option(help: "Project id.") var project: String
    }

    struct Instances: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a project's instances.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var scope: Scope
        func run() async throws {
            for (_, s) in try store.stores() {
                for i in try s.instances(workspace: scope.workspace, project: scope.project) {
                    print(JSONValue.object([
                        "instance_id": .string(i.id), "definition": .string(i.definition), "name": .string(i.name),
                        "status": .string(i.status.rawValue), "config": i.config, "state": i.state ?? .null,
                        "last_heartbeat": i.lastHeartbeatMillis.map { .string(Timestamp.iso8601(millis: $0)) } ?? .null,
                        "last_error": i.lastError.map(JSONValue.string) ?? .null,
                    ]).canonicalString)
                }
                s.close()
            }
        }
    }

    struct Contexts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a project's contexts.")
        @OptionGroup var store: StoreOptions
        @OptionGroup var scope: Scope
        @Option(help: "Only this instance.") var instance: String?
        func run() async throws {
            for (_, s) in try store.stores() {
                for c in try s.contexts(workspace: scope.workspace, project: scope.project, instanceId: instance) {
                    print(JSONValue.object([
                        "context_id": .string(c.id), "instance_id": .string(c.instanceId), "name": .string(c.name),
                        "current_version": .int(c.currentVersion), "oldest_version": .int(c.oldestVersion),
                        "rollback_pointer": c.rollbackPointer.map(JSONValue.int) ?? .null,
                        "rollback_state": c.rollbackState.map { .string($0.rawValue) } ?? .null,
                    ]).canonicalString)
                }
                s.close()
            }
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
            for (_, s) in try store.stores() {
                for v in try s.versions(
                    workspace: scope.workspace, project: scope.project, instanceId: instance, name: name, before: before, limit: limit)
                {
                    print(JSONValue.object([
                        "version": .int(v.version), "byte_size": .int(v.byteSize), "mode": .string(v.mode),
                        "created_by": .string(v.createdBy), "description": v.description.map(JSONValue.string) ?? .null,
                        "created_at": .string(Timestamp.iso8601(millis: v.createdAtMillis)),
                    ]).canonicalString)
                }
                s.close()
            }
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
            abstract: "Canonical dump of all state (equal stores, equal dumps), or its hash with --hash.")
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print only an FNV-1a 64 hash of the dump.") var hash = false
        func run() async throws {
            var all = ""
            for (p, s) in try store.stores() {
                let d = try s.canonicalDump()
                s.close()
                all += hash ? d : d.split(separator: "\n").map { "\(p)\t\($0)" }.joined(separator: "\n") + (d.isEmpty ? "" : "\n")
            }
            print(hash ? FNV1a64.hex([all]) : all, terminator: hash ? "\n" : "")
        }
    }
}

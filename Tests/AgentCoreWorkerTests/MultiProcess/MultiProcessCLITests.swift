import Foundation
import Testing

/// The newcomer's path with real processes: `agentcore broker`, one `agentcore worker`,
/// then `agentcore send --wait` and `agentcore tail`.
@Suite(.serialized) struct MultiProcessCLITests {
    /// Runs the binary to completion; returns exit status and standard output.
    func run(_ args: [String], timeout: Double = 60) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = try agentcoreBinary()
        p.arguments = args
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        return (
            p.terminationStatus, String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        )
    }

    @Test func brokerWorkerSendWaitAndTail() throws {
        let port = 29_000 + Int(getpid() % 1000)
        let brokers = "127.0.0.1:\(port)"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agentcore-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let broker = Process()
        broker.executableURL = try agentcoreBinary()
        broker.arguments = ["broker", "--port", String(port), "--partitions", "4"]
        let brokerOut = Pipe()
        broker.standardOutput = brokerOut
        try broker.run()
        defer {
            broker.terminate()
            broker.waitUntilExit()
        }
        Thread.sleep(forTimeInterval: 1)
        let worker = try WorkerProcess(id: "cli-w", brokers: brokers, prefix: "agentcore", dataDir: dir.path, logDir: dir)
        defer { _ = worker.terminate() }
        #expect(worker.waitUntilAssigned())

        let register = try run([
            "send", "--brokers", brokers, "--type", "definition.register", "--workspace", "acme",
            "--payload", #"{"slug":"coder","name":"Coder","agent_type":"llm"}"#, "--wait",
        ])
        #expect(register.status == 0, "\(register.err)")
        #expect(register.out.contains("\"definition.registered\""))
        let spawn = try run([
            "send", "--brokers", brokers, "--type", "instance.spawn", "--workspace", "acme", "--project", "web",
            "--payload", #"{"definition":"coder","name":"c1","instance_id":"c1"}"#, "--wait",
        ])
        #expect(spawn.status == 0, "\(spawn.err)")
        #expect(spawn.out.contains("\"instance.spawned\""))
        let rejected = try run([
            "send", "--brokers", brokers, "--type", "instance.transition", "--workspace", "acme", "--project", "web",
            "--payload", #"{"instance_id":"c1","to":"busy"}"#, "--wait",
        ])
        #expect(rejected.status == 2, "rejected commands exit 2: \(rejected.err)")
        #expect(rejected.out.contains("invalid_transition"))
        let invalid = try run(["send", "--brokers", brokers, "--type", "instance.spawn", "--workspace", "acme"])
        #expect(invalid.status != 0)
        #expect(invalid.err.contains("project_id"))

        // A whole envelope from a file.
        let file = dir.appendingPathComponent("write.json")
        try Data(
            #"{"schema":"agentcore.command/v1","id":"file-1","type":"context.write","workspace_id":"acme","project_id":"web","actor":"cli","payload":{"instance_id":"c1","name":"plan","data":{"step":1}}}"#
                .utf8
        ).write(to: file)
        let fromFile = try run(["send", "--brokers", brokers, "--file", file.path, "--wait"])
        #expect(fromFile.status == 0, "\(fromFile.err)")
        #expect(fromFile.out.contains("\"context.version_created\""))

        let tail = try run(["tail", "--brokers", brokers, "--topic", "status", "--limit", "2"], timeout: 30)
        #expect(tail.status == 0)
        #expect(tail.out.contains("definition.registered"))
        #expect(tail.out.contains("instance.spawned"))

        let stop = worker.terminate()
        #expect(stop.status == 0)
        let inspect = try run(["inspect", "instances", "--data-dir", dir.path, "--workspace", "acme", "--project", "web"])
        #expect(inspect.status == 0)
        #expect(inspect.out.contains(#""instance_id":"c1""#))
        #expect(inspect.out.contains(#""status":"idle""#))
        let read = try run([
            "inspect", "read", "--data-dir", dir.path, "--workspace", "acme", "--project", "web", "--instance", "c1", "--name", "plan",
        ])
        #expect(read.out.trimmingCharacters(in: .whitespacesAndNewlines) == #"{"step":1}"#)
        let hash = try run(["inspect", "dump", "--data-dir", dir.path, "--hash"])
        #expect(hash.status == 0)
        #expect(hash.out.trimmingCharacters(in: .whitespacesAndNewlines).count == 16)
        let otherTenant = try run([
            "inspect", "read", "--data-dir", dir.path, "--workspace", "evil", "--project", "web", "--instance", "c1", "--name", "plan",
        ])
        #expect(otherTenant.status != 0, "another workspace sees nothing")
    }

    @Test func helpReadsWellForEveryCommand() throws {
        for cmd in [[], ["dev"], ["broker"], ["worker"], ["topics", "create"], ["send"], ["tail"], ["inspect", "dump"], ["bench", "store"]] {
            let r = try run(cmd + ["--help"])
            #expect(r.status == 0, "\(cmd)")
            #expect(r.out.contains("USAGE: agentcore"), "\(cmd)")
        }
    }
}

import Foundation
import Testing

/// The built `agentcore` binary, next to the test bundle in the build directory.
func agentcoreBinary() throws -> URL {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("agentcore")
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    let fallback = root.appendingPathComponent(".build/debug/agentcore")
    guard FileManager.default.fileExists(atPath: fallback.path) else {
        throw CLIMissing(message: "agentcore binary not found; run `swift build` first")
    }
    return fallback
}

struct CLIMissing: Error { var message: String }

/// One `agentcore` process (a worker, unless told otherwise) with its output in a log file.
final class WorkerProcess: @unchecked Sendable {
    let id: String
    let process = Process()
    let log: URL

    convenience init(id: String, brokers: String, prefix: String, dataDir: String, logDir: URL, extra: [String] = []) throws {
        try self.init(
            id: id,
            arguments: [
                "worker", "--brokers", brokers, "--mock-broker", "--topic-prefix", prefix, "--data-dir", dataDir,
                "--worker-id", id, "--group", "\(prefix)-group", "--heartbeat-interval-ms", "1000", "--shutdown-timeout-ms", "20000",
                "--log-level", "info", "--http-addr", "127.0.0.1:0",
            ] + extra,
            logDir: logDir
        )
    }

    /// Any `agentcore` subcommand, e.g. `agents run`.
    init(id: String, arguments: [String], logDir: URL) throws {
        self.id = id
        log = logDir.appendingPathComponent("\(id)-\(UUID().uuidString.prefix(4)).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = try agentcoreBinary()
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"  // a crash exits at once; its log line is enough
        process.environment = env
        try process.run()
    }

    /// True once the process is gone or a zombie (Foundation may not have reaped it yet).
    var hasExited: Bool {
        if !process.isRunning { return true }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        let state = stat.split(separator: ")").last?.split(separator: " ").first
        return state == "Z" || state == "X"
    }

    /// Exit status once exited; -2 when the process died without Foundation seeing it.
    private var status: Int32 { process.isRunning ? -2 : process.terminationStatus }

    private func waitForExit(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !hasExited && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return hasExited
    }

    var pid: Int32 { process.processIdentifier }

    func kill9() {
        kill(pid, SIGKILL)
        _ = waitForExit(seconds: 30)
    }

    /// A test that ends early (an error before its `terminate()`) leaves no worker running.
    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
    }

    /// Sends SIGTERM and waits; returns the exit status and how long it took.
    func terminate(within seconds: Double = 30, signal: Int32 = SIGTERM) -> (status: Int32, seconds: Double) {
        let start = Date()
        kill(pid, signal)
        if !waitForExit(seconds: seconds) {
            kill(pid, SIGKILL)
            _ = waitForExit(seconds: 10)
            return (-1, Date().timeIntervalSince(start))
        }
        Thread.sleep(forTimeInterval: 0.1)  // let Foundation record the status
        return (status, Date().timeIntervalSince(start))
    }

    /// Waits until the worker logged that it holds partitions.
    @discardableResult
    func waitUntilAssigned(seconds: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if output.contains("assigned") { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Waits until the log holds `text` at least `count` times.
    @discardableResult
    func waitForLog(_ text: String, count: Int = 1, seconds: Double = 120) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if output.components(separatedBy: text).count - 1 >= count { return true }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return false
    }

    /// SIGSTOP / SIGCONT: a worker that stops answering without dying (a zombie).
    func pause() { kill(pid, SIGSTOP) }
    func resume() { kill(pid, SIGCONT) }
}

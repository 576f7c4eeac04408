import Foundation
import Testing

@testable import AgentCoreModel

/// Runs the wire-contract examples under `schemas/examples` through the Swift model so the JSON
/// Schemas and the decoder cannot drift apart. `scripts/check_schemas.py` checks the same
/// examples against the schemas.
@Suite struct SchemaExamplesTests {
    /// The repository root: this file is `<root>/Tests/AgentCoreModelTests/SchemaExamplesTests.swift`.
    static func repoRoot() -> URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // AgentCoreModelTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // repository root
    }

    static func schemaFile(_ relative: String) -> URL {
        repoRoot().appendingPathComponent("schemas").appendingPathComponent(relative)
    }

    /// The `.json` files of a directory under `schemas/examples`, sorted by name.
    static func exampleFiles(_ relative: String) throws -> [URL] {
        let dir = schemaFile("examples/" + relative)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        return names.filter { $0.hasSuffix(".json") }.sorted().map { dir.appendingPathComponent($0) }
    }

    static func readBytes(_ url: URL) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url))
    }

    static func readJSON(_ url: URL) throws -> JSONValue {
        let bytes = try readBytes(url)
        return try JSONParser.parse(bytes)
    }

    /// The string values of `properties.<property>.enum` in a schema file.
    static func schemaEnum(_ file: String, property: String) throws -> [String] {
        let schema = try readJSON(schemaFile(file))
        let values = try #require(
            schema["properties"]?[property]?["enum"]?.arrayValue,
            "\(file) has no properties.\(property).enum"
        )
        return values.compactMap(\.stringValue)
    }

    enum Outcome {
        case accepted(CommandEnvelope, Command)
        case deadLetter(DeadLetterError)
        case rejected(CommandRejection)
    }

    /// The two decoding stages: `decodeEnvelope` throws `DeadLetterError` (envelope problems),
    /// `decodeCommand` throws `CommandRejection` (payload problems).
    static func decode(_ bytes: [UInt8]) -> Outcome {
        let decoder = CommandDecoder()
        let envelope: CommandEnvelope
        do {
            envelope = try decoder.decodeEnvelope(bytes)
        } catch {
            return .deadLetter(error)
        }
        do {
            let command = try decoder.decodeCommand(envelope)
            return .accepted(envelope, command)
        } catch {
            return .rejected(error)
        }
    }

    @Test func validCommandExamplesDecode() throws {
        let files = try Self.exampleFiles("commands/valid")
        #expect(!files.isEmpty)
        var types: Set<String> = []
        for file in files {
            let name = file.lastPathComponent
            let bytes = try Self.readBytes(file)
            switch Self.decode(bytes) {
            case .accepted(let envelope, _):
                types.insert(envelope.type)
                // The envelope serialises back to the example (same fields, same values).
                let parsed = try JSONParser.parse(bytes)
                #expect(envelope.json.jsonEquals(parsed), "\(name): envelope does not round-trip")
            case .deadLetter(let error):
                Issue.record("\(name): dead-lettered as \(error.reason.rawValue): \(error.message)")
            case .rejected(let rejection):
                Issue.record(
                    "\(name): rejected as \(rejection.code.rawValue) at \(rejection.field ?? "-"): \(rejection.message)"
                )
            }
        }
        #expect(types == Set(CommandType.allCases.map(\.rawValue)), "every command type needs a valid example")
    }

    @Test func invalidCommandExamplesFailAsExpected() throws {
        let files = try Self.exampleFiles("commands/invalid")
        #expect(!files.isEmpty)
        for file in files {
            let name = file.lastPathComponent
            let doc = try Self.readJSON(file)
            let record = try #require(doc["record"], "\(name): no record")
            let expect = try #require(doc["expect"]?.objectValue, "\(name): no expect object")
            let outcome = Self.decode(record.canonicalBytes)
            if let reason = expect["dead_letter"]?.stringValue {
                guard case .deadLetter(let error) = outcome else {
                    Issue.record("\(name): expected dead letter \(reason), got \(outcome)")
                    continue
                }
                #expect(error.reason.rawValue == reason, "\(name): \(error.message)")
            } else if let code = expect["rejected"]?.stringValue {
                guard case .rejected(let rejection) = outcome else {
                    Issue.record("\(name): expected rejection \(code), got \(outcome)")
                    continue
                }
                #expect(rejection.code.rawValue == code, "\(name): \(rejection.message)")
                #expect(rejection.field == expect["field"]?.stringValue, "\(name): \(rejection.message)")
            } else {
                Issue.record("\(name): expect needs dead_letter or rejected")
            }
        }
    }

    @Test func eventExamplesRoundTrip() throws {
        let files = try Self.exampleFiles("events")
        #expect(!files.isEmpty)
        var types: Set<EventType> = []
        for file in files {
            let name = file.lastPathComponent
            let bytes = try Self.readBytes(file)
            let parsed = try JSONParser.parse(bytes)
            let event = try Event(bytes: bytes)
            types.insert(event.type)
            #expect(event.json.jsonEquals(parsed), "\(name): event does not round-trip")
            #expect(name == event.type.rawValue + ".json", "\(name): file name should be the event type")
        }
        #expect(types == Set(EventType.allCases), "every event type needs an example")
    }

    /// The dead-letter example is what `DeadLetter.json` makes of the record it describes.
    @Test func deadLetterExampleMatchesDecoder() throws {
        let example = try Self.readJSON(Self.schemaFile("examples/dead-letter.json"))
        func base64(_ v: JSONValue?) throws -> [UInt8]? {
            guard let text = v?.stringValue else { return nil }
            return [UInt8](try #require(Data(base64Encoded: text), "not base64: \(text)"))
        }
        let source = try #require(example["source"])
        let topic = try #require(source["topic"]?.stringValue)
        let partition = try #require(source["partition"]?.intValue)
        let offset = try #require(source["offset"]?.intValue)
        let stamp = try #require(source["timestamp"]?.stringValue)
        let millis = try #require(Timestamp.parseMillis(stamp), "not a timestamp: \(stamp)")
        var headers: [RecordHeader] = []
        for h in try #require(example["headers"]?.arrayValue) {
            let key = try #require(h["key"]?.stringValue)
            let value = try base64(h["value_base64"])
            headers.append(RecordHeader(key: key, value: value))
        }
        let key = try base64(example["key_base64"])
        let value = try #require(try base64(example["value_base64"]), "the example needs a value")
        let record = InputRecord(
            stream: .commands,
            topic: topic,
            partition: Int32(partition),
            offset: offset,
            timestampMillis: millis,
            key: key,
            value: value,
            headers: headers
        )
        guard case .deadLetter(let error) = Self.decode(value) else {
            Issue.record("the dead-letter example's value is not dead-lettered by decodeEnvelope")
            return
        }
        #expect(error.reason.rawValue == example["reason"]?.stringValue)
        #expect(error.message == example["message"]?.stringValue)
        let id = Event.id(topic: topic, partition: Int32(partition), offset: offset, index: 0)
        #expect(DeadLetter.json(for: record, id: id, error: error).jsonEquals(example))
    }

    @Test func rejectionCodesMatchSchema() throws {
        let values = try Self.schemaEnum("events/command.rejected.schema.json", property: "code")
        #expect(values.count == Set(values).count)
        #expect(Set(values) == Set(RejectionCode.allCases.map(\.rawValue)))
    }

    @Test func deadLetterReasonsMatchSchema() throws {
        let values = try Self.schemaEnum("dead-letter.schema.json", property: "reason")
        #expect(values.count == Set(values).count)
        #expect(Set(values) == Set(DeadLetterReason.allCases.map(\.rawValue)))
    }

    @Test func commandAndEventTypesMatchSchemas() throws {
        let commands = try Self.schemaEnum("command-envelope.schema.json", property: "type")
        #expect(Set(commands) == Set(CommandType.allCases.map(\.rawValue)))
        let events = try Self.schemaEnum("event-envelope.schema.json", property: "type")
        #expect(Set(events) == Set(EventType.allCases.map(\.rawValue)))
        for type in CommandType.allCases {
            let file = Self.schemaFile("commands/\(type.rawValue).schema.json")
            #expect(FileManager.default.fileExists(atPath: file.path), "missing \(file.lastPathComponent)")
        }
        for type in EventType.allCases {
            let file = Self.schemaFile("events/\(type.rawValue).schema.json")
            #expect(FileManager.default.fileExists(atPath: file.path), "missing \(file.lastPathComponent)")
        }
    }

    @Test func instanceStatusesMatchSchema() throws {
        let common = try Self.readJSON(Self.schemaFile("common.schema.json"))
        let values = try #require(common["$defs"]?["instanceStatus"]?["enum"]?.arrayValue)
        #expect(Set(values.compactMap(\.stringValue)) == Set(InstanceStatus.allCases.map(\.rawValue)))
    }
}

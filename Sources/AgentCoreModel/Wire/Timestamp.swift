/// Formats Kafka record timestamps (milliseconds since the epoch, UTC) as RFC 3339
/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, without Foundation's locale- and clock-dependent formatters.
public enum Timestamp {
    /// 9999-12-31T23:59:59.999Z, the last instant RFC 3339 can write with four-digit years.
    public static let maxMillis: Int64 = 253_402_300_799_999

    /// Record timestamps outside 0001…9999 (or librdkafka's -1 for "none") are clamped into
    /// the range, so any input formats and no arithmetic overflows.
    public static func clamped(_ millis: Int64) -> Int64 {
        min(max(millis, -62_135_596_800_000), maxMillis)
    }

    public static func iso8601(millis rawMillis: Int64) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        writeISO8601(millis: rawMillis, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the 24 bytes of `iso8601(millis:)` (ASCII digits and separators only, so
    /// they need no JSON escaping).
    public static func writeISO8601(millis rawMillis: Int64, to buffer: inout [UInt8]) {
        let millis = clamped(rawMillis)
        let ms = Int((millis % 1000 + 1000) % 1000)
        let secs = (millis - Int64(ms)) / 1000
        var days = secs / 86_400
        var rem = secs % 86_400
        if rem < 0 {
            rem += 86_400
            days -= 1
        }
        // Civil-from-days (Howard Hinnant).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        var y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        if m <= 2 { y += 1 }
        var out: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes, on the stack
        withUnsafeMutableBytes(of: &out) { out in
            func put(_ v: Int64, at i: Int, width w: Int) {
                var v = v
                for k in stride(from: i + w - 1, through: i, by: -1) {
                    out[k] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
            }
            put(y, at: 0, width: 4)
            out[4] = UInt8(ascii: "-")
            put(m, at: 5, width: 2)
            out[7] = UInt8(ascii: "-")
            put(d, at: 8, width: 2)
            out[10] = UInt8(ascii: "T")
            put(rem / 3600, at: 11, width: 2)
            out[13] = UInt8(ascii: ":")
            put(rem % 3600 / 60, at: 14, width: 2)
            out[16] = UInt8(ascii: ":")
            put(rem % 60, at: 17, width: 2)
            out[19] = UInt8(ascii: ".")
            put(Int64(ms), at: 20, width: 3)
            out[23] = UInt8(ascii: "Z")
            buffer.append(contentsOf: out)
        }
    }
}

// A small strict JSON parser (RFC 8259) for safetensors headers: objects keep their order and
// refuse duplicate keys, integers are exact (no detour through Double), and errors carry the
// byte offset. Foundation's JSONSerialization silently keeps one of two duplicate keys.
import Foundation

indirect enum JSONValue: Equatable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case integer(Int)
    case number(Double)
    case bool(Bool)
    case null

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.array(x), .array(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.integer(x), .integer(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.bool(x), .bool(y)): x == y
        case (.null, .null): true
        default: false
        }
    }
}

struct JSONParser {
    struct Failure: Error { var offset: Int; var message: String }

    private let b: [UInt8]
    private var i = 0
    private var depth = 0

    /// Parses one JSON value filling `bytes` (trailing whitespace allowed).
    static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        var p = JSONParser(b: bytes)
        let v = try p.value()
        p.skip()
        guard p.i == bytes.count else { throw Failure(offset: p.i, message: "trailing bytes after the JSON value") }
        return v
    }

    private init(b: [UInt8]) { self.b = b }

    private mutating func skip() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    private mutating func value() throws(Failure) -> JSONValue {
        skip()
        guard i < b.count else { throw Failure(offset: i, message: "unexpected end of the JSON") }
        switch b[i] {
        case UInt8(ascii: "{"):
            depth += 1
            guard depth <= 64 else { throw Failure(offset: i, message: "JSON nested deeper than 64") }
            defer { depth -= 1 }
            i += 1
            var pairs: [(String, JSONValue)] = []
            var seen = Set<String>()
            skip()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
            while true {
                skip()
                let at = i
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw Failure(offset: i, message: "expected a string key") }
                let k = try string()
                guard seen.insert(k).inserted else { throw Failure(offset: at, message: "duplicate key '\(k)'") }
                skip()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw Failure(offset: i, message: "expected ':'") }
                i += 1
                pairs.append((k, try value()))
                skip()
                guard i < b.count else { throw Failure(offset: i, message: "unexpected end of the JSON") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                throw Failure(offset: i, message: "expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            depth += 1
            guard depth <= 64 else { throw Failure(offset: i, message: "JSON nested deeper than 64") }
            defer { depth -= 1 }
            i += 1
            var items: [JSONValue] = []
            skip()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                items.append(try value())
                skip()
                guard i < b.count else { throw Failure(offset: i, message: "unexpected end of the JSON") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw Failure(offset: i, message: "expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            return try number()
        }
    }

    private mutating func literal(_ word: String) throws(Failure) {
        let w = Array(word.utf8)
        guard b.count - i >= w.count, Array(b[i ..< i + w.count]) == w else { throw Failure(offset: i, message: "invalid JSON token") }
        i += w.count
    }

    private mutating func number() throws(Failure) -> JSONValue {
        let start = i
        while i < b.count, "+-0123456789.eE".utf8.contains(b[i]) { i += 1 }
        let text = String(decoding: b[start ..< i], as: UTF8.self)
        guard !text.isEmpty else { throw Failure(offset: start, message: "invalid JSON token") }
        if let n = Int(text) { return .integer(n) }
        if text.allSatisfy({ $0 == "-" || $0.isNumber }) { throw Failure(offset: start, message: "integer \(text) does not fit in 64 bits") }
        guard let d = Double(text) else { throw Failure(offset: start, message: "invalid number '\(text)'") }
        return .number(d)
    }

    private mutating func string() throws(Failure) -> String {
        let start = i
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < b.count else { throw Failure(offset: start, message: "unterminated string") }
            let c = b[i]
            i += 1
            if c == UInt8(ascii: "\"") { break }
            guard c >= 0x20 else { throw Failure(offset: i - 1, message: "control character in a string") }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard i < b.count else { throw Failure(offset: start, message: "unterminated string") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800 ..< 0xDC00).contains(code) {
                    guard b.count - i >= 2, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else { throw Failure(offset: i, message: "lone surrogate") }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00 ..< 0xE000).contains(low) else { throw Failure(offset: i, message: "lone surrogate") }
                    code = 0x10000 + (code - 0xD800) << 10 + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw Failure(offset: i, message: "invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: throw Failure(offset: i - 1, message: "invalid escape")
            }
        }
        guard let s = String(bytes: out, encoding: .utf8) else { throw Failure(offset: start, message: "string is not UTF-8") }
        return s
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard b.count - i >= 4, let v = UInt32(String(decoding: b[i ..< i + 4], as: UTF8.self), radix: 16) else {
            throw Failure(offset: i, message: "invalid \\u escape")
        }
        i += 4
        return v
    }
}

enum JSONWriter {
    /// A JSON string literal.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

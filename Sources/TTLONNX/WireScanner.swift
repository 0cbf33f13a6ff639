// A minimal protobuf wire-format walker (https://protobuf.dev/programming-guides/encoding/)
// that finds the `raw_data` of every initializer in a mapped ONNX file without reading it:
// ModelProto.graph (7) → GraphProto.initializer (5) → TensorProto.raw_data (9).
// It returns a copy of the file with those fields removed (small: structure and attributes
// only) for swift-protobuf to parse, and where each one lies, so the importer reads each
// tensor's bytes once, straight from the file, instead of holding the file mapped and a
// parsed copy of every weight at the same time.
import Foundation

struct WireScanner {
    struct Malformed: Error {}

    /// The file without initializer raw data, and per initializer index the byte range of its raw data.
    static func stripInitializerData(_ data: Data) throws -> (stripped: Data, spans: [Int: Range<Int>]) {
        var spans: [Int: Range<Int>] = [:]
        let stripped = try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Data in
            try rewrite(raw, 0 ..< raw.count) { field, range in
                guard field == 7 else { return nil }
                var index = 0
                return try rewrite(raw, range) { field, range in
                    guard field == 5 else { return nil }
                    defer { index += 1 }
                    let i = index
                    return try rewrite(raw, range) { field, range in
                        guard field == 9 else { return nil }
                        spans[i] = range
                        return Data()  // drop the field
                    }
                }
            }
        }
        return (stripped, spans)
    }

    /// Copies the message in `range`, letting `transform` replace the payload of
    /// length-delimited fields (nil keeps it; an empty result drops the field).
    static func rewrite(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>,
                        _ transform: (_ field: Int, _ payload: Range<Int>) throws -> Data?) throws -> Data {
        var out = Data()
        var i = range.lowerBound
        while i < range.upperBound {
            let start = i
            let key = try varint(raw, &i, range.upperBound)
            let field = Int(key >> 3), wire = Int(key & 7)
            switch wire {
            case 0: _ = try varint(raw, &i, range.upperBound)
            case 1: i += 8
            case 5: i += 4
            case 2:
                let length = try varint(raw, &i, range.upperBound)
                guard length <= UInt64(range.upperBound - i) else { throw Malformed() }
                let payload = i ..< i + Int(length)
                i = payload.upperBound
                if let replaced = try transform(field, payload) {
                    if replaced.isEmpty && field != 7 && field != 5 { continue }
                    appendVarint(&out, key)
                    appendVarint(&out, UInt64(replaced.count))
                    out.append(replaced)
                    continue
                }
            default: throw Malformed()
            }
            guard i <= range.upperBound else { throw Malformed() }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start ..< i]))
        }
        return out
    }

    static func varint(_ raw: UnsafeRawBufferPointer, _ i: inout Int, _ end: Int) throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard i < end, shift < 64 else { throw Malformed() }
            let b = raw[i]
            i += 1
            value |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return value }
            shift += 7
        }
    }

    static func appendVarint(_ out: inout Data, _ v: UInt64) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}

// Little-endian reads from untrusted bytes: every read is bounds-checked by the caller's
// `has(_:_:)` or returns nil, so nothing traps on a short or damaged file.
import Foundation

/// Bytes of a file (usually memory-mapped) with checked little-endian reads.
struct Bytes {
    let data: Data
    var count: Int { data.count }

    init(_ data: Data) { self.data = data }

    /// True when `length` bytes from `offset` lie inside the file (no overflow).
    func has(_ offset: Int, _ length: Int) -> Bool {
        guard offset >= 0, length >= 0 else { return false }
        let (end, overflow) = offset.addingReportingOverflow(length)
        return !overflow && end <= data.count
    }

    func u8(_ o: Int) -> UInt8? { has(o, 1) ? data[data.startIndex + o] : nil }

    func u16(_ o: Int) -> UInt16? {
        guard has(o, 2) else { return nil }
        let s = data.startIndex + o
        return UInt16(data[s]) | UInt16(data[s + 1]) << 8
    }

    func u32(_ o: Int) -> UInt32? {
        guard has(o, 4) else { return nil }
        let s = data.startIndex + o
        var v: UInt32 = 0
        for i in 0 ..< 4 { v |= UInt32(data[s + i]) << (8 * i) }
        return v
    }

    func u64(_ o: Int) -> UInt64? {
        guard has(o, 8) else { return nil }
        let s = data.startIndex + o
        var v: UInt64 = 0
        for i in 0 ..< 8 { v |= UInt64(data[s + i]) << (8 * i) }
        return v
    }

    /// `length` bytes from `offset`, sharing the file's storage.
    func slice(_ offset: Int, _ length: Int) -> Data? {
        guard has(offset, length) else { return nil }
        return data[data.startIndex + offset ..< data.startIndex + offset + length]
    }
}

/// `UInt64` from a file as an `Int`, nil when it does not fit.
func int(_ v: UInt64?) -> Int? {
    guard let v, v <= UInt64(Int.max) else { return nil }
    return Int(v)
}

/// Little-endian appends for the writers.
extension Array where Element == UInt8 {
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}

// A minimal protobuf wire-format walker (https://protobuf.dev/programming-guides/encoding/)
// that finds the `raw_data` of every initializer in an ONNX file without reading it:
// ModelProto.graph (7) → GraphProto.initializer (5) → TensorProto.raw_data (9).
// It returns a copy of the file with those fields removed (small: structure and attributes
// only) for swift-protobuf to parse, and where each one lies, so the importer reads each
// tensor's bytes once, straight from the file into the tensor. The file is read through a
// small window (``ReadOnlyFile``), never mapped: a mapping's pages count towards the
// process's memory once touched, and the kernel maps whole large folios around each touch.
import Foundation

/// Bytes the scanner walks: a buffer in memory or a file read through a window.
protocol WireBytes {
    var count: Int { get }
    func byte(at i: Int) throws -> UInt8
    /// Appends bytes `range` (inside `0 ..< count`) to `out`.
    func append(_ range: Range<Int>, to out: inout Data) throws
}

extension UnsafeRawBufferPointer: WireBytes {
    func byte(at i: Int) throws -> UInt8 { self[i] }
    func append(_ range: Range<Int>, to out: inout Data) throws { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: self[range])) }
}

/// A file opened for reading with `pread`, its bytes seen through a 64 KiB window.
final class ReadOnlyFile: WireBytes {
    let descriptor: Int32
    let count: Int
    private var window: [UInt8] = []
    private var windowStart = 0
    static let windowSize = 1 << 16

    struct Failure: Error { let message: String }

    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure(message: String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            _ = close(fd)
            throw Failure(message: "not a regular file")
        }
        descriptor = fd
        count = Int(info.st_size)
    }

    deinit { _ = close(descriptor) }

    /// Fills `buffer` with the bytes from `offset`; throws when the file ends first.
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard var p = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, p, buffer.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(message: n == 0 ? "ends at byte \(offset + done)" : String(cString: strerror(errno))) }
            done += n
            p += n
        }
    }

    func byte(at i: Int) throws -> UInt8 {
        if i < windowStart || i >= windowStart + window.count {
            guard i >= 0, i < count else { throw WireScanner.Malformed() }
            let length = min(Self.windowSize, count - i)
            var bytes = [UInt8](repeating: 0, count: length)
            try bytes.withUnsafeMutableBytes { try read(at: i, into: $0) }
            window = bytes
            windowStart = i
        }
        return window[i - windowStart]
    }

    func append(_ range: Range<Int>, to out: inout Data) throws {
        let start = out.count
        out.count += range.count
        try out.withUnsafeMutableBytes { all in
            try read(at: range.lowerBound, into: UnsafeMutableRawBufferPointer(rebasing: all[start ..< start + range.count]))
        }
    }
}

struct WireScanner {
    struct Malformed: Error {}

    /// The file without initializer raw data, and per initializer index the byte range of its raw data.
    static func stripInitializerData(_ data: Data) throws -> (stripped: Data, spans: [Int: Range<Int>]) {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in try stripInitializerData(raw) }
    }

    static func stripInitializerData(_ raw: some WireBytes) throws -> (stripped: Data, spans: [Int: Range<Int>]) {
        var spans: [Int: Range<Int>] = [:]
        let stripped = try rewrite(raw, 0 ..< raw.count) { field, range in
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
        return (stripped, spans)
    }

    /// Copies the message in `range`, letting `transform` replace the payload of
    /// length-delimited fields (nil keeps it; an empty result drops the field).
    static func rewrite(_ raw: some WireBytes, _ range: Range<Int>,
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
            try raw.append(start ..< i, to: &out)
        }
        return out
    }

    static func varint(_ raw: some WireBytes, _ i: inout Int, _ end: Int) throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard i < end, shift < 64 else { throw Malformed() }
            let b = try raw.byte(at: i)
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

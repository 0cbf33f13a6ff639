// Writing a protobuf message piece by piece (https://protobuf.dev/programming-guides/encoding/):
// a length-delimited field is its key, the varint length of its payload, then the payload, so a
// message whose payload sizes are known up front can be written in order without building it.
// ONNXExporter uses this to write each weight's `raw_data` straight from the tensor's buffer.
import Foundation

/// Where streamed protobuf bytes go.
protocol ProtobufSink {
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension ProtobufSink {
    mutating func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    mutating func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// The key and length of a length-delimited field (wire type 2) whose payload follows.
    mutating func writeFieldHeader(_ field: Int, length: Int) throws {
        try write(ProtobufWire.fieldHeader(field, length: length))
    }
}

enum ProtobufWire {
    /// The varint encoding of `v`.
    static func varint(_ v: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        var v = v
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }

    /// The key (`field << 3 | 2`) and length of a length-delimited field.
    static func fieldHeader(_ field: Int, length: Int) -> [UInt8] {
        varint(UInt64(field) << 3 | 2) + varint(UInt64(length))
    }

    /// The bytes a length-delimited field with a payload of `length` bytes takes.
    static func fieldSize(_ field: Int, length: Int) -> Int {
        varint(UInt64(field) << 3 | 2).count + varint(UInt64(length)).count + length
    }
}

/// Collects the bytes in memory.
struct DataSink: ProtobufSink {
    var data = Data()

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        data.append(contentsOf: bytes)
    }
}

/// Writes to a file descriptor: small pieces gathered in a buffer, large ones (weights) written
/// from their own memory.
struct FileSink: ProtobufSink {
    let descriptor: Int32
    let path: String
    private var buffer: [UInt8] = []
    static let bufferSize = 1 << 16

    /// Opens `path` for writing, created or truncated, mode 0644.
    init(creating path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw POSIXFailure(path: path, operation: "open") }
        descriptor = fd
        self.path = path
        buffer.reserveCapacity(Self.bufferSize)
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count <= Self.bufferSize {
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        if bytes.count <= Self.bufferSize {
            buffer.append(contentsOf: bytes)
        } else {
            try writeAll(bytes)
        }
    }

    mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes the file.
    mutating func close() throws {
        defer { _ = Foundation.close(descriptor) }
        try flush()
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Foundation.write(descriptor, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw POSIXFailure(path: path, operation: "write")
            }
            p += n
            left -= n
        }
    }
}

/// A failed system call on a file, with `strerror`'s text.
struct POSIXFailure: Error, CustomStringConvertible {
    let path: String
    let operation: String
    let message: String

    init(path: String, operation: String) {
        self.path = path
        self.operation = operation
        message = String(cString: strerror(errno))
    }

    var description: String { "\(operation): \(message)" }
}

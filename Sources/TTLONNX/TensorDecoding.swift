// TensorProto → values. Sizes come from the file, so every one is checked (non-negative,
// no overflow, agreeing with the bytes present) before anything is allocated for it.
// Spec: https://onnx.ai/onnx/repo-docs/IR.html#tensor-definition and onnx.proto (TensorProto).
import Foundation
import TTLCore

/// A constant read from an ONNX file: float data becomes a ``Tensor``; integer data stays
/// integers (shapes, axes, pads) for folding.
enum ONNXConstant {
    case float(Tensor)
    case integers([Int], Shape)

    var shape: Shape {
        switch self {
        case let .float(t): t.shape
        case let .integers(_, s): s
        }
    }

    var integers: [Int]? {
        switch self {
        case let .integers(v, _): v
        case let .float(t): t.scalars.allSatisfy { $0 == $0.rounded() && abs($0) < 1e15 } ? t.scalars.map { Int($0) } : nil
        }
    }

    var floatTensor: Tensor {
        switch self {
        case let .float(t): t
        case let .integers(v, s): Tensor(shape: s, scalars: v.map(Float.init))
        }
    }
}

/// Reads tensors of one model file, resolving external data relative to its folder.
struct TensorDecoder {
    let file: String
    /// The model's folder; nil when the model came from memory (external data then refused).
    let directory: URL?
    private var externalFiles: [String: Data] = [:]
    /// Whether any tensor was read from an external data file.
    var usedExternalData: Bool { !externalFiles.isEmpty }

    init(file: String, directory: URL?) {
        self.file = file
        self.directory = directory
    }

    func fail(_ name: String, _ problem: String) -> ONNXError { ONNXError(file: file, .tensor(name: name, problem: problem)) }

    mutating func decode(_ t: Onnx_TensorProto) throws(ONNXError) -> ONNXConstant {
        try decode(t, rawByteCount: nil) { _ throws(ONNXError) in }
    }

    /// Decodes `t`; with `rawByteCount`, its raw data was stripped: that many bytes, which `fill`
    /// writes into a buffer of that size (for float32, the tensor's own) once the sizes are checked.
    mutating func decode(_ t: Onnx_TensorProto, rawByteCount: Int?,
                         fill: (UnsafeMutableRawBufferPointer) throws(ONNXError) -> Void) throws(ONNXError) -> ONNXConstant {
        let name = t.name
        let shape: Shape
        do {
            shape = try Shape(checking: t.dims.map { Int($0) })
        } catch {
            throw fail(name, "bad dims \(t.dims): \(error)")
        }
        let count = shape.count
        let type = Onnx_TensorProto.DataType(rawValue: Int(t.dataType)) ?? .undefined
        let elementSize: Int
        switch type {
        case .float, .int32, .uint32: elementSize = 4
        case .double, .int64, .uint64: elementSize = 8
        case .float16, .bfloat16, .int16, .uint16: elementSize = 2
        case .int8, .uint8, .bool: elementSize = 1
        default: throw fail(name, "data type \(type) (\(t.dataType)) is not supported")
        }
        let (need, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow else { throw fail(name, "dims \(shape) of \(type) need more than 2^63 bytes") }
        func checkSize(_ n: Int) throws(ONNXError) {
            guard n == need else { throw fail(name, "raw data has \(n) bytes, dims \(shape) of \(type) need \(need)") }
        }
        if t.dataLocation == .external {
            let bytes = try external(t, expected: need)
            try checkSize(bytes.count)
            return bytes.withUnsafeBytes { Self.convert($0, type: type, shape: shape) }
        }
        if let rawByteCount {
            try checkSize(rawByteCount)
            var failure: ONNXError?
            if type == .float {
                // Little-endian float32 is the machine's own layout: read straight into the tensor.
                let tensor = Tensor(uninitialized: shape) { out in
                    do throws(ONNXError) { try fill(UnsafeMutableRawBufferPointer(out)) } catch { failure = error }
                }
                if let failure { throw failure }
                return .float(tensor)
            }
            var bytes = [UInt8](repeating: 0, count: need)
            bytes.withUnsafeMutableBytes { buffer in
                do throws(ONNXError) { try fill(buffer) } catch { failure = error }
            }
            if let failure { throw failure }
            return bytes.withUnsafeBytes { Self.convert($0, type: type, shape: shape) }
        }
        if t.hasRawData {
            let bytes = t.rawData
            try checkSize(bytes.count)
            return bytes.withUnsafeBytes { Self.convert($0, type: type, shape: shape) }
        }
        // Typed fields (the spec's packing rules: int32_data holds all ≤32-bit integers and float16 bits).
        func check(_ n: Int) throws(ONNXError) {
            guard n == count else { throw fail(name, "holds \(n) values, dims \(shape) need \(count)") }
        }
        switch type {
        case .float:
            try check(t.floatData.count)
            return .float(Tensor(shape: shape, scalars: t.floatData))
        case .double:
            try check(t.doubleData.count)
            return .float(Tensor(shape: shape, scalars: t.doubleData.map { Float($0) }))
        case .float16:
            try check(t.int32Data.count)
            return .float(Tensor(shape: shape, scalars: t.int32Data.map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) }))
        case .bfloat16:
            try check(t.int32Data.count)
            return .float(Tensor(shape: shape, scalars: t.int32Data.map { Float(bitPattern: UInt32(truncatingIfNeeded: $0) << 16) }))
        case .int64:
            try check(t.int64Data.count)
            return .integers(t.int64Data.map { Int($0) }, shape)
        case .uint64, .uint32:
            try check(t.uint64Data.count)
            return .integers(t.uint64Data.map { Int(truncatingIfNeeded: $0) }, shape)
        default:
            try check(t.int32Data.count)
            return .integers(t.int32Data.map { Int($0) }, shape)
        }
    }

    /// Raw little-endian bytes (already checked to hold `shape.count` elements of `type`) as a constant.
    static func convert(_ raw: UnsafeRawBufferPointer, type: Onnx_TensorProto.DataType, shape: Shape) -> ONNXConstant {
        let count = shape.count
        func load<T: FixedWidthInteger>(_ i: Int, _: T.Type) -> T {
            T(littleEndian: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
        }
        switch type {
        case .float:
            // Little-endian float32 is the machine's own layout on every platform Swift targets here.
            return .float(Tensor(uninitialized: shape) { out in
                if let base = out.baseAddress, let source = raw.baseAddress, count > 0 {
                    UnsafeMutableRawPointer(base).copyMemory(from: source, byteCount: count * 4)
                }
            })
        case .double:
            return .float(Tensor(uninitialized: shape) { out in for i in 0 ..< count { out[i] = Float(Double(bitPattern: load(i, UInt64.self))) } })
        case .float16:
            return .float(Tensor(uninitialized: shape) { out in for i in 0 ..< count { out[i] = Float(Float16(bitPattern: load(i, UInt16.self))) } })
        case .bfloat16:
            return .float(Tensor(uninitialized: shape) { out in for i in 0 ..< count { out[i] = Float(bitPattern: UInt32(load(i, UInt16.self)) << 16) } })
        case .int64: return .integers((0 ..< count).map { Int(Int64(bitPattern: load($0, UInt64.self))) }, shape)
        case .uint64: return .integers((0 ..< count).map { Int(truncatingIfNeeded: load($0, UInt64.self)) }, shape)
        case .int32: return .integers((0 ..< count).map { Int(Int32(bitPattern: load($0, UInt32.self))) }, shape)
        case .uint32: return .integers((0 ..< count).map { Int(load($0, UInt32.self)) }, shape)
        case .int16: return .integers((0 ..< count).map { Int(Int16(bitPattern: load($0, UInt16.self))) }, shape)
        case .uint16: return .integers((0 ..< count).map { Int(load($0, UInt16.self)) }, shape)
        case .int8: return .integers((0 ..< count).map { Int(Int8(bitPattern: raw[$0])) }, shape)
        default: return .integers((0 ..< count).map { Int(raw[$0]) }, shape)
        }
    }

    /// The bytes of an externally stored tensor: `location` relative to the model's folder
    /// (absolute paths and paths leaving the folder refused), `offset` and `length` bounds-checked.
    mutating func external(_ t: Onnx_TensorProto, expected: Int) throws(ONNXError) -> Data {
        let name = t.name
        func fail(_ problem: String) -> ONNXError { ONNXError(file: file, .externalData(tensor: name, problem: problem)) }
        var entries: [String: String] = [:]
        for e in t.externalData { entries[e.key] = e.value }
        guard let location = entries["location"], !location.isEmpty else { throw fail("has no location") }
        guard let directory else { throw fail("'\(location)' cannot be resolved for a model read from memory") }
        guard !location.hasPrefix("/"), !location.hasPrefix("\\"), !location.contains(":") else {
            throw fail("location '\(location)' is absolute; only paths inside the model's folder are read")
        }
        let parts = location.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        guard !parts.contains(".."), !parts.isEmpty else { throw fail("location '\(location)' leaves the model's folder") }
        let url = directory.appendingPathComponent(parts.joined(separator: "/"))
        // Symbolic links may still point outside: compare the resolved paths.
        let root = directory.resolvingSymlinksInPath().standardizedFileURL.path
        let resolved = url.resolvingSymlinksInPath().standardizedFileURL.path
        guard resolved.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
            throw fail("location '\(location)' resolves outside the model's folder")
        }
        func number(_ key: String) throws(ONNXError) -> Int? {
            guard let v = entries[key] else { return nil }
            guard let n = Int(v), n >= 0 else { throw fail("\(key) '\(v)' is not a non-negative integer") }
            return n
        }
        let offset = try number("offset") ?? 0
        let data: Data
        if let cached = externalFiles[resolved] {
            data = cached
        } else {
            do { data = try Data(contentsOf: URL(fileURLWithPath: resolved), options: .alwaysMapped) } catch {
                throw fail("file '\(location)' cannot be read: \(error.localizedDescription)")
            }
            externalFiles[resolved] = data
        }
        let length = try number("length") ?? (data.count - min(offset, data.count))
        guard length == expected else { throw fail("length \(length) does not match dims (\(expected) bytes)") }
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= data.count else {
            throw fail("bytes \(offset)..<\(end) lie beyond the end of '\(location)' (\(data.count) bytes)")
        }
        return data.subdata(in: data.startIndex + offset ..< data.startIndex + end)
    }
}

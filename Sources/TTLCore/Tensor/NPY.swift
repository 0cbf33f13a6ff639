// NumPy `.npy` reader and writer.
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//   magic "\x93NUMPY", major, minor, header length (UInt16 LE in v1, UInt32 LE in v2/v3),
//   then an ASCII Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//   padded with spaces and a newline, then the raw C-order data.
import Foundation

/// An array read from a `.npy` file, before conversion.
public struct NPYArray: Sendable {
    /// The element types ttl reads; raw values are NumPy's type codes without the byte order.
    public enum ScalarType: String, Sendable {
        case float16 = "f2", float32 = "f4", float64 = "f8"
        case int8 = "i1", int16 = "i2", int32 = "i4", int64 = "i8"
        case uint8 = "u1", uint16 = "u2", uint32 = "u4", uint64 = "u8"
        case bool = "b1"

        var byteCount: Int { rawValue == "b1" ? 1 : Int(rawValue.dropFirst())! }
        var isInteger: Bool { rawValue.hasPrefix("i") || rawValue.hasPrefix("u") || self == .bool }
    }

    /// The array's dimensions (C order, whatever the file's order was).
    public var shape: Shape
    /// The element type as stored.
    public var scalarType: ScalarType
    /// Raw little-endian element bytes, C order.
    public var bytes: [UInt8]

    /// The elements converted to Float32.
    public func floats() -> [Float] {
        let n = shape.count
        return bytes.withUnsafeBytes { raw in
            (0 ..< n).map { i -> Float in
                switch scalarType {
                case .float16: Float(Float16(bitPattern: load(raw, i, UInt16.self)))
                case .float32: Float(bitPattern: load(raw, i, UInt32.self))
                case .float64: Float(Double(bitPattern: load(raw, i, UInt64.self)))
                default: Float(integer(raw, i))
                }
            }
        }
    }

    /// The elements as 64-bit integers; `nil` unless the array holds integers.
    public func integers() -> [Int]? {
        guard scalarType.isInteger else { return nil }
        return bytes.withUnsafeBytes { raw in (0 ..< shape.count).map { integer(raw, $0) } }
    }

    /// The elements as Float64 (exact for float16/32/64).
    public func doubles() -> [Double] {
        if scalarType == .float64 {
            return bytes.withUnsafeBytes { raw in (0 ..< shape.count).map { Double(bitPattern: load(raw, $0, UInt64.self)) } }
        }
        return floats().map(Double.init)
    }

    private func load<T: FixedWidthInteger>(_ raw: UnsafeRawBufferPointer, _ i: Int, _: T.Type) -> T {
        T(littleEndian: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
    }

    private func integer(_ raw: UnsafeRawBufferPointer, _ i: Int) -> Int {
        switch scalarType {
        case .int8: Int(Int8(bitPattern: raw[i]))
        case .uint8, .bool: Int(raw[i])
        case .int16: Int(Int16(bitPattern: load(raw, i, UInt16.self)))
        case .uint16: Int(load(raw, i, UInt16.self))
        case .int32: Int(Int32(bitPattern: load(raw, i, UInt32.self)))
        case .uint32: Int(load(raw, i, UInt32.self))
        case .int64: Int(Int64(bitPattern: load(raw, i, UInt64.self)))
        case .uint64: Int(truncatingIfNeeded: load(raw, i, UInt64.self))
        default: 0
        }
    }
}

/// A `.npy` file that cannot be read.
public struct NPYError: Error, Equatable, CustomStringConvertible {
    /// What is wrong with the file.
    public enum Reason: Equatable, Sendable {
        /// The file could not be read; the system's message.
        case unreadable(String)
        /// The file does not start with the `.npy` magic.
        case notNPY
        /// A format version other than 1, 2 or 3.
        case unsupportedVersion(major: UInt8)
        /// The file ends at `offset`, before its header or data does.
        case truncated(offset: Int)
        /// The header cannot be parsed at `offset`; the string says why.
        case malformedHeader(offset: Int, String)
        /// A dtype ttl does not read (big-endian multi-byte, complex, strings, …), as the header spells it.
        case unsupportedType(String)
        /// The header's shape has a negative dimension or too many elements.
        case badShape(ShapeError)
        /// The data section's byte count differs from what the shape and dtype need.
        case dataSizeMismatch(expected: Int, actual: Int)
        /// The array holds no numbers.
        case notFloat32Convertible
    }
    /// The file's path, or the name given to ``NPY/decode(_:file:)``.
    public var file: String
    /// What went wrong.
    public var reason: Reason
    /// An error about `file`.
    public init(file: String, reason: Reason) { self.file = file; self.reason = reason }

    public var description: String {
        let what: String = switch reason {
        case let .unreadable(m): "cannot read: \(m)"
        case .notNPY: "not a .npy file (bad magic at byte 0)"
        case let .unsupportedVersion(v): "unsupported .npy version \(v) at byte 6"
        case let .truncated(o): "truncated at byte \(o)"
        case let .malformedHeader(o, m): "malformed header at byte \(o): \(m)"
        case let .unsupportedType(d): "unsupported dtype '\(d)'"
        case let .badShape(e): "bad shape: \(e)"
        case let .dataSizeMismatch(e, a): "header promises \(e) data bytes, file has \(a)"
        case .notFloat32Convertible: "array is not numeric"
        }
        return "\(file): \(what)"
    }
}

/// NumPy `.npy` files: reads format versions 1–3 of any numeric dtype, writes version 1.0 float32.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Reads a `.npy` file as Float32 (any numeric dtype is converted).
    public static func readTensor(_ url: URL) throws(NPYError) -> Tensor {
        let a = try read(url)
        return Tensor(shape: a.shape, scalars: a.floats())
    }

    /// Reads a `.npy` file without converting its elements.
    public static func read(_ url: URL) throws(NPYError) -> NPYArray {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw NPYError(file: url.path, reason: .unreadable(error.localizedDescription))
        }
        return try decode([UInt8](data), file: url.path)
    }

    /// Decodes the bytes of a `.npy` file; `file` names it in errors.
    public static func decode(_ bytes: [UInt8], file: String) throws(NPYError) -> NPYArray {
        func fail(_ r: NPYError.Reason) -> NPYError { NPYError(file: file, reason: r) }
        guard bytes.count >= 10 else {
            throw fail(bytes.starts(with: magic.prefix(bytes.count)) && !bytes.isEmpty ? .truncated(offset: bytes.count) : .notNPY)
        }
        guard bytes.starts(with: magic) else { throw fail(.notNPY) }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail(.truncated(offset: bytes.count)) }
            headerLength = (0 ..< 4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw fail(.unsupportedVersion(major: major))
        }
        let dataStart = headerStart + headerLength
        guard dataStart <= bytes.count else { throw fail(.truncated(offset: bytes.count)) }
        guard let header = String(bytes: bytes[headerStart ..< dataStart], encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw fail(.malformedHeader(offset: headerStart, "not text"))
        }
        let dict = try parseHeader(header, start: headerStart, file: file)

        guard let descr = dict.descr else { throw fail(.malformedHeader(offset: headerStart, "no 'descr'")) }
        var code = Substring(descr)
        if let first = code.first, "<>|=".contains(first) {
            if first == ">" && !descr.hasSuffix("1") { throw fail(.unsupportedType(descr)) }  // big-endian
            code = code.dropFirst()
        }
        guard let type = NPYArray.ScalarType(rawValue: String(code)) else { throw fail(.unsupportedType(descr)) }
        guard let dims = dict.shape else { throw fail(.malformedHeader(offset: headerStart, "no 'shape'")) }
        let shape: Shape
        do { shape = try Shape(checking: dims) } catch { throw fail(.badShape(error)) }
        let (expected, overflow) = shape.count.multipliedReportingOverflow(by: type.byteCount)
        let actual = bytes.count - dataStart
        guard !overflow, expected == actual else {
            throw fail(.dataSizeMismatch(expected: overflow ? Int.max : expected, actual: actual))
        }
        var data = Array(bytes[dataStart...])
        if dict.fortranOrder == true && dims.filter({ $0 > 1 }).count > 1 {
            data = columnMajorToRowMajor(data, dims: dims, elementSize: type.byteCount)
        }
        return NPYArray(shape: shape, scalarType: type, bytes: data)
    }

    /// Reorders Fortran-order element bytes (first index fastest) into C order.
    static func columnMajorToRowMajor(_ src: [UInt8], dims: [Int], elementSize: Int) -> [UInt8] {
        var dst = [UInt8](repeating: 0, count: src.count)
        let count = dims.reduce(1, *)
        // Column-major stride of each axis.
        var fStrides = [Int](repeating: 1, count: dims.count)
        for axis in 1 ..< max(dims.count, 1) { fStrides[axis] = fStrides[axis - 1] * dims[axis - 1] }
        var index = [Int](repeating: 0, count: dims.count)
        for i in 0 ..< count {
            var from = 0
            for axis in 0 ..< dims.count { from += index[axis] * fStrides[axis] }
            for b in 0 ..< elementSize { dst[i * elementSize + b] = src[from * elementSize + b] }
            advance(&index, in: dims)
        }
        return dst
    }

    private struct Header { var descr: String?; var fortranOrder: Bool?; var shape: [Int]? }

    /// Parses the small subset of Python literal syntax that `.npy` headers use.
    private static func parseHeader(_ text: String, start: Int, file: String) throws(NPYError) -> Header {
        var header = Header()
        let chars = Array(text.utf8)
        var i = 0
        func fail(_ m: String) -> NPYError { NPYError(file: file, reason: .malformedHeader(offset: start + i, m)) }
        func skipSpace() { while i < chars.count, chars[i] == 0x20 || chars[i] == 0x0A || chars[i] == 0x09 { i += 1 } }
        func expect(_ c: UInt8) throws(NPYError) {
            skipSpace()
            guard i < chars.count, chars[i] == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
            i += 1
        }
        func string() throws(NPYError) -> String {
            skipSpace()
            guard i < chars.count, chars[i] == 0x27 || chars[i] == 0x22 else { throw fail("expected a string") }
            let quote = chars[i]
            i += 1
            let s = i
            while i < chars.count, chars[i] != quote { i += 1 }
            guard i < chars.count else { throw fail("unterminated string") }
            defer { i += 1 }
            return String(decoding: chars[s ..< i], as: UTF8.self)
        }
        func integer() throws(NPYError) -> Int {
            skipSpace()
            let s = i
            if i < chars.count, chars[i] == 0x2D { i += 1 }
            while i < chars.count, chars[i] >= 0x30, chars[i] <= 0x39 { i += 1 }
            guard let v = Int(String(decoding: chars[s ..< i], as: UTF8.self)) else { throw fail("expected an integer") }
            if i < chars.count, chars[i] == 0x4C { i += 1 }  // Python 2 long suffix
            return v
        }
        try expect(0x7B)  // {
        while true {
            skipSpace()
            if i < chars.count, chars[i] == 0x7D { break }  // }
            let key = try string()
            try expect(0x3A)  // :
            skipSpace()
            switch key {
            case "descr": header.descr = try string()
            case "fortran_order":
                if chars[i...].starts(with: Array("True".utf8)) { header.fortranOrder = true; i += 4 }
                else if chars[i...].starts(with: Array("False".utf8)) { header.fortranOrder = false; i += 5 }
                else { throw fail("expected True or False") }
            case "shape":
                try expect(0x28)  // (
                var dims: [Int] = []
                while true {
                    skipSpace()
                    if i < chars.count, chars[i] == 0x29 { i += 1; break }
                    dims.append(try integer())
                    skipSpace()
                    if i < chars.count, chars[i] == 0x2C { i += 1 }
                }
                header.shape = dims
            default:
                throw fail("unknown key '\(key)'")
            }
            skipSpace()
            if i < chars.count, chars[i] == 0x2C { i += 1; continue }
            skipSpace()
            try expect(0x7D)
            break
        }
        return header
    }

    /// The bytes of a version-1.0 `.npy` file holding `tensor` as little-endian float32.
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        let dims = tensor.shape.dimensions
        let shapeText = dims.count == 1 ? "(\(dims[0]),)" : "(" + dims.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let headerLength = header.utf8.count
        var out = magic + [1, 0, UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)]
        out.reserveCapacity(out.count + headerLength + tensor.count * 4)
        out += Array(header.utf8)
        tensor.withUnsafeBufferPointer { buffer in
            for v in buffer {
                let b = v.bitPattern.littleEndian
                out += [UInt8(b & 0xFF), UInt8(b >> 8 & 0xFF), UInt8(b >> 16 & 0xFF), UInt8(b >> 24)]
            }
        }
        return out
    }

    /// Writes `tensor` as float32 `.npy`, through a temporary file renamed into place.
    public static func write(_ tensor: Tensor, to url: URL) throws {
        try Data(encode(tensor)).write(to: url, options: .atomic)
    }
}

// Turns a tensor view (storage, offset, sizes, strides) read from a pickle into a Float32
// ``Tensor``, checking every number first: sizes and strides non-negative, the element count
// and the last element reached computed with overflow checks and inside the storage.
// Non-contiguous views (a transposed weight) are gathered into row-major order.
import Foundation
import TTLCore

enum TorchTensor {
    static let maximumRank = 16

    /// The values of `t`, whose storage's bytes are `storage` (already checked to hold
    /// `t.storage.count` elements), as Float32. A contiguous float32 view is copied a mebibyte
    /// at a time, each part given to `evict` once copied (a mapped file's pages handed back as
    /// the tensor fills, so that the two are never both resident).
    static func materialise(_ t: TensorRef, key: String, storage: Data, file: String,
                            evict: (Data) -> Void = { _ in }) throws(TorchImportError) -> Tensor {
        func fail(_ m: String) -> TorchImportError { TorchImportError(file: file, .tensor(key: key, problem: m)) }
        guard t.sizes.count == t.strides.count else { throw fail("\(t.sizes.count) sizes but \(t.strides.count) strides") }
        guard t.sizes.count <= maximumRank else { throw fail("rank \(t.sizes.count), more than \(maximumRank)") }
        guard t.offset >= 0 else { throw fail("negative storage offset \(t.offset)") }
        guard t.strides.allSatisfy({ $0 >= 0 }) else { throw fail("negative stride in \(t.strides)") }
        let shape: Shape
        do { shape = try Shape(checking: t.sizes) } catch { throw fail("\(error)") }
        if shape.count > 0 {
            // The furthest element the view reaches: offset + Σ (size − 1) · stride.
            var last = t.offset
            for (n, s) in zip(t.sizes, t.strides) {
                let (step, o1) = (n - 1).multipliedReportingOverflow(by: s)
                let (sum, o2) = last.addingReportingOverflow(step)
                guard !o1, !o2 else { throw fail("sizes \(t.sizes) with strides \(t.strides) overflow") }
                last = sum
            }
            guard last < t.storage.count else {
                throw fail("sizes \(t.sizes), strides \(t.strides) and offset \(t.offset) reach element \(last) of a storage of \(t.storage.count)")
            }
        }
        let decode = try decoder(t.storage.type, key: key, file: file)
        let elementSize = t.storage.type.elementSize
        // Row-major strides: a view with them (over any size-1 axes) is contiguous.
        var contiguous = true
        var expected = 1
        for (n, s) in zip(t.sizes, t.strides).reversed() {
            if n != 1 && s != expected { contiguous = false }
            expected *= n
        }
        return storage.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Tensor in
            Tensor(uninitialized: shape) { out in
                if contiguous, t.storage.type == .float, let base = out.baseAddress, let source = raw.baseAddress, out.count > 0 {
                    // Little-endian float32, as the host: one copy (unaligned source allowed).
                    let total = out.count * 4, chunk = 1 << 20
                    var done = 0
                    while done < total {
                        let n = min(chunk, total - done)
                        let from = t.offset * 4 + done
                        (UnsafeMutableRawPointer(base) + done).copyMemory(from: source + from, byteCount: n)
                        evict(storage[storage.startIndex + from ..< storage.startIndex + from + n])
                        done += n
                    }
                    return
                }
                if contiguous {
                    for i in 0 ..< out.count { out[i] = decode(raw, (t.offset + i) * elementSize) }
                    return
                }
                // Odometer over the indices, outermost first.
                var index = [Int](repeating: 0, count: t.sizes.count)
                var position = t.offset
                for i in 0 ..< out.count {
                    out[i] = decode(raw, position * elementSize)
                    var axis = t.sizes.count - 1
                    while axis >= 0 {
                        index[axis] += 1
                        position += t.strides[axis]
                        if index[axis] < t.sizes[axis] { break }
                        position -= t.strides[axis] * t.sizes[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
    }

    /// Reads one element at a byte offset, little-endian, unaligned.
    typealias Decoder = (UnsafeRawBufferPointer, Int) -> Float

    static func decoder(_ type: StorageType, key: String, file: String) throws(TorchImportError) -> Decoder {
        switch type {
        case .float:
            return { raw, o in Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self))) }
        case .double:
            return { raw, o in Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self)))) }
        case .half:
            return { raw, o in halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt16.self))) }
        case .bfloat16:
            return { raw, o in Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt16.self))) << 16) }
        default:
            throw TorchImportError(file: file, .unsupportedDType(key: key, dtype: type.dtype))
        }
    }

    /// IEEE 754 binary16 to binary32, subnormals, infinities and NaNs included.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h) & 0x3FF
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
}

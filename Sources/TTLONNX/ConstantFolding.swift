// N-dimensional index arithmetic on constants, for the shape computations exporters emit
// (Slice, Concat, Gather, Transpose, ConstantOfShape on constants).
import TTLCore
import TTLNN

extension ONNXConstant {
    /// The constant whose element i is this constant's element `sources[i]`, shaped `shape`.
    func picking(_ sources: [Int], shape: Shape) -> ONNXConstant {
        switch self {
        case let .integers(v, _): return .integers(sources.map { v[$0] }, shape)
        case let .float(t):
            let s = t.scalars
            return .float(Tensor(shape: shape, scalars: sources.map { s[$0] }))
        }
    }

    /// Visits every multi-index of `shape` in row-major order with its flat index.
    static func forEachIndex(_ shape: Shape, _ body: ([Int]) -> Void) {
        guard shape.count > 0 else { return }
        var index = [Int](repeating: 0, count: shape.rank)
        for _ in 0 ..< shape.count {
            body(index)
            advance(&index, in: shape.dimensions)
        }
    }

    static func flat(_ index: [Int], _ shape: Shape) -> Int {
        zip(index, shape.strides).reduce(0) { $0 + $1.0 * $1.1 }
    }

    func transposed(_ perm: [Int]) -> ONNXConstant {
        let s = shape
        let out = Shape(perm.map { s[$0] })
        var sources: [Int] = []
        Self.forEachIndex(out) { idx in
            var src = [Int](repeating: 0, count: perm.count)
            for (axis, p) in perm.enumerated() { src[p] = idx[axis] }
            sources.append(Self.flat(src, s))
        }
        return picking(sources, shape: out)
    }

    /// ONNX Slice: per listed axis, start/end clamped to the axis (negative counts from the end), step ≠ 0.
    func sliced(starts: [Int], ends: [Int], axes: [Int], steps: [Int]) throws(OperationError) -> ONNXConstant {
        let s = shape
        var lo = (0 ..< s.rank).map { _ in 0 }, step = (0 ..< s.rank).map { _ in 1 }, count = s.dimensions
        for (k, a0) in axes.enumerated() {
            let a = a0 < 0 ? a0 + s.rank : a0
            guard a >= 0 && a < s.rank else { throw OperationError("slice axis \(a0) for \(s)") }
            let n = s[a], st = steps[k]
            guard st != 0 else { throw OperationError("slice step 0") }
            var b = starts[k] < 0 ? starts[k] + n : starts[k]
            var e = ends[k] < 0 ? ends[k] + n : ends[k]
            if st > 0 {
                b = min(max(b, 0), n); e = min(max(e, 0), n)
                count[a] = max(0, (e - b + st - 1) / st)
            } else {
                b = min(max(b, -1), n - 1); e = min(max(e, -1), n - 1)
                count[a] = max(0, (b - e + (-st) - 1) / (-st))
            }
            lo[a] = b
            step[a] = st
        }
        let out = Shape(count)
        var sources: [Int] = []
        Self.forEachIndex(out) { idx in
            sources.append(Self.flat((0 ..< s.rank).map { lo[$0] + idx[$0] * step[$0] }, s))
        }
        return picking(sources, shape: out)
    }

    static func concatenated(_ parts: [ONNXConstant], axis a0: Int) throws(OperationError) -> ONNXConstant {
        guard let first = parts.first else { throw OperationError("concat of nothing") }
        let rank = first.shape.rank
        let a = a0 < 0 ? a0 + rank : a0
        guard a >= 0 && a < rank, parts.allSatisfy({ $0.shape.rank == rank }) else { throw OperationError("concat axis \(a0)") }
        for p in parts {
            for d in 0 ..< rank where d != a && p.shape[d] != first.shape[d] { throw OperationError("concat of \(first.shape) and \(p.shape)") }
        }
        var dims = first.shape.dimensions
        dims[a] = parts.reduce(0) { $0 + $1.shape[a] }
        let out = Shape(dims)
        let allInts = parts.allSatisfy { if case .integers = $0 { return true } else { return false } }
        var ints: [Int] = [], floats: [Float] = []
        let partInts = parts.map(\.integers), partFloats = parts.map { $0.floatTensor.scalars }
        forEachIndex(out) { idx in
            var i = idx, k = 0
            while i[a] >= parts[k].shape[a] { i[a] -= parts[k].shape[a]; k += 1 }
            let f = flat(i, parts[k].shape)
            if allInts { ints.append(partInts[k]![f]) } else { floats.append(partFloats[k][f]) }
        }
        return allInts ? .integers(ints, out) : .float(Tensor(shape: out, scalars: floats))
    }

    func gathered(_ indices: [Int], indexShape: Shape, axis a0: Int) throws(OperationError) -> ONNXConstant {
        let s = shape
        let a = a0 < 0 ? a0 + s.rank : a0
        guard a >= 0 && a < s.rank else { throw OperationError("gather axis \(a0) for \(s)") }
        let idx = try indices.map { i throws(OperationError) -> Int in
            let j = i < 0 ? i + s[a] : i
            guard j >= 0 && j < s[a] else { throw OperationError("gather index \(i) out of range \(s[a])") }
            return j
        }
        let out = Shape(Array(s.dimensions[..<a]) + indexShape.dimensions + Array(s.dimensions[(a + 1)...]))
        var sources: [Int] = []
        Self.forEachIndex(out) { o in
            let before = Array(o[..<a]), inner = Array(o[a ..< a + indexShape.rank]), after = Array(o[(a + indexShape.rank)...])
            let pick = idx[Self.flat(inner, indexShape)]
            sources.append(Self.flat(before + [pick] + after, s))
        }
        return picking(sources, shape: out)
    }
}

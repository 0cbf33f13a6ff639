// Integer tensors that depend on the dynamic batch size. PyTorch's dynamo exporter lowers an
// identity `as_strided` (ConvNeXt's classifier: the pooled `[N, C, 1, 1]` viewed again after a
// flatten) to a Gather of the flattened activation at indices it computes from the batch size:
// Range(0, N, 1) · C, unsqueezed to `[N, 1, 1, 1]`, plus arange(C) as `[1, C, 1, 1]`. Those
// indices cannot be folded to numbers when N is dynamic; they are folded to this affine form
// instead, and a Gather at indices that walk the whole flattened input in order imports as the
// Reshape it is. Anything else in this form is refused by name.
import TTLCore
import TTLNN

/// An integer tensor `[N, rest…]` (N the batch size) whose element `[b, i…]` is
/// `b · stride + offsets[i…]`.
struct BatchIndexTensor {
    var stride: Int
    /// `rest`'s elements, row-major.
    var offsets: [Int]
    var rest: Shape

    /// `[N, rest…]` with N written as `GraphConverter.batchDimension`.
    var rank: Int { rest.rank + 1 }

    /// Range(0, N, 1).
    static let batchRange = BatchIndexTensor(stride: 1, offsets: [0], rest: [])

    /// This tensor times an integer scalar (or one-element constant).
    func multiplied(by k: Int) throws -> BatchIndexTensor {
        let (s, o1) = stride.multipliedReportingOverflow(by: k)
        guard !o1 else { throw InvalidNode("index arithmetic overflows") }
        let offsets = try self.offsets.map { v in
            let (p, o) = v.multipliedReportingOverflow(by: k)
            guard !o else { throw InvalidNode("index arithmetic overflows") }
            return p
        }
        return BatchIndexTensor(stride: s, offsets: offsets, rest: rest)
    }

    /// This tensor plus an integer constant that broadcasts against `[N, rest…]` without
    /// growing the batch axis.
    func adding(_ values: [Int], _ shape: Shape) throws -> BatchIndexTensor {
        guard shape.rank <= rank else { throw Unsupported(detail: "batch-dependent indices broadcast to a higher rank") }
        let padded = [Int](repeating: 1, count: rank - shape.rank) + shape.dimensions
        guard padded[0] == 1 else { throw Unsupported(detail: "batch-dependent indices plus a constant along the batch axis") }
        let other = Shape(Array(padded.dropFirst()))
        guard let out = Broadcast.shape(rest, other) else { throw InvalidNode("shapes \(rest) and \(other) do not broadcast") }
        let a = Broadcast.expand(Tensor(shape: rest, scalars: offsets.map(Float.init)), to: out).scalars
        let b = Broadcast.expand(Tensor(shape: other, scalars: values.map(Float.init)), to: out).scalars
        // Indices are small (they index an activation): Float holds them exactly below 2^24.
        guard (offsets + values).allSatisfy({ abs($0) < 1 << 24 }) else { throw Unsupported(detail: "batch-dependent indices beyond 2^24") }
        return BatchIndexTensor(stride: stride, offsets: zip(a, b).map { Int($0) + Int($1) }, rest: out)
    }

    /// Unsqueeze at `axes` of the result (axis 0, the batch, stays first).
    func unsqueezed(_ axes: [Int]) throws -> BatchIndexTensor {
        let newRank = rank + axes.count
        let norm = axes.map { $0 < 0 ? $0 + newRank : $0 }.sorted()
        guard Set(norm).count == norm.count, norm.allSatisfy({ $0 >= 1 && $0 < newRank }) else {
            throw Unsupported(detail: "unsqueeze of batch-dependent indices at axes \(axes)")
        }
        var dims = [GraphConverter.batchDimension] + rest.dimensions
        for a in norm { dims.insert(1, at: a) }
        return BatchIndexTensor(stride: stride, offsets: offsets, rest: Shape(Array(dims.dropFirst())))
    }
}

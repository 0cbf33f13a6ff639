// Gather (https://onnx.ai/onnx/operators/onnx__Gather.html): folded on constants; on an
// activation, with constant indices along a non-batch axis, a SliceOp (GoogLeNet's and
// Inception v3's `transform_input` take `x[:, 0]`): a scalar index is a slice of one followed
// by a Reshape that drops the axis, indices in arithmetic progression one strided slice, any
// other constant indices a GatherOp.
import TTLCore
import TTLNN

enum GatherNode: ONNXOperator {
    static let onnxTypes = ["Gather"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let (data, indices) = (try c.required(n, 0), try c.required(n, 1))
        if let b = c.batchIndices[indices] {
            // Dynamo's identity `as_strided`: a flattened activation `[N·M]` gathered at
            // `b·M + i` for i in 0 ..< M, shaped `[N, rest…]`: the Reshape to `[N, rest…]`.
            guard n.attributes.int("axis", 0) == 0, let (s, t) = c.shapes(data), s.rank == 1, t[0] == 2 * s[0],
                  b.stride == s[0], b.offsets == Array(0 ..< s[0]) else {
                throw Unsupported(detail: "gather at batch-dependent indices other than an identity view")
            }
            try c.add(n.name, ReshapeOp([-1] + b.rest.dimensions), [data], [n.output])
            return
        }
        guard let indexConstant = c.constants[indices], let idx = indexConstant.integers else {
            throw Unsupported(detail: "gather with computed indices")
        }
        let a0 = n.attributes.int("axis", 0)
        if let k = c.constants[data] {
            do {
                c.constants[n.output] = try k.gathered(idx, indexShape: indexConstant.shape, axis: a0)
            } catch { throw InvalidNode(error.message) }
            return
        }
        guard let (s, t) = c.shapes(data) else { throw InvalidNode("unknown input shape") }
        let axis = a0 < 0 ? a0 + s.rank : a0
        guard axis >= 0 && axis < s.rank else { throw InvalidNode("axis \(a0) for \(s)") }
        guard s[axis] == t[axis] else { throw Unsupported(detail: "gather along the batch axis of an activation") }
        let dim = s[axis]
        let positions = try idx.map { i in
            guard i >= -dim && i < dim else { throw InvalidNode("index \(i) outside an axis of \(dim)") }
            return i < 0 ? i + dim : i
        }
        guard let first = positions.first else { throw Unsupported(detail: "gather of no indices from an activation") }
        let step = positions.count > 1 ? positions[1] - first : 1
        guard step != 0, positions.indices.allSatisfy({ positions[$0] == first + $0 * step }), indexConstant.shape.rank <= 1 else {
            // Any other positions, or indices of rank 2 and more: a GatherOp.
            try c.add(n.name, GatherOp(axis: axis, indices: positions, indexShape: indexConstant.shape), [data], [n.output])
            return
        }
        // The slice's end, one step past the last index; below 0 for a negative step means "to the start".
        let last = first + (positions.count - 1) * step
        let end = last + step < 0 ? Int(Int32.min) : last + step
        let slice = SliceOp(starts: [first], ends: [end], axes: [axis], steps: [step])
        switch indexConstant.shape.rank {
        case 0:
            var target = s.dimensions
            target.remove(at: axis)
            if axis != 0 && s[0] != t[0] { target[0] = 0 }  // the batch, copied
            try c.add(n.name + "/slice", slice, [data], [n.output + "/slice"])
            try c.add(n.name, ReshapeOp(target), [n.output + "/slice"], [n.output])
        case 1:
            try c.add(n.name, slice, [data], [n.output])
        default:
            throw Unsupported(detail: "gather from an activation with indices of rank \(indexConstant.shape.rank)")
        }
    }

    static let exportedOperations: [any GraphOperation.Type] = [GatherOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let g = n.operation as? GatherOp else { throw ExportProblem("not a GatherOp") }
        p.opType = "Gather"
        let indicesName = n.name + "/indices"
        var t = ONNXExporter.int64Tensor(g.indices, name: indicesName)
        t.dims = g.indexShape.dimensions.map(Int64.init)
        extra.append(.message(t))
        p.input = [n.inputs[0], indicesName]
        p.attribute = [ONNXExporter.attribute("axis", int: g.axis)]
    }
}

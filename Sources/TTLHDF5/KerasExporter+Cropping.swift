import TTLCore
import TTLNN

extension KerasLayerWriter {
    /// A slice of an image's two spatial axes, step 1, as Keras `Cropping2D`
    /// ((top, bottom), (left, right)).
    mutating func cropping(_ n: Node, _ op: SliceOp) throws -> (String, Layout) {
        let x = n.inputs[0]
        guard let s = shapes[x], s.rank == 4, op.steps.allSatisfy({ $0 == 1 }), op.starts.count == op.axes.count, op.ends.count == op.axes.count else {
            throw fail(n, "only a step-1 slice of an image's height and width maps to Cropping2D")
        }
        var crop = [[0, 0], [0, 0]]
        for (k, axis) in op.axes.enumerated() {
            let a = axis < 0 ? axis + 4 : axis
            guard a == 2 || a == 3 else { throw fail(n, "only a slice of an image's height and width maps to Cropping2D") }
            let size = s[a]
            let start = op.starts[k] < 0 ? op.starts[k] + size : op.starts[k]
            let end = op.ends[k] < 0 ? op.ends[k] + size : Swift.min(op.ends[k], size)
            guard start >= 0, end > start, end <= size else { throw fail(n, "slice \(op.starts[k])..<\(op.ends[k]) of \(size) is not a cropping") }
            crop[a - 2] = [start, size - end]
        }
        return (emit(n.name, "Cropping2D", ["cropping": crop, "data_format": "channels_last"], [try tensor(x, .nhwc, for: n)]), .nhwc)
    }
}

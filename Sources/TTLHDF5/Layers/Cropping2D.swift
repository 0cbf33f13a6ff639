// Keras `Cropping2D` (NASNet; https://keras.io/api/layers/reshaping_layers/cropping2d/), ttl's
// `SliceOp` of an image's two spatial axes with step 1.
import Foundation
import TTLCore
import TTLNN

enum CroppingLayer: KerasLayerMapping {
    static let kerasClasses = ["Cropping2D"]
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.cropping(l, ins[0])
    }

    static let exportedOperations: [any GraphOperation.Type] = [SliceOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let op = n.operation as? SliceOp else { return nil }
        let (layer, layout) = try w.cropping(n, op)
        return .layer(layer, layout)
    }
}

extension KerasGraphBuilder {
    /// `cropping` as one number, a (rows, columns) pair or ((top, bottom), (left, right)).
    /// - Parameters:
    ///   - x: `[N, C, H, W]`
    /// - Returns: `[N, C, H − top − bottom, W − left − right]`
    mutating func cropping(_ l: KerasLayer, _ x: KerasValue) throws -> KerasValue {
        guard x.shape.rank == 4 else { throw fail(l, "expected a 4-D input, got \(x.shape.rank)-D") }
        let c = l.config["cropping"]
        let outOfRange = fail(l, "cropping \(String(describing: c)) is out of range")
        let v = { (n: NSNumber) throws -> Int in
            guard let s = KerasLayer.size(n), s >= 0 else { throw outOfRange }
            return s
        }
        let crop: (top: Int, bottom: Int, left: Int, right: Int)
        if let n = c as? NSNumber { let s = try v(n); crop = (s, s, s, s) }
        else if let pair = c as? [NSNumber], pair.count == 2 { let h = try v(pair[0]), w = try v(pair[1]); crop = (h, h, w, w) }
        else if let nested = c as? [[NSNumber]], nested.count == 2, nested[0].count == 2, nested[1].count == 2 {
            crop = (try v(nested[0][0]), try v(nested[0][1]), try v(nested[1][0]), try v(nested[1][1]))
        } else { throw fail(l, "unreadable cropping") }
        let h = x.shape[2], w = x.shape[3]
        guard crop.top + crop.bottom < h, crop.left + crop.right < w else {
            throw fail(l, "cropping \(crop) leaves nothing of a \(h)×\(w) image")
        }
        return try value(l, l.name, SliceOp(starts: [crop.top, crop.left], ends: [h - crop.bottom, w - crop.right], axes: [2, 3], steps: [1, 1]), [x])
    }
}

extension KerasLayerWriter {
    /// A slice of an image's two spatial axes, step 1, as ((top, bottom), (left, right)).
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

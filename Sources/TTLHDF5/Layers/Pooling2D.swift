// Keras `MaxPooling2D` and `AveragePooling2D` (https://keras.io/api/layers/pooling_layers/),
// ttl's `MaxPoolOp` and `AvgPoolOp` (Keras averages over the window's pixels inside the image).
import TTLCore
import TTLNN

enum PoolingLayer: KerasLayerMapping {
    static let kerasClasses = ["MaxPooling2D", "AveragePooling2D"]
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.pool(l, ins[0])
    }

    static let exportedOperations: [any GraphOperation.Type] = [MaxPoolOp.self, AvgPoolOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        switch n.operation {
        case let op as MaxPoolOp: return .layer(try w.pool(n, op.window, max: true, countIncludePad: false), .nhwc)
        case let op as AvgPoolOp: return .layer(try w.pool(n, op.window, max: false, countIncludePad: op.countIncludePad), .nhwc)
        default: return nil
        }
    }
}

extension KerasGraphBuilder {
    /// - Parameters:
    ///   - x: `[N, C, H, W]`
    /// - Returns: `[N, C, H_out, W_out]`
    mutating func pool(_ l: KerasLayer, _ x: KerasValue) throws -> KerasValue {
        guard x.shape.rank == 4 else { throw fail(l, "expected a 4-D input") }
        guard let (kh, kw) = l.pair("pool_size") else { throw fail(l, "no pool_size") }
        let (sh, sw) = try optionalPair(l, "strides") ?? (kh, kw)
        let pad = try convPadding(l, x.shape, kernel: (kh, kw), stride: (sh, sw), dilation: (1, 1))
        let window = Window2D(kernel: Size2D(kh, kw), stride: Size2D(sh, sw), padding: pad)
        // Keras averages over the window's pixels inside the image only.
        let op: any GraphOperation = l.className == "MaxPooling2D" ? MaxPoolOp(window) : AvgPoolOp(window, countIncludePad: false)
        return try value(l, l.name, op, [x])
    }
}

extension KerasLayerWriter {
    /// 'valid', TensorFlow's 'same' where Keras computes the same, or a `ZeroPadding2D` first
    /// where zero padding is exact.
    mutating func pool(_ n: Node, _ w: Window2D, max: Bool, countIncludePad: Bool) throws -> String {
        guard w.dilation == Size2D(1), !w.ceilMode else { throw fail(n, "dilated or ceil-mode pooling has no Keras layer") }
        let s = shapes[n.inputs[0]]!
        var source = try tensor(n.inputs[0], .nhwc, for: n)
        // Zero padding is exact for an average that counts the pads, and for a max over
        // values that are never negative (after a ReLU, as in ResNet's stem).
        var exact = !max && countIncludePad
        if max, let p = model.producers[n.inputs[0]], let a = model.nodes[p].operation as? ActivationOp {
            switch a.function {
            case .relu: exact = true
            case let .clip(lo, _) where lo >= 0: exact = true
            default: break
            }
        }
        let sameIsExact = max || !countIncludePad
        let ph = tfSamePadding(input: s[2], kernel: w.kernel.h, stride: w.stride.h)
        let pw = tfSamePadding(input: s[3], kernel: w.kernel.w, stride: w.stride.w)
        let isSame = w.padding == Padding2D(top: ph.before, left: pw.before, bottom: ph.after, right: pw.after)
        let padding: String
        if w.padding.isZero {
            padding = "valid"
        } else if isSame && sameIsExact {
            padding = "same"
        } else {
            padding = try kerasPadding(n, s, kernel: (w.kernel.h, w.kernel.w), stride: (w.stride.h, w.stride.w), dilation: (1, 1),
                                       pads: w.padding, source: &source, zeroPaddingIsExact: exact && !isSame)
        }
        return emit(n.name, max ? "MaxPooling2D" : "AveragePooling2D",
                    ["pool_size": [w.kernel.h, w.kernel.w], "strides": [w.stride.h, w.stride.w], "padding": padding, "data_format": "channels_last"], [source])
    }
}

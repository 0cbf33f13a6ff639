// Keras `InputLayer` (https://keras.io/api/layers/core_layers/input/). Export writes it from the
// model's input in `KerasLayerWriter.layers()`, not from a node.
import Foundation
import TTLCore
import TTLNN

enum InputLayerMapping: KerasLayerMapping {
    static let kerasClasses = ["InputLayer"]
    static let arity = KerasArity.source

    /// An image input `(H, W, C)` becomes the input `[N, H, W, C]` and an NHWC → NCHW transpose
    /// (`NAME_to_nchw`); a feature vector `(F)` is the input `[N, F]` as it is.
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        guard let raw = (l.config["batch_input_shape"] ?? l.config["batch_shape"]) as? [Any], raw.count >= 2 else {
            throw b.fail(l, "no input shape")
        }
        let dims = raw.dropFirst().map { ($0 as? NSNumber).flatMap(KerasLayer.size) }
        guard dims.allSatisfy({ ($0 ?? 0) > 0 }), dims.count == 3 || dims.count == 1 else {
            throw b.fail(l, "input shape \(raw.map { ($0 as? NSNumber).map { "\($0)" } ?? "None" }) is not supported: ttl needs a fixed image size (H, W, C) or a fixed feature count")
        }
        let d = dims.map { $0! }
        guard (try? Shape(checking: [1] + d)) != nil else { throw b.fail(l, "input shape \(d) is too large") }
        b.inputs.append(InputSpec(name: l.name, dimensions: [nil] + d))
        b.names.insert(l.name)
        if d.count == 1 { return (l.name, Shape([1, d[0]])) }
        return try b.value(l, l.name + "_to_nchw", TransposeOp(KerasToTTL.nhwcToNCHW), [(l.name, Shape([1] + d))])
    }
}

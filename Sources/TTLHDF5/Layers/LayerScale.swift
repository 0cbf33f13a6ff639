// ConvNeXt's `LayerScale`: each channel times its own trainable factor (`gamma`). Import only:
// it is held as a 1×1 depthwise convolution without bias, which writes back as Keras's
// `DepthwiseConv2D` (Conv2D.swift; ConvNeXt's `LayerScale` class is not one Keras loads unaided).
import TTLCore
import TTLNN

enum LayerScaleLayer: KerasLayerMapping {
    static let kerasClasses = ["LayerScale"]

    /// Weight `NAME.weight`, `[C, 1, 1, 1]`.
    /// - Parameters:
    ///   - ins: `[[N, C, H, W]]`
    /// - Returns: the input's shape
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        let x = ins[0]
        guard x.shape.rank == 4 else { throw b.fail(l, "expected a 4-D input, got \(x.shape.rank)-D") }
        let c = x.shape[1]
        let w = try b.take(l, [("gamma", [c])])
        let weight = b.constant(l.name + ".weight", w[0].reshaped([c, 1, 1, 1]), kind: .parameter)
        return try b.value(l, l.name, Conv2DOp(Conv2DOptions(stride: Size2D(1), dilation: Size2D(1), padding: .zero, groups: c)), [x, weight])
    }
}

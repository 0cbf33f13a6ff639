// The n-ary elementwise operations with broadcasting: ONNX Sum, Mean, Max and Min
// (https://onnx.ai/onnx/operators/onnx__Sum.html). Caffe2's ResNet-50 adds its residuals with Sum.

/// N-ary elementwise sum, mean, maximum and minimum of tensors that broadcast together.
public enum Variadic {
    /// The reduction across the inputs.
    public enum Kind: String, Sendable, CaseIterable { case sum, mean, max, min }

    /// The broadcast shape of all `shapes`, or nil when they do not broadcast.
    public static func shape(_ shapes: [Shape]) -> Shape? {
        guard var out = shapes.first else { return nil }
        for s in shapes.dropFirst() {
            guard let b = Broadcast.shape(out, s) else { return nil }
            out = b
        }
        return out
    }

    /// - Parameter inputs: one or more tensors that broadcast together
    /// - Returns: the broadcast shape
    public static func forward(_ kind: Kind, _ inputs: [Tensor]) -> Tensor {
        guard let outShape = shape(inputs.map(\.shape)) else { preconditionFailure("shapes \(inputs.map(\.shape)) do not broadcast") }
        var y = Broadcast.expand(inputs[0], to: outShape)
        for x in inputs.dropFirst() {
            let e = Broadcast.expand(x, to: outShape)
            y = switch kind {
            case .sum, .mean: y.zipMap(e, +)
            case .max: y.zipMap(e) { Swift.max($0, $1) }
            case .min: y.zipMap(e) { Swift.min($0, $1) }
            }
        }
        if kind == .mean && inputs.count > 1 {
            let n = Float(inputs.count)
            y = y.map { $0 / n }
        }
        return y
    }

    /// Gradients of the inputs. Sum and mean pass the gradient (divided by n for mean) back to
    /// every input, reduced to its shape; max and min give it to the first input holding the
    /// extreme, as onnxruntime's training kernels and PyTorch's `max` do for a single winner.
    public static func backward(_ kind: Kind, outputGradient dy: Tensor, inputs: [Tensor], output y: Tensor) -> [Tensor] {
        switch kind {
        case .sum:
            return inputs.map { Broadcast.sum(dy, to: $0.shape) }
        case .mean:
            let n = Float(inputs.count)
            let g = dy.map { $0 / n }
            return inputs.map { Broadcast.sum(g, to: $0.shape) }
        case .max, .min:
            // taken[i]: the output element already has its winner.
            var taken = Tensor(zeros: y.shape)
            var grads: [Tensor] = []
            for x in inputs {
                let e = Broadcast.expand(x, to: y.shape)
                var g = Tensor(zeros: y.shape)
                e.withUnsafeBufferPointer { ev in
                    y.withUnsafeBufferPointer { yv in
                        dy.withUnsafeBufferPointer { dv in
                            taken.withUnsafeMutableBufferPointer { t in
                                g.withUnsafeMutableBufferPointer { gv in
                                    for i in 0 ..< yv.count where t[i] == 0 && ev[i] == yv[i] {
                                        gv[i] = dv[i]
                                        t[i] = 1
                                    }
                                }
                            }
                        }
                    }
                }
                grads.append(Broadcast.sum(g, to: x.shape))
            }
            return grads
        }
    }
}

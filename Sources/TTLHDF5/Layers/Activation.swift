// Keras `Activation` (https://keras.io/api/layers/core_layers/activation/) and the activations
// ttl runs, also as the `activation` of Conv2D, DepthwiseConv2D, SeparableConv2D and Dense
// (https://keras.io/api/layers/activations/). Export writes ReLU and sigmoid as `Activation`,
// and ttl's identity (Keras `Dropout`, `Activation("linear")`) as `Activation("linear")`;
// ReLU6 and leaky ReLU go to ReLU.swift, hard swish to HardSwish.swift, GELU to GELU.swift,
// tanh, elu, selu, softplus and exponential to ELU.swift.
import TTLCore
import TTLNN

enum ActivationLayer: KerasLayerMapping {
    static let kerasClasses = ["Activation"]
    static func unsupportedForm(_ l: KerasLayer) -> String? { KerasActivations.unsupported(l) }
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.activate(l, ins[0], l.activation, name: l.name)
    }

    static let exportedOperations: [any GraphOperation.Type] = [ActivationOp.self, IdentityOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        let name: String
        switch n.operation {
        case is IdentityOp: name = "linear"
        case let op as ActivationOp where op.function == .relu: name = "relu"
        case let op as ActivationOp where op.function == .sigmoid: name = "sigmoid"
        case let op as ActivationOp: throw w.fail(n, "no Keras activation computes \(op.description) the same way")
        default: return nil
        }
        return .layer(w.emit(n.name, "Activation", ["activation": name], [try w.tensor(n.inputs[0], .nhwc, for: n)]), .nhwc)
    }
}

/// The activations ttl rebuilds, by Keras name: each adds its nodes for `x` under `name`.
enum KerasActivations {
    typealias Build = @Sendable (inout KerasGraphBuilder, KerasLayer, KerasValue, _ name: String) throws -> KerasValue

    static let builders: [String: Build] = [
        // A layer's own "linear" adds nothing; an Activation layer of it is an identity node.
        "linear": { b, l, x, name in l.className == "Activation" ? try b.value(l, name, IdentityOp(), [x]) : x },
        "relu": { b, l, x, name in try b.value(l, name, ActivationOp(.relu), [x]) },
        "relu6": { b, l, x, name in try b.value(l, name, ActivationOp(.clip(min: 0, max: 6)), [x]) },
        "sigmoid": { b, l, x, name in try b.value(l, name, ActivationOp(.sigmoid), [x]) },
        "hard_swish": { b, l, x, name in try b.value(l, name, ActivationOp(.hardSwish), [x]) },
        "hard_silu": { b, l, x, name in try b.value(l, name, ActivationOp(.hardSwish), [x]) },
        "leaky_relu": { b, l, x, name in try b.value(l, name, ActivationOp(.leakyReLU(slope: 0.2)), [x]) },
        "gelu": { b, l, x, name in try b.gelu(l, x, name: name) },
        "swish": { b, l, x, name in try b.swish(l, x, name: name) },
        "silu": { b, l, x, name in try b.swish(l, x, name: name) },
        "tanh": { b, l, x, name in try b.value(l, name, ElementwiseMathOp(.tanh), [x]) },
        "elu": { b, l, x, name in try b.value(l, name, ElementwiseMathOp(.elu(alpha: 1)), [x]) },
        "selu": { b, l, x, name in try b.value(l, name, ElementwiseMathOp(.selu(alpha: KerasActivations.seluAlpha, gamma: KerasActivations.seluScale)), [x]) },
        "softplus": { b, l, x, name in try b.value(l, name, ElementwiseMathOp(.softplus), [x]) },
        "exponential": { b, l, x, name in try b.value(l, name, ElementwiseMathOp(.exp), [x]) },
        "softmax": { b, l, x, name in
            guard x.shape.rank == 2 else { throw b.fail(l, "softmax over a \(x.shape.rank)-D tensor is not supported") }
            return try b.value(l, name, SoftmaxOp(axis: -1), [x])
        },
    ]

    /// Keras's (and the SELU paper's) constants.
    static let seluAlpha: Float = 1.6732632423543772, seluScale: Float = 1.0507009873554805

    /// The activation names ttl runs.
    static var supported: Set<String> { Set(builders.keys) }

    /// `name (Class, activation 'x')` when the layer's activation is not one ttl runs.
    static func unsupported(_ l: KerasLayer) -> String? {
        builders[l.activation] == nil ? "\(l.name) (\(l.className), activation '\(l.activation)')" : nil
    }
}

extension KerasGraphBuilder {
    /// `activation` applied to `x` as the node `name` (nodes `name_…` before it when it takes several).
    mutating func activate(_ l: KerasLayer, _ x: KerasValue, _ activation: String, name: String) throws -> KerasValue {
        guard let build = KerasActivations.builders[activation] else {
            throw KerasError.unsupportedLayers(file: file, layers: ["\(l.name) (\(l.className), activation '\(activation)')"])
        }
        return try build(&self, l, x, name)
    }

    /// `x · sigmoid(x)`: nodes `name_sigmoid` and `name`.
    mutating func swish(_ l: KerasLayer, _ x: KerasValue, name: String) throws -> KerasValue {
        let s = try value(l, name + "_sigmoid", ActivationOp(.sigmoid), [x])
        return try value(l, name, BinaryOp(.mul), [x, s])
    }
}

// Rebuilds a Keras model configuration as a ttl graph. Keras tensors are channels-last;
// ttl runs NCHW, so every 4-D Keras tensor is held transposed: an NHWC → NCHW transpose
// follows each image input, and a 4-D output is transposed back, so the model takes and
// returns what Keras takes and returns. Layer names become node names; weights go under
// `layer.weight`, `layer.bias`, `layer.running_mean`, `layer.running_var` (and
// `layer.scale`/`.offset`, `layer.mean`/`.denominator` for Rescaling and Normalization).
import Foundation
import TTLCore
import TTLNN

/// Layers ttl rebuilds from a configuration.
let supportedKerasLayers: Set<String> = [
    "InputLayer", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Cropping2D", "BatchNormalization", "Activation", "ReLU", "LeakyReLU", "Softmax",
    "ZeroPadding2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Add", "Multiply",
    "Subtract", "Concatenate", "Dense", "Flatten", "Reshape", "Dropout", "SpatialDropout2D", "Rescaling", "Normalization", "Permute",
    "TFOpLambda", "CustomScaleLayer", "LayerNormalization", "LayerScale",
]

/// Activations ttl runs (as a layer's `activation` or an `Activation` layer).
let supportedKerasActivations: Set<String> = ["linear", "relu", "relu6", "sigmoid", "softmax", "swish", "silu", "hard_swish", "hard_silu", "leaky_relu", "gelu"]

struct KerasGraphBuilder {
    let file: String
    var weights: KerasWeights
    var nodes: [Node] = []
    var parameters = ParameterTree()
    var inputs: [InputSpec] = []
    var names = Set<String>()
    /// Each Keras tensor's ttl value and NCHW shape (batch 1).
    var values: [KerasTensorRef: (name: String, shape: Shape)] = [:]
    var usedWeights = Set<String>()

    init(file: String, weights: KerasWeights) {
        self.file = file
        self.weights = weights
    }

    /// The whole model: checks every layer class first (all unsupported ones reported at once).
    static func build(_ config: KerasModelConfig, weights: KerasWeights, file: String) throws -> Model {
        var unsupported: [String] = []
        for l in config.layers {
            if !supportedKerasLayers.contains(l.className) {
                unsupported.append("\(l.name) (\(l.className))")
            } else if ["Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense", "Activation"].contains(l.className),
                      !supportedKerasActivations.contains(l.activation) {
                unsupported.append("\(l.name) (\(l.className), activation '\(l.activation)')")
            } else if l.className == "TFOpLambda", supportedTFOpLambdaFunctions[l.string("function") ?? ""] == nil {
                unsupported.append("\(l.name) (TFOpLambda, function '\(l.string("function") ?? "?")')")
            }
        }
        if !unsupported.isEmpty { throw KerasError.unsupportedLayers(file: file, layers: unsupported) }

        var weights = weights.splittingNested(config.nested)
        if weights.classKeyed {
            let classes = Dictionary(config.layers.map { ($0.name, $0.className) }, uniquingKeysWith: { a, _ in a })
            let outputs = Dictionary(config.outputs.enumerated().map { ($1.layer, $0) }, uniquingKeysWith: { a, _ in a })
            let order = kerasLayerOrder(config.layers.map { KerasGraphNode(name: $0.name, inbound: $0.inbound.map(\.layer), outputIndex: outputs[$0.name]) })
            weights = weights.resolvingClassKeys(order.map { ($0, classes[$0] ?? "") })
        }
        var b = KerasGraphBuilder(file: file, weights: weights)
        for l in config.layers { try b.add(l) }
        var outputs: [String] = []
        for ref in config.outputs {
            guard let v = b.values[ref] else { throw KerasError.invalidConfig(file: file, message: "output '\(ref.layer)' is produced by no layer") }
            outputs.append(v.shape.rank == 4 ? b.node(ref.layer + "_to_nhwc", TransposeOp(KerasToTTL.nchwToNHWC), [v.name]) : v.name)
        }
        let unused = weights.layers.filter { !(weights.byLayer[$0] ?? []).isEmpty && !b.usedWeights.contains($0) }
        if !unused.isEmpty { throw KerasError.unusedWeights(file: file, layers: unused) }
        var model = try Model(inputs: b.inputs, outputs: outputs, nodes: b.nodes, parameters: b.parameters).mergingTransposes()
        model.metadata["source_format"] = "keras"
        model.metadata["keras_model"] = config.name
        let inside = config.layers.prefix(3).contains { $0.className == "Rescaling" || $0.className == "Normalization" }
        if let s = model.imageInputSize, s.height == s.width,
           let p = KerasImporter.applicationPreprocessing(config.name, size: s.height, preprocessesInside: inside) {
            model.info.preprocessing = p
        }
        return model
    }

    // MARK: Building blocks

    mutating func node(_ name: String, _ op: any GraphOperation, _ ins: [String]) -> String {
        var unique = name
        var k = 2
        while names.contains(unique) || parameters[unique] != nil { unique = "\(name)_\(k)"; k += 1 }
        names.insert(unique)
        nodes.append(Node(unique, op, inputs: ins))
        return unique
    }

    /// Adds a node and works out its output shape (an error names the layer).
    mutating func value(_ l: KerasLayer, _ name: String, _ op: any GraphOperation, _ ins: [(name: String, shape: Shape)]) throws -> (name: String, shape: Shape) {
        let shapes = ins.map(\.shape)
        let out: [Shape]
        do { out = try op.outputShapes(shapes) } catch {
            throw KerasError.layer(file: file, layer: l.name, className: l.className, message: error.description)
        }
        return (node(name, op, ins.map(\.name)), out[0])
    }

    mutating func constant(_ path: String, _ t: Tensor, kind: ParameterTree.Kind = .buffer) -> (name: String, shape: Shape) {
        parameters[path] = .init(t, kind: kind)
        names.insert(path)
        return (path, t.shape)
    }

    /// A pair that may be absent or null (then nil), but not unreadable or out of range.
    func optionalPair(_ l: KerasLayer, _ key: String) throws -> (Int, Int)? {
        guard let raw = l.config[key], !(raw is NSNull) else { return nil }
        guard let p = l.pair(key), p.0 > 0, p.1 > 0 else { throw fail(l, "\(key) \(raw) is not a pair of positive sizes") }
        return p
    }

    func fail(_ l: KerasLayer, _ message: String) -> KerasError {
        .layer(file: file, layer: l.name, className: l.className, message: message)
    }

    /// The layer's stored weights, checked against the Keras shapes it should have.
    mutating func take(_ l: KerasLayer, _ expected: [(role: String, shape: [Int])]) throws -> [Tensor] {
        let stored = weights.byLayer[l.name] ?? []
        let group = weights.groupPath[l.name] ?? l.name
        guard stored.count == expected.count else {
            throw KerasError.weightCount(file: file, path: group, expected: expected.map(\.role), found: stored.count)
        }
        usedWeights.insert(l.name)
        return try zip(stored, expected).map { w, e in
            guard w.tensor.shape.dimensions == e.shape else {
                throw KerasError.weightShape(file: file, path: w.path, expected: e.shape, found: w.tensor.shape.dimensions)
            }
            return w.tensor
        }
    }

    // MARK: Layers

    mutating func add(_ l: KerasLayer) throws {
        var ins: [(name: String, shape: Shape)] = []
        for ref in l.inbound {
            guard ref.node == 0, let v = values[ref] else {
                throw KerasError.invalidConfig(file: file, message: "layer '\(l.name)' reads '\(ref.layer)', which comes later or does not exist")
            }
            ins.append(v)
        }
        if l.className != "InputLayer" && ins.isEmpty { throw fail(l, "the layer has no input") }
        let single = ["Add", "Multiply", "Subtract", "Concatenate", "TFOpLambda", "CustomScaleLayer"].contains(l.className) ? nil : ins.first
        if single != nil && ins.count != 1 { throw fail(l, "expected one input, got \(ins.count)") }
        let out = try layer(l, ins, single)
        values[KerasTensorRef(layer: l.name, node: 0, tensor: 0)] = out
    }

    private mutating func layer(_ l: KerasLayer, _ ins: [(name: String, shape: Shape)], _ x: (name: String, shape: Shape)?) throws -> (name: String, shape: Shape) {
        if let x, x.shape.rank == 4, let format = l.string("data_format"), format != "channels_last" {
            throw fail(l, "data_format '\(format)' is not supported (channels_last only)")
        }
        switch l.className {
        case "InputLayer": return try input(l)
        case "Conv2D", "DepthwiseConv2D": return try conv(l, x!)
        case "SeparableConv2D": return try separableConv(l, x!)
        case "Cropping2D": return try cropping(l, x!)
        case "BatchNormalization": return try batchNorm(l, x!)
        case "Activation": return try activate(l, x!, l.activation, name: l.name)
        case "ReLU":
            let threshold = l.float("threshold") ?? 0
            let slope = l.float("negative_slope") ?? 0
            let maxValue = l.float("max_value")
            guard threshold == 0 else { throw fail(l, "threshold \(threshold) is not supported") }
            if slope != 0 {
                guard maxValue == nil else { throw fail(l, "negative_slope with max_value is not supported") }
                return try value(l, l.name, ActivationOp(.leakyReLU(slope: slope)), [x!])
            }
            return try value(l, l.name, maxValue.map { ActivationOp(.clip(min: 0, max: $0)) } ?? ActivationOp(.relu), [x!])
        case "LeakyReLU":
            let slope = l.float("negative_slope") ?? l.float("alpha") ?? 0.3
            return try value(l, l.name, ActivationOp(.leakyReLU(slope: slope)), [x!])
        case "Softmax": return try activate(l, x!, "softmax", name: l.name)
        case "ZeroPadding2D":
            let p = try padding(l)
            return try value(l, l.name, PadOp(p), [x!])
        case "MaxPooling2D", "AveragePooling2D": return try pool(l, x!)
        case "GlobalAveragePooling2D":
            guard x!.shape.rank == 4 else { throw fail(l, "expected a 4-D input") }
            if l.bool("keepdims", default: false) { return try value(l, l.name, GlobalAvgPoolOp(), [x!]) }
            let pooled = try value(l, l.name, GlobalAvgPoolOp(), [x!])
            return try value(l, l.name + "_flatten", FlattenOp(axis: 1), [pooled])
        case "GlobalMaxPooling2D":
            guard x!.shape.rank == 4 else { throw fail(l, "expected a 4-D input") }
            let window = Window2D(kernel: Size2D(x!.shape[2], x!.shape[3]))
            if l.bool("keepdims", default: false) { return try value(l, l.name, MaxPoolOp(window), [x!]) }
            let pooled = try value(l, l.name, MaxPoolOp(window), [x!])
            return try value(l, l.name + "_flatten", FlattenOp(axis: 1), [pooled])
        case "Reshape": return try reshape(l, x!)
        case "Concatenate":
            guard !ins.isEmpty else { throw fail(l, "no inputs") }
            let rank = ins[0].shape.rank
            var axis = l.int("axis") ?? -1
            if axis < 0 { axis += rank }
            guard axis >= 1, axis < rank, rank == 2 || rank == 4 else { throw fail(l, "axis \(l.config["axis"] ?? "nil") of a \(rank)-D tensor") }
            // Keras's axes are channels-last: its channel axis is ttl's axis 1, H and W follow.
            let ttlAxis = rank == 4 ? [0, 2, 3, 1][axis] : axis
            return try value(l, l.name, ConcatOp(axis: ttlAxis), ins)
        case "Add", "Multiply", "Subtract":
            return try arithmetic(l, l.className == "Add" ? .add : l.className == "Multiply" ? .mul : .sub, ins)
        case "TFOpLambda": return try tfOpLambda(l, ins)
        case "CustomScaleLayer": return try customScale(l, ins)
        case "LayerNormalization": return try layerNorm(l, x!)
        case "LayerScale": return try layerScale(l, x!)
        case "Dense" where x!.shape.rank == 4: return try pointwiseDense(l, x!)
        case "Dense": return try dense(l, x!)
        case "Flatten":
            guard x!.shape.rank == 4 else { return try value(l, l.name, FlattenOp(axis: 1), [x!]) }
            // Keras flattens in H, W, C order.
            var y = x!
            if y.shape[2] * y.shape[3] > 1 { y = try value(l, l.name + "_to_nhwc", TransposeOp(KerasToTTL.nchwToNHWC), [y]) }
            return try value(l, l.name, FlattenOp(axis: 1), [y])
        case "Dropout", "SpatialDropout2D": return try value(l, l.name, IdentityOp(), [x!])
        case "Rescaling": return try rescaling(l, x!)
        case "Normalization": return try normalization(l, x!)
        case "Permute":
            guard let dims = l.config["dims"] as? [NSNumber], dims.count == x!.shape.rank - 1 else { throw fail(l, "unreadable dims") }
            let keras = [0] + dims.map(\.intValue)
            guard Set(keras) == Set(0 ..< keras.count) else { throw fail(l, "dims \(keras.dropFirst()) are not a permutation") }
            // In ttl's layout: back to Keras's, permute, then to ttl's again.
            let perm = x!.shape.rank == 4
                ? composePermutations(composePermutations(KerasToTTL.nchwToNHWC, keras), KerasToTTL.nhwcToNCHW) : keras
            return try value(l, l.name, TransposeOp(perm), [x!])
        default:
            throw KerasError.unsupportedLayers(file: file, layers: ["\(l.name) (\(l.className))"])
        }
    }

    mutating func input(_ l: KerasLayer) throws -> (name: String, shape: Shape) {
        guard let raw = (l.config["batch_input_shape"] ?? l.config["batch_shape"]) as? [Any], raw.count >= 2 else {
            throw fail(l, "no input shape")
        }
        let dims = raw.dropFirst().map { ($0 as? NSNumber).flatMap(KerasLayer.size) }
        guard dims.allSatisfy({ ($0 ?? 0) > 0 }), dims.count == 3 || dims.count == 1 else {
            throw fail(l, "input shape \(raw.map { ($0 as? NSNumber).map { "\($0)" } ?? "None" }) is not supported: ttl needs a fixed image size (H, W, C) or a fixed feature count")
        }
        let d = dims.map { $0! }
        guard (try? Shape(checking: [1] + d)) != nil else { throw fail(l, "input shape \(d) is too large") }
        inputs.append(InputSpec(name: l.name, dimensions: [nil] + d))
        names.insert(l.name)
        if d.count == 1 { return (l.name, Shape([1, d[0]])) }
        return try value(l, l.name + "_to_nchw", TransposeOp(KerasToTTL.nhwcToNCHW), [(l.name, Shape([1] + d))])
    }

    mutating func conv(_ l: KerasLayer, _ x: (name: String, shape: Shape)) throws -> (name: String, shape: Shape) {
        guard x.shape.rank == 4 else { throw fail(l, "expected a 4-D input, got \(x.shape.rank)-D") }
        let depthwise = l.className == "DepthwiseConv2D"
        guard let (kh, kw) = l.pair("kernel_size") else { throw fail(l, "no kernel_size") }
        let (sh, sw) = try optionalPair(l, "strides") ?? (1, 1)
        let (dh, dw) = try optionalPair(l, "dilation_rate") ?? (1, 1)
        let cin = x.shape[1]
        let groups = depthwise ? cin : l.int("groups") ?? 1
        let multiplier = depthwise ? l.int("depth_multiplier") ?? 1 : 1
        let filters = depthwise ? cin * multiplier : l.int("filters") ?? 0
        guard filters > 0, groups > 0, cin % groups == 0, filters % groups == 0, min(kh, kw, sh, sw, dh, dw) > 0 else {
            throw fail(l, "filters \(filters), groups \(groups) and \(cin) input channels do not fit")
        }
        let pad = try convPadding(l, x.shape, kernel: (kh, kw), stride: (sh, sw), dilation: (dh, dw))
        let useBias = l.bool("use_bias", default: true)
        var expected: [(role: String, shape: [Int])] = [depthwise ? ("depthwise_kernel", [kh, kw, cin, multiplier]) : ("kernel", [kh, kw, cin / groups, filters])]
        if useBias { expected.append(("bias", [filters])) }
        let w = try take(l, expected)
        var ins = [x, constant(l.name + ".weight", depthwise ? KerasToTTL.depthwiseKernel(w[0]) : KerasToTTL.convKernel(w[0]), kind: .parameter)]
        if useBias { ins.append(constant(l.name + ".bias", w[1], kind: .parameter)) }
        let options = Conv2DOptions(stride: Size2D(sh, sw), dilation: Size2D(dh, dw), padding: pad, groups: groups)
        let y = try value(l, l.name, Conv2DOp(options), ins)
        return try activate(l, y, l.activation, name: l.name + "_" + l.activation)
    }

    func convPadding(_ l: KerasLayer, _ s: Shape, kernel: (Int, Int), stride: (Int, Int), dilation: (Int, Int)) throws -> Padding2D {
        switch l.string("padding") ?? "valid" {
        case "valid": return .zero
        case "same":
            let ph = tfSamePadding(input: s[2], kernel: kernel.0, stride: stride.0, dilation: dilation.0)
            let pw = tfSamePadding(input: s[3], kernel: kernel.1, stride: stride.1, dilation: dilation.1)
            return Padding2D(top: ph.before, left: pw.before, bottom: ph.after, right: pw.after)
        case let other: throw fail(l, "padding '\(other)' is not supported")
        }
    }

    mutating func batchNorm(_ l: KerasLayer, _ x: (name: String, shape: Shape)) throws -> (name: String, shape: Shape) {
        let rank = x.shape.rank
        let axis: Int? = (l.config["axis"] as? NSNumber)?.intValue ?? ((l.config["axis"] as? [NSNumber])?.count == 1 ? (l.config["axis"] as? [NSNumber])?[0].intValue : nil)
        guard let axis, axis == -1 || axis == rank - 1 else { throw fail(l, "normalizing over axis \(String(describing: l.config["axis"])) is not supported (channels only)") }
        guard rank == 4 || rank == 2 else { throw fail(l, "expected a 2-D or 4-D input") }
        let c = x.shape[1]
        let center = l.bool("center", default: true), scale = l.bool("scale", default: true)
        var expected: [(role: String, shape: [Int])] = []
        if scale { expected.append(("gamma", [c])) }
        if center { expected.append(("beta", [c])) }
        expected += [("moving_mean", [c]), ("moving_variance", [c])]
        var w = try take(l, expected)
        let gamma = scale ? w.removeFirst() : Tensor(repeating: 1, shape: [c])
        let beta = center ? w.removeFirst() : Tensor(zeros: [c])
        let ins = [x, constant(l.name + ".weight", gamma, kind: .parameter), constant(l.name + ".bias", beta, kind: .parameter),
                   constant(l.name + ".running_mean", w[0]), constant(l.name + ".running_var", w[1])]
        let op = BatchNormOp(epsilon: l.float("epsilon") ?? 1e-3, momentum: KerasToTTL.momentum(l.float("momentum") ?? 0.99))
        return try value(l, l.name, op, ins)
    }

    mutating func activate(_ l: KerasLayer, _ x: (name: String, shape: Shape), _ activation: String, name: String) throws -> (name: String, shape: Shape) {
        switch activation {
        case "linear": return l.className == "Activation" ? try value(l, name, IdentityOp(), [x]) : x
        case "relu": return try value(l, name, ActivationOp(.relu), [x])
        case "relu6": return try value(l, name, ActivationOp(.clip(min: 0, max: 6)), [x])
        case "sigmoid": return try value(l, name, ActivationOp(.sigmoid), [x])
        case "hard_swish", "hard_silu": return try value(l, name, ActivationOp(.hardSwish), [x])
        case "leaky_relu": return try value(l, name, ActivationOp(.leakyReLU(slope: 0.2)), [x])
        case "gelu": return try gelu(l, x, name: name)
        case "swish", "silu":
            let s = try value(l, name + "_sigmoid", ActivationOp(.sigmoid), [x])
            return try value(l, name, BinaryOp(.mul), [x, s])
        case "softmax":
            guard x.shape.rank == 2 else { throw fail(l, "softmax over a \(x.shape.rank)-D tensor is not supported") }
            return try value(l, name, SoftmaxOp(axis: -1), [x])
        default: throw KerasError.unsupportedLayers(file: file, layers: ["\(l.name) (\(l.className), activation '\(activation)')"])
        }
    }

    func padding(_ l: KerasLayer) throws -> Padding2D {
        let p = l.config["padding"]
        let v = { (n: NSNumber) throws -> Int in
            guard let s = KerasLayer.size(n), s >= 0 else { throw self.fail(l, "padding \(n) is out of range") }
            return s
        }
        if let n = p as? NSNumber { return Padding2D(try v(n)) }
        if let pair = p as? [NSNumber], pair.count == 2 { return Padding2D(h: try v(pair[0]), w: try v(pair[1])) }
        if let nested = p as? [[NSNumber]], nested.count == 2, nested[0].count == 2, nested[1].count == 2 {
            return Padding2D(top: try v(nested[0][0]), left: try v(nested[1][0]), bottom: try v(nested[0][1]), right: try v(nested[1][1]))
        }
        throw fail(l, "unreadable padding")
    }

    mutating func pool(_ l: KerasLayer, _ x: (name: String, shape: Shape)) throws -> (name: String, shape: Shape) {
        guard x.shape.rank == 4 else { throw fail(l, "expected a 4-D input") }
        guard let (kh, kw) = l.pair("pool_size") else { throw fail(l, "no pool_size") }
        let (sh, sw) = try optionalPair(l, "strides") ?? (kh, kw)
        let pad = try convPadding(l, x.shape, kernel: (kh, kw), stride: (sh, sw), dilation: (1, 1))
        let window = Window2D(kernel: Size2D(kh, kw), stride: Size2D(sh, sw), padding: pad)
        // Keras averages over the window's pixels inside the image only.
        let op: any GraphOperation = l.className == "MaxPooling2D" ? MaxPoolOp(window) : AvgPoolOp(window, countIncludePad: false)
        return try value(l, l.name, op, [x])
    }

    mutating func dense(_ l: KerasLayer, _ x: (name: String, shape: Shape)) throws -> (name: String, shape: Shape) {
        guard x.shape.rank == 2 else { throw fail(l, "Dense on a \(x.shape.rank)-D input is not supported (flatten or pool first)") }
        guard let units = l.int("units"), units > 0 else { throw fail(l, "no units") }
        let useBias = l.bool("use_bias", default: true)
        var expected: [(role: String, shape: [Int])] = [("kernel", [x.shape[1], units])]
        if useBias { expected.append(("bias", [units])) }
        let w = try take(l, expected)
        var ins = [x, constant(l.name + ".weight", KerasToTTL.denseKernel(w[0]), kind: .parameter)]
        if useBias { ins.append(constant(l.name + ".bias", w[1], kind: .parameter)) }
        let y = try value(l, l.name, GemmOp(Gemm.Options(transposeB: true)), ins)
        return try activate(l, y, l.activation, name: l.name + "_" + l.activation)
    }

    /// Keras Reshape, which reads and writes channels-last order: through NHWC where the data
    /// order differs from ttl's, straight through where it does not (1×1 images, as in the
    /// squeeze-and-excitation blocks of EfficientNet: `[N, C]` ↔ `[N, 1, 1, C]`).
    mutating func reshape(_ l: KerasLayer, _ x: (name: String, shape: Shape)) throws -> (name: String, shape: Shape) {
        guard let raw = l.config["target_shape"] as? [NSNumber] else { throw fail(l, "no target_shape") }
        guard let bounded = Optional(raw.compactMap(KerasLayer.size)), bounded.count == raw.count else { throw fail(l, "target_shape \(raw) is out of range") }
        var target = bounded
        let s = x.shape
        let count = s.count / max(s[0], 1)
        if let i = target.firstIndex(of: -1) {
            let known = target.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            guard known > 0, count % known == 0 else { throw fail(l, "cannot reshape \(s) to \(target)") }
            target[i] = count / known
        }
        guard target.allSatisfy({ $0 > 0 }), target.reduce(1, *) == count else { throw fail(l, "cannot reshape \(s) to \(target)") }
        guard target.count == 1 || target.count == 3 else { throw fail(l, "only reshapes to vectors or images are supported (target \(target))") }
        var y = x
        if s.rank == 4 && s[2] * s[3] > 1 { y = try value(l, l.name + "_to_nhwc", TransposeOp(KerasToTTL.nchwToNHWC), [y]) }
        if target.count == 1 { return try value(l, l.name, ReshapeOp([0, target[0]]), [y]) }
        if target[0] * target[1] == 1 { return try value(l, l.name, ReshapeOp([0, target[2], 1, 1]), [y]) }
        let nhwc = try value(l, l.name + "_nhwc", ReshapeOp([0] + target), [y])
        return try value(l, l.name, TransposeOp(KerasToTTL.nhwcToNCHW), [nhwc])
    }

    /// A per-channel (or single) constant shaped to broadcast against `x` in ttl's layout.
    func channelConstant(_ l: KerasLayer, _ values: [Float], _ x: Shape) throws -> Tensor {
        if values.count == 1 { return Tensor(shape: [1], scalars: values) }
        let c = x[1]
        guard values.count == c else { throw fail(l, "\(values.count) values for \(c) channels") }
        return Tensor(shape: x.rank == 4 ? [c, 1, 1] : [c], scalars: values)
    }

    /// Keras `Rescaling`, `x · scale + offset`; a scale of exactly 1 or an offset of exactly 0
    /// is left out (the Rescaling ttl writes for a lone `x · c` or `x + c` reads back as that).
    mutating func rescaling(_ l: KerasLayer, _ x: (name: String, shape: Shape)) throws -> (name: String, shape: Shape) {
        guard let scale = l.floats("scale") else { throw fail(l, "no scale") }
        let offset = l.floats("offset") ?? [0]
        let scales = !scale.allSatisfy { $0 == 1 }, offsets = !offset.allSatisfy { $0 == 0 }
        var y = x
        if scales {
            let s = constant(l.name + ".scale", try channelConstant(l, scale, x.shape))
            y = try value(l, offsets ? l.name + "_scale" : l.name, BinaryOp(.mul), [y, s])
        }
        if offsets {
            let o = constant(l.name + ".offset", try channelConstant(l, offset, x.shape))
            y = try value(l, l.name, BinaryOp(.add), [y, o])
        }
        return scales || offsets ? y : try value(l, l.name, IdentityOp(), [x])
    }

    /// Keras Normalization: `(x − mean) / max(√variance, 1e-7)` per channel.
    mutating func normalization(_ l: KerasLayer, _ x: (name: String, shape: Shape)) throws -> (name: String, shape: Shape) {
        if l.bool("invert", default: false) { throw fail(l, "invert=True is not supported") }
        let axis = (l.config["axis"] as? NSNumber)?.intValue ?? (l.config["axis"] as? [NSNumber])?.first?.intValue ?? -1
        guard axis == -1 || axis == x.shape.rank - 1 else { throw fail(l, "normalizing over axis \(axis) is not supported (channels only)") }
        var mean: [Float], variance: [Float]
        if let m = l.floats("mean"), let v = l.floats("variance") {
            mean = m
            variance = v
            if (weights.byLayer[l.name] ?? []).count > 0 { usedWeights.insert(l.name) }
        } else {
            let stored = weights.byLayer[l.name] ?? []
            guard stored.count >= 2 else {
                throw KerasError.weightCount(file: file, path: weights.groupPath[l.name] ?? l.name, expected: ["mean", "variance", "count"], found: stored.count)
            }
            usedWeights.insert(l.name)
            mean = stored[0].tensor.scalars
            variance = stored[1].tensor.scalars
        }
        let denominator = variance.map { max($0.squareRoot(), 1e-7) }
        let m = constant(l.name + ".mean", try channelConstant(l, mean, x.shape))
        let d = constant(l.name + ".denominator", try channelConstant(l, denominator, x.shape))
        let centered = try value(l, l.name + "_center", BinaryOp(.sub), [x, m])
        return try value(l, l.name, BinaryOp(.div), [centered, d])
    }
}

extension Model {
    /// Merges a transpose that only feeds another transpose into it, and drops transposes
    /// that come out as the identity (Keras `Permute` next to the NHWC adapters).
    func mergingTransposes() throws(GraphError) -> Model {
        var nodes = self.nodes
        var changed = true
        while changed {
            changed = false
            var consumers: [String: Int] = [:]
            for n in nodes { for i in n.inputs { consumers[i, default: 0] += 1 } }
            let producer = Dictionary(nodes.enumerated().flatMap { i, n in n.outputs.map { ($0, i) } }, uniquingKeysWith: { a, _ in a })
            for (i, n) in nodes.enumerated() {
                guard let t = n.operation as? TransposeOp else { continue }
                if let p = producer[n.inputs[0]], let first = nodes[p].operation as? TransposeOp,
                   consumers[n.inputs[0]] == 1, !outputs.contains(n.inputs[0]) {
                    nodes[i] = Node(n.name, TransposeOp(composePermutations(first.permutation, t.permutation)), inputs: nodes[p].inputs, outputs: n.outputs)
                    nodes.remove(at: p)
                    changed = true
                    break
                }
                if t.permutation == Array(0 ..< t.permutation.count), !outputs.contains(n.outputs[0]) {
                    let source = n.inputs[0], result = n.outputs[0]
                    nodes.remove(at: i)
                    for k in nodes.indices { nodes[k].inputs = nodes[k].inputs.map { $0 == result ? source : $0 } }
                    changed = true
                    break
                }
            }
        }
        var m = try Model(inputs: inputs, outputs: outputs, nodes: nodes, parameters: parameters)
        m.metadata = metadata
        m.frozen = frozen
        return m
    }
}

// Writes a ttl model as a legacy full-model Keras HDF5 file: the `model_config` JSON of a
// Functional model in tf.keras 2's form (which Keras 3 also loads), and `model_weights/`
// with `layer_names` and each layer's `weight_names`, as tf.keras's `model.save(…h5)` writes.
//
// ttl's NCHW values become Keras's NHWC tensors. A model that came from Keras (its input goes
// straight into an NHWC → NCHW transpose) keeps its NHWC input; any other image model keeps
// its NCHW input through a leading `Permute`, and a 4-D output is permuted back to NCHW, so
// the Keras model takes and returns exactly what ttl's does.
import Foundation
import TTLCore
import TTLNN

/// Writes Keras HDF5 files.
public enum KerasExporter {
    /// The root attribute holding the model's metadata (`labels`, `preprocessing`, …) as a JSON object.
    public static let metadataAttribute = "ttl_metadata"

    /// Writes `model` to `url` (`.h5`) through a temporary file renamed into place.
    public static func write(_ model: Model, to url: URL) throws {
        var writer = try KerasLayerWriter(model)
        let layers = try writer.layers()
        let json = try configJSON(model, layers)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try HDF5.serialized {
                let file = try HDF5File.create(temporary, name: url.path)
                let root = file.root
                try root.write(strings: [json], as: "model_config", scalar: true)
                try root.write(strings: ["ttl"], as: "keras_version", scalar: true)
                try root.write(strings: ["tensorflow"], as: "backend", scalar: true)
                // ttl's facts (labels, preprocessing), which Keras ignores and ttl reads back.
                let facts = try JSONSerialization.data(withJSONObject: model.metadata, options: [.sortedKeys])
                try root.write(strings: [String(decoding: facts, as: UTF8.self)], as: KerasExporter.metadataAttribute, scalar: true)
                let weights = try root.createGroup("model_weights")
                try weights.write(strings: layers.map(\.name), as: "layer_names")
                try weights.write(strings: ["ttl"], as: "keras_version", scalar: true)
                try weights.write(strings: ["tensorflow"], as: "backend", scalar: true)
                for layer in layers {
                    let g = try weights.createGroup(layer.name)
                    try g.write(strings: layer.weights.map { "\(layer.name)/\($0.name):0" }, as: "weight_names")
                    if layer.weights.isEmpty { continue }
                    let inner = try g.createGroup(layer.name)
                    for w in layer.weights { try inner.write(w.tensor, as: "\(w.name):0") }
                }
                try file.flush()
            }
            guard rename(temporary.path, url.path) == 0 else {
                throw HDF5Error.library(file: url.path, path: "/", operation: "rename the finished file into place", message: String(cString: strerror(errno)))
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    static func configJSON(_ model: Model, _ layers: [KerasLayerWriter.Layer]) throws -> String {
        let entries: [[String: Any]] = layers.map { l in
            var config = l.config
            config["name"] = l.name
            config["dtype"] = "float32"
            if l.className != "InputLayer" { config["trainable"] = true }
            return ["class_name": l.className, "config": config, "name": l.name,
                    "inbound_nodes": l.inbound.isEmpty ? [] : [l.inbound.map { [$0, 0, 0, [String: Any]()] as [Any] }]]
        }
        let inputs = layers.filter { $0.className == "InputLayer" }.map { [$0.name, 0, 0] as [Any] }
        let outputs = layers.filter { $0.outputIndex != nil }.sorted { $0.outputIndex! < $1.outputIndex! }.map { [$0.name, 0, 0] as [Any] }
        let top: [String: Any] = [
            "class_name": "Functional",
            "config": ["name": model.metadata["keras_model"] ?? "ttl_model", "layers": entries, "input_layers": inputs, "output_layers": outputs],
            "keras_version": "2.21.0", "backend": "tensorflow",
        ]
        let data = try JSONSerialization.data(withJSONObject: top, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}

/// Turns the graph into Keras layers, node by node.
struct KerasLayerWriter {
    struct Layer {
        var name: String
        var className: String
        var config: [String: Any]
        var inbound: [String]
        var weights: [(name: String, tensor: Tensor)] = []
        /// Position among the model's outputs, if the layer gives one.
        var outputIndex: Int?
    }

    /// How a Keras tensor holds a ttl value: `.nhwc` is the value transposed to channels-last
    /// (every 4-D value normally); `.same` is the value as it is (2-D values, or a 4-D value
    /// Keras must hand back in ttl's layout).
    enum Layout { case nhwc, same }

    let model: Model
    var shapes: [String: Shape] = [:]
    var out: [Layer] = []
    var kerasOf: [String: (layer: String, layout: Layout)] = [:]
    var taken = Set<String>()
    var consumers: [String: [Int]] = [:]
    var skipped = Set<Int>()

    init(_ model: Model) throws {
        self.model = model
        var feeds: [String: Shape] = [:]
        for i in model.inputs { feeds[i.name] = i.shape(batch: 1) }
        shapes = try model.inferShapes(feeds)
        for (i, n) in model.nodes.enumerated() { for v in n.inputs { consumers[v, default: []].append(i) } }
    }

    func fail(_ n: Node, _ message: String) -> KerasError { .cannotExport(node: n.name, op: n.operation.type, message: message) }

    mutating func uniqueName(_ raw: String) -> String {
        var base = String(raw.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." ? $0 : "_" })
        while base.hasPrefix("_") || base.hasPrefix(".") { base.removeFirst() }
        if base.isEmpty { base = "layer" }
        var name = base
        var k = 2
        while taken.contains(name) { name = "\(base)_\(k)"; k += 1 }
        taken.insert(name)
        return name
    }

    @discardableResult
    mutating func emit(_ name: String, _ className: String, _ config: [String: Any], _ inbound: [String], weights: [(String, Tensor)] = []) -> String {
        let n = uniqueName(name)
        out.append(Layer(name: n, className: className, config: config, inbound: inbound, weights: weights.map { (name: $0.0, tensor: $0.1) }))
        return n
    }

    /// The Keras layer giving `value` in `layout`, adding a Permute when the held layout differs.
    mutating func tensor(_ value: String, _ layout: Layout, for n: Node) throws -> String {
        guard let held = kerasOf[value] else { throw fail(n, "input '\(value)' is not a value Keras can compute") }
        if held.layout == layout || shapes[value]?.rank != 4 { return held.layer }
        let dims = layout == .nhwc ? [2, 3, 1] : [3, 1, 2]
        let p = emit(held.layer + (layout == .nhwc ? "_to_nhwc" : "_to_nchw"), "Permute", ["dims": dims], [held.layer])
        kerasOf[value] = (p, layout)
        return p
    }

    func parameter(_ name: String, of n: Node) throws -> Tensor {
        guard let t = model.parameters.tensor(name) else { throw fail(n, "'\(name)' is computed, not a stored weight") }
        return t
    }

    mutating func layers() throws -> [Layer] {
        // Inputs.
        guard model.inputs.count == 1, let input = model.inputs.first else {
            throw KerasError.cannotExport(node: "inputs", op: "Input", message: "\(model.inputs.count) inputs; one is supported")
        }
        let dims = input.dimensions.dropFirst().map { $0 ?? -1 }
        guard dims.allSatisfy({ $0 > 0 }) else {
            throw KerasError.cannotExport(node: input.name, op: "Input", message: "the input's size varies; Keras needs it fixed")
        }
        let inputLayer = emit(input.name, "InputLayer", ["batch_input_shape": [NSNull()] + dims.map { $0 as Any }, "sparse": false, "ragged": false], [])
        let adapter = model.nodes.firstIndex { $0.inputs == [input.name] && ($0.operation as? TransposeOp)?.permutation == [0, 3, 1, 2] }
        if dims.count == 3, let adapter, model.imageLayout == .nhwc {
            kerasOf[model.nodes[adapter].outputs[0]] = (inputLayer, .nhwc)
            skipped.insert(adapter)
        } else {
            kerasOf[input.name] = (inputLayer, .same)
        }
        // Output adapters (NCHW → NHWC transposes at the end) need no layer: Keras is NHWC already.
        let outputAdapters = model.nodes.indices.filter { i in
            let n = model.nodes[i]
            return (n.operation as? TransposeOp)?.permutation == [0, 2, 3, 1] && model.outputs.contains(n.outputs[0]) && shapes[n.inputs[0]]?.rank == 4
        }
        skipped.formUnion(outputAdapters)
        for (i, n) in model.nodes.enumerated() where !skipped.contains(i) { try node(i, n) }
        for i in outputAdapters {
            let n = model.nodes[i]
            kerasOf[n.outputs[0]] = (try tensor(n.inputs[0], .nhwc, for: n), .same)
        }
        for (index, o) in model.outputs.enumerated() {
            let l = try tensor(o, .same, for: model.nodes.first { $0.outputs.contains(o) } ?? Node(o, IdentityOp(), inputs: []))
            guard let k = out.firstIndex(where: { $0.name == l }), out[k].outputIndex == nil else {
                throw KerasError.cannotExport(node: o, op: "output", message: "the same Keras tensor would be given twice")
            }
            out[k].outputIndex = index
        }
        return kerasOrder(out)
    }

    func kerasOrder(_ layers: [Layer]) -> [Layer] {
        let byName = Dictionary(uniqueKeysWithValues: layers.map { ($0.name, $0) })
        return kerasLayerOrder(layers.map { KerasGraphNode(name: $0.name, inbound: $0.inbound, outputIndex: $0.outputIndex) })
            .compactMap { byName[$0] }
    }

    /// The only node reading `value`, if exactly one does and `value` is not a graph output.
    func soleConsumer(_ value: String) -> Int? {
        guard let c = consumers[value], c.count == 1, !model.outputs.contains(value) else { return nil }
        return c[0]
    }

    mutating func node(_ i: Int, _ n: Node) throws {
        if try multiNodeLayer(i, n) { return }
        let x = n.inputs.first ?? ""
        let rank = shapes[x]?.rank ?? 0
        let result: (String, Layout)
        switch n.operation {
        case let op as Conv2DOp: result = (try conv(n, op), .nhwc)
        case let op as BatchNormOp:
            guard rank == 4 || rank == 2 else { throw fail(n, "batch norm over a \(rank)-D tensor") }
            let ws = try n.inputs[1 ... 4].map { try parameter($0, of: n) }
            let config: [String: Any] = ["axis": rank - 1, "epsilon": Double(op.epsilon), "momentum": Double(TTLToKeras.momentum(op.momentum)), "center": true, "scale": true]
            result = (emit(n.name, "BatchNormalization", config, [try tensor(x, .nhwc, for: n)],
                           weights: [("gamma", ws[0]), ("beta", ws[1]), ("moving_mean", ws[2]), ("moving_variance", ws[3])]), .nhwc)
        case let op as ActivationOp:
            let (className, config): (String, [String: Any])
            switch op.function {
            case .relu: (className, config) = ("Activation", ["activation": "relu"])
            case .sigmoid: (className, config) = ("Activation", ["activation": "sigmoid"])
            // Keras 3's name (MobileNetV3 as Keras 3 writes it); tf_keras has no such activation.
            case .hardSwish: (className, config) = ("Activation", ["activation": "hard_silu"])
            case let .clip(lo, hi) where lo == 0: (className, config) = ("ReLU", ["max_value": Double(hi), "negative_slope": 0.0, "threshold": 0.0])
            case let .leakyReLU(slope): (className, config) = ("ReLU", ["max_value": NSNull(), "negative_slope": Double(slope), "threshold": 0.0])
            default: throw fail(n, "no Keras activation computes \(op.description) the same way")
            }
            result = (emit(n.name, className, config, [try tensor(x, .nhwc, for: n)]), .nhwc)
        case let op as SoftmaxOp:
            guard rank == 2, op.axis == -1 || op.axis == 1 else { throw fail(n, "softmax is exported over the last axis of a 2-D tensor only") }
            // Fold into the Dense layer that computes the logits, as Keras models are written.
            if let k = out.lastIndex(where: { $0.name == kerasOf[x]?.layer }), out[k].className == "Dense",
               (out[k].config["activation"] as? String) == "linear", soleConsumer(x) == i {
                out[k].config["activation"] = "softmax"
                result = (out[k].name, .same)
            } else {
                result = (emit(n.name, "Activation", ["activation": "softmax"], [try tensor(x, .same, for: n)]), .same)
            }
        case let op as MaxPoolOp: result = (try pool(n, op.window, max: true, countIncludePad: false), .nhwc)
        case let op as AvgPoolOp: result = (try pool(n, op.window, max: false, countIncludePad: op.countIncludePad), .nhwc)
        case is GlobalAvgPoolOp:
            let source = try tensor(x, .nhwc, for: n)
            if let c = soleConsumer(n.outputs[0]), let f = model.nodes[c].operation as? FlattenOp, f.axis == 1 {
                let l = emit(n.name, "GlobalAveragePooling2D", ["data_format": "channels_last", "keepdims": false], [source])
                kerasOf[model.nodes[c].outputs[0]] = (l, .same)
                skipped.insert(c)
                result = (l, .nhwc)
            } else {
                result = (emit(n.name, "GlobalAveragePooling2D", ["data_format": "channels_last", "keepdims": true], [source]), .nhwc)
            }
        case is ReshapeOp where shapes[n.outputs[0]]?.dimensions != shapes[x].map({ [$0[0], $0.count / max($0[0], 1)] }):
            // Keras reshapes its own (channels-last) order: hand it ttl's value as it is and take
            // the result as it is, except for 1×1 images, where both orders are one.
            guard let out = shapes[n.outputs[0]], out.rank == 2 || out.rank == 4 else { throw fail(n, "only reshapes to vectors or images map to Keras's Reshape") }
            if out.rank == 4 && out[2] * out[3] == 1 {
                result = (emit(n.name, "Reshape", ["target_shape": [1, 1, out[1]]], [try tensor(x, rank == 4 ? .nhwc : .same, for: n)]), .nhwc)
            } else {
                result = (emit(n.name, "Reshape", ["target_shape": Array(out.dimensions.dropFirst())], [try tensor(x, .same, for: n)]), .same)
            }
        case is FlattenOp, is ReshapeOp:
            // A reshape that flattens (`[N, C, 1, 1]` → `[N, C]`, as exporters write global pooling) is a Flatten.
            guard (n.operation as? FlattenOp).map({ $0.axis == 1 }) ?? true, rank == 4 || rank == 2 else {
                throw fail(n, "only flattening everything but the batch maps to Keras's Flatten")
            }
            if rank == 2 {
                result = (emit(n.name, "Flatten", ["data_format": "channels_last"], [try tensor(x, .same, for: n)]), .same)
            } else {
                // Keras flattens its tensor in order; ttl flattens C, H, W: hand Keras the value as it is.
                let s = shapes[x]!
                let source = s[2] * s[3] == 1 ? try tensor(x, .nhwc, for: n) : try tensor(x, .same, for: n)
                result = (emit(n.name, "Flatten", ["data_format": "channels_last"], [source]), .same)
            }
        case let op as GemmOp:
            let o = op.options
            guard !o.transposeA, o.alpha == 1, o.beta == 1, rank == 2 else { throw fail(n, "only x·Wᵀ + b over a 2-D input maps to Dense") }
            let w = try parameter(n.inputs[1], of: n)
            let kernel = o.transposeB ? TTLToKeras.denseKernel(w) : w
            var weights = [("kernel", kernel)]
            if n.inputs.count > 2, !n.inputs[2].isEmpty {
                let b = try parameter(n.inputs[2], of: n)
                guard b.count == kernel.shape[1] else { throw fail(n, "bias of shape \(b.shape) is not one per unit") }
                weights.append(("bias", b.reshaped([b.count])))
            }
            result = (emit(n.name, "Dense", ["units": kernel.shape[1], "activation": "linear", "use_bias": weights.count == 2],
                           [try tensor(x, .same, for: n)], weights: weights), .same)
        case let op as BinaryOp: result = try binary(i, n, op)
        case let op as ConcatOp:
            guard rank == 2 || rank == 4 else { throw fail(n, "only vectors and images are concatenated in Keras") }
            let axis = op.axis < 0 ? op.axis + rank : op.axis
            guard axis >= 1 else { throw fail(n, "concatenation along the batch") }
            // ttl's axis 1 is Keras's channel axis (last); H and W are Keras's 1 and 2.
            let keras = rank == 4 ? [0, 3, 1, 2][axis] : axis
            let layout: Layout = rank == 4 ? .nhwc : .same
            result = (emit(n.name, "Concatenate", ["axis": keras == rank - 1 ? -1 : keras], try n.inputs.map { try tensor($0, layout, for: n) }), layout)
        case is IdentityOp: result = (emit(n.name, "Activation", ["activation": "linear"], [try tensor(x, .nhwc, for: n)]), .nhwc)
        case let op as SliceOp: result = try cropping(n, op)
        case let op as PadOp:
            guard op.value == 0, rank == 4 else { throw fail(n, "only zero padding of images maps to ZeroPadding2D") }
            let p = op.padding
            result = (emit(n.name, "ZeroPadding2D", ["padding": [[p.top, p.bottom], [p.left, p.right]], "data_format": "channels_last"],
                           [try tensor(x, .nhwc, for: n)]), .nhwc)
        case let op as TransposeOp:
            guard rank == 4, op.permutation.first == 0 else { throw fail(n, "only transposes of image axes map to Permute") }
            // Keras tensor in, Keras tensor out: to ttl's layout, transpose, back to Keras's.
            let p = composePermutations(composePermutations(KerasToTTL.nhwcToNCHW, op.permutation), KerasToTTL.nchwToNHWC)
            result = (emit(n.name, "Permute", ["dims": Array(p.dropFirst())], [try tensor(x, .nhwc, for: n)]), .nhwc)
        default:
            throw fail(n, "no Keras layer for this operation")
        }
        kerasOf[n.outputs[0]] = (result.0, shapes[n.outputs[0]]?.rank == 4 ? result.1 : .same)
    }

    mutating func conv(_ n: Node, _ op: Conv2DOp) throws -> String {
        let w = try parameter(n.inputs[1], of: n)
        let s = shapes[n.inputs[0]]!
        let o = op.options
        let cin = s[1], cout = w.shape[0]
        var source = try tensor(n.inputs[0], .nhwc, for: n)
        let padding = try kerasPadding(n, s, kernel: (w.shape[2], w.shape[3]), stride: (o.stride.h, o.stride.w),
                                       dilation: (o.dilation.h, o.dilation.w), pads: o.padding, source: &source)
        var config: [String: Any] = ["kernel_size": [w.shape[2], w.shape[3]], "strides": [o.stride.h, o.stride.w], "padding": padding,
                                     "data_format": "channels_last", "dilation_rate": [o.dilation.h, o.dilation.w], "activation": "linear"]
        var weights: [(String, Tensor)]
        let className: String
        if o.groups == cin && o.groups > 1 && w.shape[1] == 1 {
            className = "DepthwiseConv2D"
            config["depth_multiplier"] = cout / cin
            weights = [("depthwise_kernel", TTLToKeras.depthwiseKernel(w, multiplier: cout / cin))]
        } else {
            className = "Conv2D"
            config["filters"] = cout
            config["groups"] = o.groups
            weights = [("kernel", TTLToKeras.convKernel(w))]
        }
        if n.inputs.count > 2, !n.inputs[2].isEmpty { weights.append(("bias", try parameter(n.inputs[2], of: n))) }
        config["use_bias"] = weights.count == 2
        return emit(n.name, className, config, [source], weights: weights)
    }

    /// "same" when the pads are TensorFlow's, "valid" when none; otherwise a ZeroPadding2D first.
    mutating func kerasPadding(_ n: Node, _ s: Shape, kernel: (Int, Int), stride: (Int, Int), dilation: (Int, Int), pads: Padding2D,
                               source: inout String, zeroPaddingIsExact: Bool = true) throws -> String {
        if pads.isZero { return "valid" }
        let ph = tfSamePadding(input: s[2], kernel: kernel.0, stride: stride.0, dilation: dilation.0)
        let pw = tfSamePadding(input: s[3], kernel: kernel.1, stride: stride.1, dilation: dilation.1)
        if pads == Padding2D(top: ph.before, left: pw.before, bottom: ph.after, right: pw.after) { return "same" }
        guard zeroPaddingIsExact else { throw fail(n, "padding \(pads) is neither Keras's 'same' nor 'valid'") }
        source = emit(n.name + "_pad", "ZeroPadding2D", ["padding": [[pads.top, pads.bottom], [pads.left, pads.right]], "data_format": "channels_last"], [source])
        return "valid"
    }

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

    /// A constant operand as Keras's per-channel (or single) list, if it is one.
    func channelList(_ t: Tensor, channels c: Int, rank: Int) -> [Float]? {
        if t.count == 1 { return t.scalars }
        let fits = rank == 4 ? (t.shape.dimensions == [c, 1, 1] || t.shape.dimensions == [1, c, 1, 1]) : (t.shape.dimensions == [c] || t.shape.dimensions == [1, c])
        return fits ? t.scalars : nil
    }

    mutating func binary(_ i: Int, _ n: Node, _ op: BinaryOp) throws -> (String, Layout) {
        let a = n.inputs[0], b = n.inputs[1]
        let aConst = model.parameters[a] != nil, bConst = model.parameters[b] != nil
        if !aConst && !bConst {
            let className: String
            switch op.op {
            case .add: className = "Add"
            case .mul: className = "Multiply"
            case .sub: className = "Subtract"
            default: throw fail(n, "division of two computed tensors has no Keras layer")
            }
            return (emit(n.name, className, [:], [try tensor(a, .nhwc, for: n), try tensor(b, .nhwc, for: n)]), .nhwc)
        }
        guard !aConst, let s = shapes[a], let c = model.parameters.tensor(b).flatMap({ channelList($0, channels: s.rank >= 2 ? s[1] : 1, rank: s.rank) }) else {
            throw fail(n, "only x ∘ constant, with one constant or one per channel, maps to Rescaling or Normalization")
        }
        let source = try tensor(a, .nhwc, for: n)
        // Look ahead for the second half of Rescaling (x·s + o) or Normalization ((x − m) / d).
        if let k = soleConsumer(n.outputs[0]), let next = model.nodes[k].operation as? BinaryOp, model.nodes[k].inputs[0] == n.outputs[0],
           let d = model.parameters.tensor(model.nodes[k].inputs[1]).flatMap({ channelList($0, channels: s.rank >= 2 ? s[1] : 1, rank: s.rank) }) {
            let second = model.nodes[k]
            if op.op == .mul && next.op == .add {
                skipped.insert(k)
                let l = emit(second.name, "Rescaling", ["scale": list(c), "offset": list(d)], [source])
                kerasOf[second.outputs[0]] = (l, s.rank == 4 ? .nhwc : .same)
                return (l, .nhwc)
            }
            if op.op == .sub && next.op == .div {
                skipped.insert(k)
                let channels = Swift.max(c.count, d.count)
                let mean = c.count == channels ? c : Array(repeating: c[0], count: channels)
                let variance = (d.count == channels ? d : Array(repeating: d[0], count: channels)).map { $0 * $0 }
                let l = emit(second.name, "Normalization", ["axis": -1, "mean": mean.map(Double.init), "variance": variance.map(Double.init), "invert": false], [source])
                kerasOf[second.outputs[0]] = (l, s.rank == 4 ? .nhwc : .same)
                return (l, .nhwc)
            }
        }
        switch op.op {
        case .mul: return (emit(n.name, "Rescaling", ["scale": list(c), "offset": 0.0], [source]), .nhwc)
        case .add: return (emit(n.name, "Rescaling", ["scale": 1.0, "offset": list(c)], [source]), .nhwc)
        case .sub: return (emit(n.name, "Rescaling", ["scale": 1.0, "offset": list(c.map { -$0 })], [source]), .nhwc)
        default: return (emit(n.name, "Rescaling", ["scale": list(c.map { 1 / $0 }), "offset": 0.0], [source]), .nhwc)
        }
    }

    /// A single number as a number, several as a list (how Keras configs write them).
    func list(_ v: [Float]) -> Any { v.count == 1 ? Double(v[0]) as Any : v.map { Double($0) } as Any }
}

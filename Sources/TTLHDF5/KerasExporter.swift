// Writes a ttl model as a legacy full-model Keras HDF5 file: the `model_config` JSON of a
// Functional model in tf.keras 2's form (which Keras 3 also loads), and `model_weights/`
// with `layer_names` and each layer's `weight_names`, as tf.keras's `model.save(…h5)` writes.
//
// ttl's NCHW values become Keras's NHWC tensors. A model that came from Keras (its input goes
// straight into an NHWC → NCHW transpose) keeps its NHWC input; any other image model keeps
// its NCHW input through a leading `Permute`, and a 4-D output is permuted back to NCHW, so
// the Keras model takes and returns exactly what ttl's does. Each operation is written by the
// mapping in `Layers/` that claims it (the registry `KerasLayers.all`).
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

    /// Writes node `i` through the first mapping (KerasLayers.all) that claims it.
    mutating func node(_ i: Int, _ n: Node) throws {
        for mapping in KerasLayers.exporters(for: n.operation) {
            guard let written = try mapping.exportNode(i, n, &self) else { continue }
            if case let .layer(layer, layout) = written {
                kerasOf[n.outputs[0]] = (layer, shapes[n.outputs[0]]?.rank == 4 ? layout : .same)
            }
            return
        }
        throw fail(n, "no Keras layer for this operation")
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
}

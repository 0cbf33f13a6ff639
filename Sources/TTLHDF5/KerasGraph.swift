// Rebuilds a Keras model configuration as a ttl graph. Keras tensors are channels-last;
// ttl runs NCHW, so every 4-D Keras tensor is held transposed: an NHWC → NCHW transpose
// follows each image input, and a 4-D output is transposed back, so the model takes and
// returns what Keras takes and returns. Layer names become node names; weights go under
// `layer.weight`, `layer.bias`, `layer.running_mean`, `layer.running_var` (and
// `layer.scale`/`.offset`, `layer.mean`/`.denominator` for Rescaling and Normalization).
// Each layer class is built by its mapping in `Layers/` (the registry `KerasLayers.all`).
import Foundation
import TTLCore
import TTLNN

struct KerasGraphBuilder {
    let file: String
    var weights: KerasWeights
    var nodes: [Node] = []
    var parameters = ParameterTree()
    var inputs: [InputSpec] = []
    var names = Set<String>()
    /// Each Keras tensor's ttl value and NCHW shape (batch 1).
    var values: [KerasTensorRef: KerasValue] = [:]
    var usedWeights = Set<String>()

    init(file: String, weights: KerasWeights) {
        self.file = file
        self.weights = weights
    }

    /// The whole model: checks every layer class first (all unsupported ones reported at once).
    static func build(_ config: KerasModelConfig, weights: KerasWeights, file: String) throws -> Model {
        var unsupported: [String] = []
        for l in config.layers {
            if let mapping = KerasLayers.importers[l.className] {
                if let form = mapping.unsupportedForm(l) { unsupported.append(form) }
            } else {
                unsupported.append("\(l.name) (\(l.className))")
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
        var model = try Model(inputs: b.inputs, outputs: outputs, nodes: b.nodes, parameters: b.parameters).fusingHardSwish().mergingTransposes()
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
    mutating func value(_ l: KerasLayer, _ name: String, _ op: any GraphOperation, _ ins: [KerasValue]) throws -> KerasValue {
        let shapes = ins.map(\.shape)
        let out: [Shape]
        do { out = try op.outputShapes(shapes) } catch {
            throw KerasError.layer(file: file, layer: l.name, className: l.className, message: error.description)
        }
        return (node(name, op, ins.map(\.name)), out[0])
    }

    mutating func constant(_ path: String, _ t: Tensor, kind: ParameterTree.Kind = .buffer) -> KerasValue {
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

    /// Builds one layer through its class's mapping (KerasLayers.all).
    mutating func add(_ l: KerasLayer) throws {
        guard let mapping = KerasLayers.importers[l.className] else {
            throw KerasError.unsupportedLayers(file: file, layers: ["\(l.name) (\(l.className))"])
        }
        var ins: [KerasValue] = []
        for ref in l.inbound {
            guard ref.node == 0, let v = values[ref] else {
                throw KerasError.invalidConfig(file: file, message: "layer '\(l.name)' reads '\(ref.layer)', which comes later or does not exist")
            }
            ins.append(v)
        }
        if mapping.arity != .source && ins.isEmpty { throw fail(l, "the layer has no input") }
        if mapping.arity != .several {
            if let x = ins.first {
                if ins.count != 1 { throw fail(l, "expected one input, got \(ins.count)") }
                if x.shape.rank == 4, let format = l.string("data_format"), format != "channels_last" {
                    throw fail(l, "data_format '\(format)' is not supported (channels_last only)")
                }
            }
        }
        let out = try mapping.importLayer(l, ins, &self)
        values[KerasTensorRef(layer: l.name, node: 0, tensor: 0)] = out
    }

    /// TensorFlow's 'same' (asymmetric, the extra pixel after) or 'valid' padding.
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

    /// A per-channel (or single) constant shaped to broadcast against `x` in ttl's layout.
    func channelConstant(_ l: KerasLayer, _ values: [Float], _ x: Shape) throws -> Tensor {
        if values.count == 1 { return Tensor(shape: [1], scalars: values) }
        let c = x[1]
        guard values.count == c else { throw fail(l, "\(values.count) values for \(c) channels") }
        return Tensor(shape: x.rank == 4 ? [c, 1, 1] : [c], scalars: values)
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

// The model configuration JSON that Keras stores in a legacy `.h5` (`model_config` attribute)
// and in a `.keras` zip (`config.json`): `Functional` and `Sequential` models, written by
// tf.keras 2 (`inbound_nodes: [[[layer, node, tensor, kwargs], …]]`) or by Keras 3
// (`inbound_nodes: [{"args": [keras tensors…], "kwargs": {…}}]`, each tensor carrying
// `keras_history: [layer, node, tensor]`).
import Foundation

/// One output of one layer call: `(layer, node index, tensor index)`.
struct KerasTensorRef: Hashable {
    var layer: String
    var node: Int
    var tensor: Int
}

/// One layer of a model configuration, with the layers it reads (in argument order).
struct KerasLayer {
    var name: String
    var className: String
    var config: [String: Any]
    var inbound: [KerasTensorRef]
    /// Numbers the layer is called with besides tensors: Keras 3's constant arguments
    /// (`x + 3.0` becomes `Add` called with `[x, 3.0]`), tf.keras's `y` keyword of a `TFOpLambda`.
    var constants: [Float] = []
}

/// A parsed model configuration: layers in the order Keras lists them (a topological order).
struct KerasModelConfig {
    var name: String
    var layers: [KerasLayer]
    var inputs: [KerasTensorRef]
    var outputs: [KerasTensorRef]
    /// Models used as layers (ConvNeXt's `Sequential` stem), flattened into `layers`: each one's
    /// name and its own layers in order, whose weights the file keeps under the model's name.
    var nested: [(model: String, layers: [String])] = []
}

extension KerasModelConfig {
    /// Parses `json`; `file` names the source in errors.
    init(json: String, file: String) throws(KerasError) {
        guard let data = json.data(using: .utf8),
              let top = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .invalidConfig(file: file, message: "the model configuration is not a JSON object")
        }
        try self.init(top, file: file)
    }

    init(_ top: [String: Any], file: String) throws(KerasError) {
        let className = top["class_name"] as? String ?? ""
        guard let config = top["config"] as? [String: Any] else {
            throw .invalidConfig(file: file, message: "the model configuration has no 'config' object")
        }
        switch className {
        case "Functional", "Model":
            guard let layers = config["layers"] as? [[String: Any]] else {
                throw .invalidConfig(file: file, message: "the model configuration lists no layers")
            }
            self.init(name: config["name"] as? String ?? "model",
                      layers: try layers.map { l throws(KerasError) in try Self.layer(l, file: file) },
                      inputs: try Self.endpoints(config["input_layers"], file: file, what: "input_layers"),
                      outputs: try Self.endpoints(config["output_layers"], file: file, what: "output_layers"))
            try flattenNestedModels(layers, file: file)
        case "Sequential":
            try self.init(sequential: config, file: file)
        default:
            throw .invalidConfig(file: file, message: "model class '\(className)' is not a Functional or Sequential model")
        }
    }

    /// A `Sequential` model: each layer reads the one before; the input comes from an
    /// `InputLayer` entry or from the first layer's `batch_input_shape`/`batch_shape`.
    private init(sequential config: [String: Any], file: String) throws(KerasError) {
        guard let entries = config["layers"] as? [[String: Any]], !entries.isEmpty else {
            throw .invalidConfig(file: file, message: "the Sequential model lists no layers")
        }
        var layers: [KerasLayer] = []
        var previous: KerasTensorRef?
        for (i, e) in entries.enumerated() {
            let className = e["class_name"] as? String ?? ""
            let c = e["config"] as? [String: Any] ?? [:]
            let name = c["name"] as? String ?? e["name"] as? String ?? "layer_\(i)"
            if previous == nil && className != "InputLayer" {
                guard let shape = c["batch_input_shape"] ?? c["batch_shape"] else {
                    throw .invalidConfig(file: file, message: "the Sequential model does not state its input shape")
                }
                layers.append(KerasLayer(name: name + "_input", className: "InputLayer", config: ["batch_shape": shape], inbound: []))
                previous = KerasTensorRef(layer: name + "_input", node: 0, tensor: 0)
            }
            layers.append(KerasLayer(name: name, className: className, config: c, inbound: previous.map { [$0] } ?? []))
            previous = KerasTensorRef(layer: name, node: 0, tensor: 0)
        }
        self.init(name: config["name"] as? String ?? "sequential", layers: layers,
                  inputs: [KerasTensorRef(layer: layers[0].name, node: 0, tensor: 0)], outputs: previous.map { [$0] } ?? [])
    }

    private static func layer(_ l: [String: Any], file: String) throws(KerasError) -> KerasLayer {
        let config = l["config"] as? [String: Any] ?? [:]
        guard let name = l["name"] as? String ?? config["name"] as? String else {
            throw .invalidConfig(file: file, message: "a layer has no name")
        }
        var className = l["class_name"] as? String ?? ""
        // tf.keras writes a registered custom layer as `Package>Class` (`Custom>CustomScaleLayer`).
        if let k = className.lastIndex(of: ">") { className = String(className[className.index(after: k)...]) }
        let nodes = l["inbound_nodes"] as? [Any] ?? []
        guard nodes.count <= 1 else {
            throw .invalidConfig(file: file, message: "layer '\(name)' is called \(nodes.count) times; shared layers are not supported")
        }
        var inbound: [KerasTensorRef] = []
        var constants: [Float] = []
        if let node = nodes.first {
            if let dict = node as? [String: Any] {
                // Keras 3: every keras tensor among the call's positional arguments, in order,
                // and the plain numbers among them.
                collectHistories(dict["args"] ?? [], into: &inbound)
                for case let n as NSNumber in dict["args"] as? [Any] ?? [] { constants.append(n.floatValue) }
            } else if let list = node as? [Any] {
                // tf.keras: [[layer, node, tensor, kwargs], …]; a TFOpLambda's call is one entry
                // without the outer list, and its second operand is its `y` keyword, a tensor
                // reference or a number.
                let entries = list.first is String ? [list] : list
                for case let entry as [Any] in entries {
                    guard let ref = tensorRef(entry) else {
                        throw .invalidConfig(file: file, message: "layer '\(name)' has an unreadable inbound node")
                    }
                    inbound.append(ref)
                    if entry.count > 3, let kwargs = entry[3] as? [String: Any], let y = kwargs["y"] {
                        if let n = y as? NSNumber { constants.append(n.floatValue) }
                        else if let l = y as? [Any], let r = tensorRef(l) { inbound.append(r) }
                        else if !(y is NSNull) { throw .invalidConfig(file: file, message: "layer '\(name)' has an unreadable operand y") }
                    }
                }
            }
        }
        return KerasLayer(name: name, className: className, config: config, inbound: inbound, constants: constants)
    }

    /// Replaces each layer that is itself a model (`Sequential` or `Functional`) by its own layers:
    /// its input layer reads what the model was called on, and what read the model reads its output.
    private mutating func flattenNestedModels(_ entries: [[String: Any]], file: String) throws(KerasError) {
        guard layers.contains(where: { ["Sequential", "Functional", "Model"].contains($0.className) }) else { return }
        var flat: [KerasLayer] = []
        var outputOf: [String: KerasTensorRef] = [:]
        for (l, entry) in zip(layers, entries) {
            guard ["Sequential", "Functional", "Model"].contains(l.className) else { flat.append(l); continue }
            let inner = try KerasModelConfig(entry, file: file)
            guard inner.inputs.count == 1, inner.outputs.count == 1, l.inbound.count == 1 else {
                throw .invalidConfig(file: file, message: "nested model '\(l.name)' has \(inner.inputs.count) inputs and \(inner.outputs.count) outputs; one of each is supported")
            }
            let input = inner.inputs[0].layer
            for var il in inner.layers where il.name != input {
                il.inbound = il.inbound.map { $0.layer == input ? l.inbound[0] : $0 }
                flat.append(il)
            }
            outputOf[l.name] = inner.outputs[0].layer == input ? l.inbound[0] : inner.outputs[0]
            nested.append((l.name, inner.layers.filter { $0.name != input }.map(\.name)))
            nested += inner.nested
        }
        // tf.keras numbers a nested model's first call 1 (its node 0 is its own construction).
        let redirect = { (r: KerasTensorRef) in outputOf[r.layer] ?? r }
        layers = flat.map { var l = $0; l.inbound = l.inbound.map(redirect); return l }
        outputs = outputs.map(redirect)
    }

    private static func collectHistories(_ value: Any, into refs: inout [KerasTensorRef]) {
        if let dict = value as? [String: Any] {
            if let c = dict["config"] as? [String: Any], let h = c["keras_history"] as? [Any], let ref = tensorRef(h) {
                refs.append(ref)
            }
        } else if let list = value as? [Any] {
            for v in list { collectHistories(v, into: &refs) }
        }
    }

    private static func tensorRef(_ entry: [Any]) -> KerasTensorRef? {
        guard entry.count >= 3, let layer = entry[0] as? String, let node = entry[1] as? Int, let tensor = entry[2] as? Int else { return nil }
        return KerasTensorRef(layer: layer, node: node, tensor: tensor)
    }

    /// `[[name, node, tensor], …]`, or Keras 3's `[name, node, tensor]` for a single endpoint.
    private static func endpoints(_ value: Any?, file: String, what: String) throws(KerasError) -> [KerasTensorRef] {
        guard let list = value as? [Any] else { throw .invalidConfig(file: file, message: "the model configuration has no \(what)") }
        if let single = tensorRef(list) { return [single] }
        var refs: [KerasTensorRef] = []
        for case let entry as [Any] in list {
            guard let ref = tensorRef(entry) else { throw .invalidConfig(file: file, message: "unreadable \(what)") }
            refs.append(ref)
        }
        guard !refs.isEmpty else { throw .invalidConfig(file: file, message: "the model configuration has no \(what)") }
        return refs
    }
}

// MARK: - Reading values out of a layer's config

extension KerasLayer {
    /// Sizes a configuration may hold; larger numbers (from a damaged or hostile file) read as
    /// missing, before any arithmetic could overflow.
    static let sizeLimit = 1 << 24

    static func size(_ n: NSNumber) -> Int? {
        // Through Double, which every JSON number fits (an Int64.min or a NaN must not trap).
        let d = n.doubleValue
        guard d.isFinite, d.magnitude <= Double(sizeLimit) else { return nil }
        return Int(d.rounded(.towardZero))
    }

    func int(_ key: String) -> Int? { (config[key] as? NSNumber).flatMap(Self.size) }
    func bool(_ key: String, default value: Bool) -> Bool { (config[key] as? NSNumber)?.boolValue ?? value }
    func float(_ key: String) -> Float? { (config[key] as? NSNumber)?.floatValue }
    func string(_ key: String) -> String? { config[key] as? String }

    /// A pair like `kernel_size` or `strides`, written as `[a, b]` or a single number.
    func pair(_ key: String) -> (Int, Int)? {
        if let n = config[key] as? NSNumber, let v = Self.size(n) { return (v, v) }
        if let l = config[key] as? [NSNumber], l.count == 2, let a = Self.size(l[0]), let b = Self.size(l[1]) { return (a, b) }
        return nil
    }

    /// A list of numbers, or a single number as a one-element list.
    func floats(_ key: String) -> [Float]? {
        if let n = config[key] as? NSNumber { return [n.floatValue] }
        if let l = config[key] as? [Any] { return Self.flatten(l) }
        return nil
    }

    static func flatten(_ l: [Any]) -> [Float]? {
        var out: [Float] = []
        for v in l {
            if let n = v as? NSNumber { out.append(n.floatValue) } else if let inner = v as? [Any], let f = flatten(inner) { out += f } else { return nil }
        }
        return out
    }

    /// The activation named in the config (`"relu"`), or Keras 3's serialized form.
    var activation: String {
        if let s = config["activation"] as? String { return s }
        if let d = config["activation"] as? [String: Any] {
            return (d["config"] as? [String: Any])?["name"] as? String ?? d["class_name"] as? String ?? "unknown"
        }
        return "linear"
    }
}

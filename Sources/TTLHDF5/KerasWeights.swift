// Keras weights as stored in HDF5, by layer, in each layer's own order.
//
// Legacy layout (tf.keras `save`/`save_weights` to .h5, Keras 3 `save` to .h5):
//   [model_weights/]@layer_names            the layers, in model order
//   [model_weights/]<layer>@weight_names    e.g. "conv2d/kernel:0", relative dataset paths
//   [model_weights/]<layer>/<weight name>   the datasets
// Keras 3 layout (`.weights.h5`, and `model.weights.h5` inside a `.keras` zip):
//   layers/<class>[_N]/vars@name            the layer's name (groups are named by class and counter)
//   layers/<class>[_N]/vars/<i>             the layer's variables in `layer.weights` order
// Order always comes from these lists, never from HDF5's iteration, which sorts by name
// (`conv2d_10` before `conv2d_2`).
import TTLCore

/// One stored weight: where it is in the file, and its values in Keras's layout.
struct KerasWeight {
    var path: String
    var tensor: Tensor
}

/// The weights of a Keras file by layer name, and the layer order the file states.
struct KerasWeights {
    var layers: [String] = []
    var byLayer: [String: [KerasWeight]] = [:]
    /// Where each layer's weights live, for error messages.
    var groupPath: [String: String] = [:]
    /// Keras 3 before 3.6: `layers` are group names made of class and counter, not layer names
    /// (see `resolvingClassKeys`).
    var classKeyed = false

    /// Reads whichever layout `root` holds; nil when it holds neither.
    static func read(_ root: HDF5Group) throws -> KerasWeights? {
        if root.kind(of: "model_weights") == .group { return try readLegacy(root.group("model_weights")) }
        if root.hasAttribute("layer_names") { return try readLegacy(root) }
        if root.kind(of: "layers") == .group { return try readKeras3(root.group("layers")) }
        return nil
    }

    /// Hands the weights a legacy file keeps under a nested model's group (`stem/stem_conv/kernel:0`)
    /// to the nested model's own layers, by the layer name in each weight's path.
    func splittingNested(_ nested: [(model: String, layers: [String])]) -> KerasWeights {
        var w = self
        for (model, layers) in nested {
            guard let stored = w.byLayer[model], !stored.isEmpty else { continue }
            var kept: [KerasWeight] = []
            for weight in stored {
                let parts = Set(weight.path.split(separator: "/").map(String.init))
                if let layer = layers.last(where: { parts.contains($0) }) {
                    if w.byLayer[layer] == nil { w.layers.append(layer); w.groupPath[layer] = w.groupPath[model] }
                    w.byLayer[layer, default: []].append(weight)
                } else {
                    kept.append(weight)
                }
            }
            w.byLayer[model] = kept
        }
        return w
    }

    static func readLegacy(_ g: HDF5Group) throws -> KerasWeights {
        var w = KerasWeights()
        w.layers = try g.strings("layer_names")
        for layer in w.layers {
            let lg = try g.group(layer)
            w.groupPath[layer] = lg.path
            w.byLayer[layer] = try lg.strings("weight_names").map { name in
                KerasWeight(path: lg.childPath(name), tensor: try lg.readTensor(name))
            }
        }
        return w
    }

    static func readKeras3(_ g: HDF5Group) throws -> KerasWeights {
        var w = KerasWeights()
        for key in try g.children() {
            let lg = try g.group(key)
            if lg.kind(of: "layers") == .group {
                // A model used as a layer: its layers' weights, under their own names.
                let inner = try readKeras3(try lg.group("layers"))
                w.layers += inner.layers
                w.byLayer.merge(inner.byLayer) { a, _ in a }
                w.groupPath.merge(inner.groupPath) { a, _ in a }
                w.classKeyed = w.classKeyed || inner.classKeyed
            }
            guard lg.kind(of: "vars") == .group else { continue }
            let vars = try lg.group("vars")
            let name: String
            if vars.hasAttribute("name") { name = try vars.string("name") } else { name = key; w.classKeyed = true }
            let indices = try vars.children().compactMap { Int($0) }.sorted()
            w.layers.append(name)
            w.groupPath[name] = vars.path
            w.byLayer[name] = try indices.map { i in KerasWeight(path: vars.childPath(String(i)), tensor: try vars.readTensor(String(i))) }
        }
        return w
    }
}

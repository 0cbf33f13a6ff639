// Keras model files into ttl models.
//   - legacy full model `.h5` (tf.keras 2, Keras 3): `model_config` attribute + `model_weights`;
//   - weights-only `.h5` (legacy `save_weights`) and Keras 3 `.weights.h5`, onto a built-in
//     Keras application named by the caller;
//   - `.keras` zip archives (`config.json` + `model.weights.h5`).
// Layouts: https://github.com/keras-team/keras/blob/master/keras/src/legacy/saving/legacy_h5_format.py
// and keras/src/saving/saving_lib.py.
import Foundation
import TTLCore
import TTLNN

/// Reads Keras files. The models it returns take NHWC images and give what Keras gives.
public enum KerasImporter {
    /// The built-in architectures a weights-only file can be loaded onto (`ttl import --arch`).
    public static var architectures: [String] { KerasResNet.named.keys.sorted() }

    /// Reads a Keras model file. A weights-only file needs `architecture` (one of
    /// ``architectures``); with a full model file, `architecture` replaces the file's
    /// configuration by the built-in one.
    public static func load(contentsOf url: URL, architecture: String? = nil) throws -> Model {
        var config: KerasResNet.Configuration?
        if let architecture {
            guard let c = KerasResNet.named[architecture.lowercased()] else {
                throw KerasError.needsArchitecture(file: url.path, known: architectures)
            }
            config = c
        }
        var model = try load(contentsOf: url, configuration: config)
        if let architecture, let s = model.imageInputSize, let p = applicationPreprocessing(architecture, size: s.height) {
            model.info.preprocessing = p
            model.metadata["keras_model"] = architecture.lowercased()
        }
        return model
    }

    /// Reads a Keras file onto a given Keras ResNet configuration (nil: the file's own model).
    public static func load(contentsOf url: URL, configuration: KerasResNet.Configuration?) throws -> Model {
        let file = url.path
        if url.pathExtension.lowercased() == "keras" {
            let zip = try ZipArchive(contentsOf: url, name: file)
            let weightsData = try zip.member("model.weights.h5")
            let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-keras-\(UUID().uuidString).h5")
            do { try weightsData.write(to: temporary) } catch { throw KerasError.zip(file: file, message: "cannot unpack model.weights.h5: \(error.localizedDescription)") }
            defer { try? FileManager.default.removeItem(at: temporary) }
            let weights = try HDF5.serialized {
                let h5 = try HDF5File.open(temporary, name: file + "/model.weights.h5")
                guard let w = try KerasWeights.read(h5.root) else { throw KerasError.notKeras(file: file, message: "model.weights.h5 holds no Keras weights") }
                return w
            }
            if let configuration { return try onArchitecture(configuration, weights: weights, file: file) }
            let json = String(decoding: try zip.member("config.json"), as: UTF8.self)
            var model = try KerasGraphBuilder.build(try KerasModelConfig(json: json, file: file + "/config.json"), weights: weights, file: file)
            if let meta = try? zip.member("metadata.json"),
               let m = (try? JSONSerialization.jsonObject(with: meta)) as? [String: Any], let v = m["keras_version"] as? String {
                model.metadata["source.producer"] = "Keras \(v)"
            }
            return model
        }
        return try HDF5.serialized {
            let h5 = try HDF5File.open(url)
            let root = h5.root
            guard let weights = try KerasWeights.read(root) else {
                throw KerasError.notKeras(file: file, message: "no model_config, model_weights, layer_names or layers/ in the file")
            }
            var model: Model
            if let configuration {
                model = try onArchitecture(configuration, weights: weights, file: file)
            } else if root.hasAttribute("model_config") {
                model = try KerasGraphBuilder.build(try KerasModelConfig(json: try root.string("model_config"), file: file), weights: weights, file: file)
            } else {
                throw KerasError.needsArchitecture(file: file, known: architectures)
            }
            if root.hasAttribute("keras_version"), let v = try? root.string("keras_version"), v != "ttl" { model.metadata["source.producer"] = "Keras \(v)" }
            if root.hasAttribute(KerasExporter.metadataAttribute),
               let facts = try? JSONSerialization.jsonObject(with: Data(try root.string(KerasExporter.metadataAttribute).utf8)) as? [String: String] {
                model.metadata.merge(facts) { _, written in written }
            }
            return model
        }
    }

    /// Loads the weights of a Keras file (any layout) into `model`, matching Keras layer names
    /// to node names, as Keras's `model.load_weights` does. Every stored weight must find its
    /// place with its shape, and every weight of the model must be stored.
    public static func loadWeights(contentsOf url: URL, into model: Model) throws -> Model {
        let weights = try HDF5.serialized {
            let h5 = try HDF5File.open(url)
            guard let w = try KerasWeights.read(h5.root) else {
                throw KerasError.notKeras(file: url.path, message: "no model_weights, layer_names or layers/ in the file")
            }
            return w
        }
        return try onModel(model, weights: weights, file: url.path)
    }

    /// The preprocessing Keras's applications use (`keras.applications.resnet.preprocess_input`
    /// is "caffe": BGR, ImageNet's mean subtracted on the 0–255 scale, no scaling;
    /// `resnet_v2`'s and `mobilenet(_v2)`'s are "tf": x/127.5 − 1; EfficientNet takes 0–255
    /// pixels), as ttl's `preprocessing` metadata JSON, for a model named like a Keras
    /// application; nil for any other model.
    static func applicationPreprocessing(_ name: String, size: Int, preprocessesInside: Bool = false) -> Preprocessing? {
        let n = name.lowercased()
        let pixel = Float(1 / 255.0)
        if preprocessesInside && ["mobilenetv3", "convnext", "efficientnetv2"].contains(where: { n.hasPrefix($0) }) {
            // Built with include_preprocessing (Rescaling or Normalization first): 0–255 pixels.
            return Preprocessing(size: size, resize: .squash, mean: [0, 0, 0], std: [pixel, pixel, pixel])
        }
        if ["resnet50", "resnet101", "resnet152"].contains(n) {
            return Preprocessing(size: size, resize: .squash, mean: [103.939, 116.779, 123.68].map { Float($0 / 255) },
                                 std: [pixel, pixel, pixel], channels: .bgr)
        }
        if ["resnet50v2", "resnet101v2", "resnet152v2"].contains(n) || n.hasPrefix("mobilenetv2_") || n.hasPrefix("mobilenet_") {
            return Preprocessing(size: size, resize: .squash, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])
        }
        if n.hasPrefix("efficientnetb") {
            // EfficientNet rescales and normalises inside the model: it takes pixels, 0–255.
            return Preprocessing(size: size, resize: .squash, mean: [0, 0, 0], std: [pixel, pixel, pixel])
        }
        return nil
    }

    /// A weights-only file onto a built-in Keras ResNet, matched by layer name (or by position).
    static func onArchitecture(_ c: KerasResNet.Configuration, weights: KerasWeights, file: String) throws -> Model {
        try onModel(KerasResNet.build(c), weights: weights, file: file)
    }

    static func onModel(_ model: Model, weights: KerasWeights, file: String) throws -> Model {
        var model = model.addingNHWCAdapter()
        var weights = weights
        if weights.classKeyed {
            // The model as Keras would list its layers, to tell which class-numbered group is which.
            var writer = try KerasLayerWriter(model)
            weights = weights.resolvingClassKeys(try writer.layers().map { ($0.name, $0.className) })
        }
        let stored = weights.layers.filter { !(weights.byLayer[$0] ?? []).isEmpty }
        if !stored.allSatisfy({ model.node(named: $0) != nil }) {
            // Layer names from another era of the same network (Keras 2.2's `res2a_branch2a` for
            // `conv2_block1_1_conv`): Keras's own loader goes by position, and so does this one when
            // the file holds exactly as many weighted layers as the model.
            var writer = try KerasLayerWriter(model)
            let slots = try writer.layers().filter { !$0.weights.isEmpty }.map(\.name)
            if slots.count == stored.count { weights = weights.renamed(Dictionary(uniqueKeysWithValues: zip(stored, slots))) }
        }
        var tree = ParameterTree()
        var unknown: [String] = []
        for layer in weights.layers {
            let stored = weights.byLayer[layer] ?? []
            if stored.isEmpty { continue }
            guard let node = model.node(named: layer) else { unknown.append(layer); continue }
            let slots: [(path: String, convert: (Tensor) -> Tensor)]
            switch node.operation {
            case is Conv2DOp: slots = [(layer + ".weight", KerasToTTL.convKernel), (layer + ".bias", { $0 })]
            case is GemmOp: slots = [(layer + ".weight", KerasToTTL.denseKernel), (layer + ".bias", { $0 })]
            case is BatchNormOp:
                slots = [(layer + ".weight", { $0 }), (layer + ".bias", { $0 }), (layer + ".running_mean", KerasToTTL.channelVector),
                         (layer + ".running_var", KerasToTTL.channelVector)]
            default: unknown.append(layer); continue
            }
            let wanted = slots.filter { model.parameters[$0.path] != nil }
            guard stored.count == wanted.count else {
                throw KerasError.weightCount(file: file, path: weights.groupPath[layer] ?? layer, expected: wanted.map(\.path), found: stored.count)
            }
            for (w, slot) in zip(stored, wanted) {
                let expected = model.parameters[slot.path]!.tensor.shape
                let isKernel = slot.path.hasSuffix(".weight") && !(node.operation is BatchNormOp)
                let fits = isKernel ? w.tensor.shape.dimensions == kerasShape(expected, node.operation) : w.tensor.count == expected.count
                guard fits else {
                    throw KerasError.weightShape(file: file, path: w.path, expected: kerasShape(expected, node.operation), found: w.tensor.shape.dimensions)
                }
                tree[slot.path] = .init(slot.convert(w.tensor).reshaped(expected))
            }
        }
        if !unknown.isEmpty { throw KerasError.unusedWeights(file: file, layers: unknown) }
        do { try model.load(tree) } catch {
            throw KerasError.invalidConfig(file: file, message: "the weights do not fit \(model.metadata["architecture"] ?? "the architecture"): \(error.report)")
        }
        model.metadata["source_format"] = "keras"
        return model
    }

    /// A ttl weight shape in Keras's layout, for messages.
    static func kerasShape(_ s: Shape, _ op: any GraphOperation) -> [Int] {
        switch (op, s.rank) {
        case (is Conv2DOp, 4): [s[2], s[3], s[1], s[0]]
        case (is GemmOp, 2): [s[1], s[0]]
        default: s.dimensions
        }
    }
}

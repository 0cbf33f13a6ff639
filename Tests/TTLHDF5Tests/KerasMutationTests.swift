import Foundation
import TTLCore
@testable import TTLHDF5
import TTLNN
import XCTest
import _TestSupport

/// Crafted Keras configurations (issue 13): in small models, every integer of every layer's
/// configuration (kernel sizes, strides, filters, units, axes, paddings, croppings, target shapes,
/// input shapes, the inbound nodes' indices) replaced in turn by extreme values, every integer
/// list made one too short and one too long, and every number that is not an integer replaced by
/// NaN, ±∞, 0 and −1. Each mutant must end in a typed error with a one-line message, or import
/// and run (on both engines) to an output or a typed error; a trap, an overflow or a hang fails
/// the whole suite. The mutants are built in memory from the file's configuration and weights.
final class KerasMutationTests: XCTestCase {
    static let extremes: [Int64] = [0, -1, 1 << 31 - 1, 1 << 62, .min, .max]
    static let floatExtremes: [Double] = [.nan, .infinity, -.infinity, 0, -1]
    /// Small models that hold between them every layer class ttl imports from Keras files.
    /// Smallest first: a class is mutated in the first model that has it (NASNet only adds Cropping2D).
    static let models = [
        "layers_tfkeras.h5", "families/extra_layers_keras3.h5", "families/xception_replica_keras3.h5", "families/convnext_small_dims_tfkeras.h5",
        "families/mobilenetv3_small_tfkeras.h5", "families/inception_resnet_v2_replica_keras3.h5", "families/nasnet_small_tfkeras.h5",
    ]

    /// Every way to mutate one JSON value: `(what, replacement)`.
    static func variants(_ value: Any) -> [(String, Any)] {
        if let n = value as? NSNumber {
            if n.doubleValue.rounded() == n.doubleValue && !"\(n)".contains(".") {
                return extremes.map { ("= \($0)", NSNumber(value: $0)) }
            }
            return floatExtremes.map { ("= \($0)", NSNumber(value: $0)) }
        }
        if let list = value as? [Any], !list.isEmpty, list.allSatisfy({ $0 is NSNumber || $0 is [Any] || $0 is NSNull }) {
            var out: [(String, Any)] = []
            for i in list.indices {
                for (what, v) in variants(list[i]) { var l = list; l[i] = v; out.append(("[\(i)] \(what)", l)) }
            }
            out.append(("one short", Array(list.dropLast())))
            out.append(("one long", list + [list.last!]))
            return out
        }
        return []
    }

    /// One description and mutated configuration per (layer, key, value), for the first layer of
    /// each class not in `seen` (every layer of a class reads its configuration the same way;
    /// mutating them all takes minutes, not seconds).
    static func mutants(of top: [String: Any], seen: inout Set<String>) -> [(String, [String: Any])] {
        guard let config = top["config"] as? [String: Any], let layers = config["layers"] as? [[String: Any]] else { return [] }
        var out: [(String, [String: Any])] = []
        func with(_ k: Int, _ layer: [String: Any]) -> [String: Any] {
            var l = layers, c = config, t = top
            l[k] = layer
            c["layers"] = l
            t["config"] = c
            return t
        }
        for (k, layer) in layers.enumerated() {
            let name = layer["name"] as? String ?? "?"
            let className = layer["class_name"] as? String ?? "?"
            let lc0 = layer["config"] as? [String: Any] ?? [:]
            // A TFOpLambda's form depends on its function, a layer's on the shape of its inbound node.
            let kind = "\(className) \((lc0["function"] as? String) ?? "") \(((layer["inbound_nodes"] as? [Any])?.first as? [Any])?.count ?? 0)"
            // NASNet (200 layers, slow to rebuild a thousand times) is here for its Cropping2D only.
            guard seen.insert(kind).inserted, !seen.contains("only Cropping2D") || className == "Cropping2D" else { continue }
            let lc = layer["config"] as? [String: Any] ?? [:]
            for key in lc.keys.sorted() {
                for (what, v) in variants(lc[key]!) {
                    var mutated = layer, c = lc
                    c[key] = v
                    mutated["config"] = c
                    out.append(("layer '\(name)' \(key) \(what)", with(k, mutated)))
                }
            }
            // The inbound nodes' layer, node and tensor indices.
            if let nodes = layer["inbound_nodes"] as? [Any], let first = nodes.first as? [Any] {
                for (what, v) in variants(first) {
                    var mutated = layer
                    mutated["inbound_nodes"] = [v]
                    out.append(("layer '\(name)' inbound node \(what)", with(k, mutated)))
                }
            }
        }
        return out
    }

    func testEveryMutantIsAnErrorOrARun() throws {
        let verbose = ProcessInfo.processInfo.environment["TTL_MUTATION_VERBOSE"] != nil
        var (errors, runs, total) = (0, 0, 0)
        var seen = Set<String>()
        for name in Self.models {
            let url = KerasImportTests.fixtures.appendingPathComponent(name)
            let (json, weights) = try HDF5.serialized {
                let h5 = try HDF5File.open(url)
                return (try h5.root.string("model_config"), try XCTUnwrap(try KerasWeights.read(h5.root)))
            }
            let top = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            // The unmutated model must import and run, or the mutants prove nothing.
            let original = try KerasGraphBuilder.build(try KerasModelConfig(top, file: name), weights: weights, file: name)
            let shape = try XCTUnwrap(original.inputs.first).shape(batch: 1)
            let x = Tensor(shape: shape, scalars: (0 ..< shape.count).map { Float($0 % 17) / 17 })
            _ = try original.run([original.inputs[0].name: x])
            if name.contains("nasnet") { seen.insert("only Cropping2D") }
            for (place, mutant) in Self.mutants(of: top, seen: &seen) {
                total += 1
                if verbose { FileHandle.standardError.write(Data("\(name): \(place)\n".utf8)) }
                let model: Model
                do {
                    model = try KerasGraphBuilder.build(try KerasModelConfig(mutant, file: name), weights: weights, file: name)
                } catch {
                    let text = "\(error)"
                    XCTAssertFalse(text.isEmpty || text.contains("\n"), "\(name): \(place): \(text)")
                    errors += 1
                    continue
                }
                guard let input = model.inputs.first, case let s = input.shape(batch: 1), s.count <= 1 << 20 else {
                    errors += 1
                    continue
                }
                let feed = s == shape ? x : Tensor(repeating: 0.5, shape: s)
                try forEachEngine { _ in
                    do {
                        _ = try model.run([input.name: feed])
                        runs += 1
                    } catch {
                        XCTAssertFalse("\(error)".contains("\n"), "\(name): \(place): \(error)")
                        errors += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(total, 500)
        print("Keras mutants: \(total), errors \(errors), runs \(runs)")
    }
}

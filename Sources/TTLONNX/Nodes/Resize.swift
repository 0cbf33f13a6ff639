// Resize (https://onnx.ai/onnx/operators/onnx__Resize.html, opsets 10–19) and Upsample (7–9) of
// the H and W axes of an NCHW activation, in nearest and linear modes, from scales or sizes
// (constants), every `coordinate_transformation_mode` but tf_crop_and_resize, every
// `nearest_mode`, `axes` and `keep_aspect_ratio_policy` (opset 18). Cubic interpolation and
// antialiasing are refused by name.
import Foundation
import TTLCore
import TTLNN

enum ResizeNode: ONNXOperator {
    static let onnxTypes = ["Resize", "Upsample"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let a = n.attributes
        let x = try c.required(n, 0)
        guard let (s, t) = c.shapes(x) else { throw InvalidNode("unknown input shape") }
        guard s.rank == 4 else { throw Unsupported(detail: "resize of a rank-\(s.rank) tensor; ttl resizes H and W of NCHW") }
        if c.constants[x] != nil { throw Unsupported(detail: "resize of a constant") }
        guard let mode = Resize.Mode(rawValue: a.string("mode") ?? "nearest") else {
            throw Unsupported(detail: "mode '\(a.string("mode") ?? "")'")
        }
        // Upsample and Resize-10 map coordinates asymmetrically and take the floor for nearest.
        let legacy = n.type == "Upsample" || n.opset < 11
        let coordinateName = legacy ? "asymmetric" : (a.string("coordinate_transformation_mode") ?? "half_pixel")
        guard let coordinates = Resize.CoordinateMode(rawValue: coordinateName) else { throw Unsupported(detail: "coordinate_transformation_mode '\(coordinateName)'") }
        let nearestName = legacy ? "floor" : (a.string("nearest_mode") ?? "round_prefer_floor")
        guard let nearest = Resize.NearestMode(rawValue: nearestName) else { throw Unsupported(detail: "nearest_mode '\(nearestName)'") }
        guard a.int("antialias", 0) == 0 else { throw Unsupported(detail: "antialias") }
        // The scales or sizes of all four axes (or of `axes`), as file values.
        var scales: [Double]? = nil, sizes: [Int]? = nil
        if n.type == "Upsample" && n.opset < 9 {
            scales = a.map["scales"].map { $0.floats.map(Double.init) }
        } else {
            let scalesInput = n.type == "Upsample" || n.opset == 10 ? 1 : 2
            if let v = n.input(scalesInput) {
                guard let k = c.constants[v] else { throw Unsupported(detail: "computed scales") }
                if k.shape.count > 0 { scales = k.floatTensor.scalars.map(Double.init) }
            }
            if !legacy, let v = n.input(3) {
                guard let k = c.constants[v], let ints = k.integers else { throw Unsupported(detail: "computed sizes") }
                if !ints.isEmpty { sizes = ints }
            }
        }
        let axes = try (a.ints("axes") ?? [0, 1, 2, 3]).map { ax in
            guard ax >= -4 && ax < 4 else { throw InvalidNode("axis \(ax) for a 4-D input") }
            return ax < 0 ? ax + 4 : ax
        }
        guard Set(axes).count == axes.count else { throw InvalidNode("repeated axes \(axes)") }
        var scale = [Double](repeating: 1, count: 4), out = s.dimensions
        if let sizes {
            guard sizes.count == axes.count else { throw InvalidNode("\(sizes.count) sizes for axes \(axes)") }
            for (k, ax) in axes.enumerated() {
                let size = sizes[k] == GraphConverter.batchDimension && ax == 0 ? s[0] : sizes[k]
                guard size >= 1 && size <= Shape.maximumActivationElementCount else { throw InvalidNode("size \(sizes[k])") }
                if ax == 0 && s[0] != t[0] { guard sizes[k] == GraphConverter.batchDimension || sizes[k] == s[0] else { throw Unsupported(detail: "resize of the batch axis") } }
                scale[ax] = Double(size) / Double(s[ax])
                out[ax] = size
            }
            switch a.string("keep_aspect_ratio_policy") ?? "stretch" {
            case "stretch": break
            case let policy where policy == "not_larger" || policy == "not_smaller":
                let chosen = axes.map { scale[$0] }
                let common = policy == "not_larger" ? chosen.min() ?? 1 : chosen.max() ?? 1
                for ax in axes {
                    scale[ax] = common
                    out[ax] = Int(common * Double(s[ax]) + 0.5)
                }
            case let other: throw InvalidNode("keep_aspect_ratio_policy '\(other)'")
            }
        } else if let scales {
            guard scales.count == axes.count else { throw InvalidNode("\(scales.count) scales for axes \(axes)") }
            for (k, ax) in axes.enumerated() {
                let f = scales[k]
                guard f > 0, f.isFinite, Double(s[ax]) * f < Double(Shape.maximumActivationElementCount) else { throw InvalidNode("scale \(f)") }
                scale[ax] = f
                out[ax] = Int((Double(s[ax]) * f).rounded(.down))
            }
        } else {
            throw InvalidNode("neither scales nor sizes")
        }
        guard out[0] == s[0], out[1] == s[1] else { throw Unsupported(detail: "resize of the batch or channel axis (scales \(scale))") }
        guard out[2] >= 1, out[3] >= 1 else { throw InvalidNode("output \(out)") }
        try c.add(n.name, ResizeOp(mode: mode, coordinates: coordinates, nearest: nearest, outputHeight: out[2], outputWidth: out[3],
                                   scaleHeight: scale[2], scaleWidth: scale[3], scalesGiven: sizes == nil), [x], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [ResizeOp.self]

    /// Written as Resize-13 with the file's scales. A resize to sizes is refused: opset 17's
    /// sizes name every axis, the dynamic batch included, and float32 scales of output / input
    /// may not give back the same output size.
    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let r = n.operation as? ResizeOp else { throw ExportProblem("not a ResizeOp") }
        guard r.scalesGiven else { throw ExportProblem("a Resize to sizes is not written yet") }
        p.opType = "Resize"
        p.attribute = [ONNXExporter.attribute("mode", string: r.mode.rawValue),
                       ONNXExporter.attribute("coordinate_transformation_mode", string: r.coordinates.rawValue),
                       ONNXExporter.attribute("nearest_mode", string: r.nearest.rawValue)]
        let scalesName = n.name + "/scales"
        extra.append(.float(name: scalesName, tensor: Tensor(shape: [4], scalars: [1, 1, Float(r.scaleHeight), Float(r.scaleWidth)])))
        guard Double(Float(r.scaleHeight)) == r.scaleHeight, Double(Float(r.scaleWidth)) == r.scaleWidth else {
            throw ExportProblem("scales \(r.scaleHeight), \(r.scaleWidth) are not float32 numbers")
        }
        p.input = [n.inputs[0], "", scalesName]
    }
}

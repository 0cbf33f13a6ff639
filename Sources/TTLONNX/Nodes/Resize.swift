// Resize (https://onnx.ai/onnx/operators/onnx__Resize.html, opsets 10–19) and Upsample (7–9) of
// the H and W axes of an NCHW activation, in nearest, linear and cubic modes (`cubic_coeff_a`,
// `exclude_outside`, `antialias`), from scales or sizes (constants), every
// `coordinate_transformation_mode` (tf_crop_and_resize with a constant `roi` and
// `extrapolation_value`), every `nearest_mode`, `axes` and `keep_aspect_ratio_policy` (opset 18).
// The coordinates follow the specification's reference implementation; where onnxruntime
// differs from it (align_corners, half_pixel_symmetric and tf_crop_and_resize when scales give
// a fractional output length), ttl follows the reference, as the backend node tests do.
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
        let antialias = a.int("antialias", 0) != 0
        if antialias && mode == .nearest { throw InvalidNode("antialias in nearest mode") }
        let cubicCoefficient = Double(a.float("cubic_coeff_a", -0.75))
        guard cubicCoefficient.isFinite else { throw InvalidNode("cubic_coeff_a \(cubicCoefficient)") }
        let filter = Resize.Filter(cubicCoefficient: cubicCoefficient, excludeOutside: a.int("exclude_outside", 0) != 0, antialias: antialias)
        let extrapolation = a.float("extrapolation_value", 0)
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
        // tf_crop_and_resize's region: starts then ends of the axes, as fractions.
        var roi = [0.0, 0, 1, 1]
        if coordinates == .tfCropAndResize {
            guard let v = n.input(1) else { throw InvalidNode("tf_crop_and_resize without roi") }
            guard let k = c.constants[v] else { throw Unsupported(detail: "computed roi") }
            let r = k.floatTensor.scalars.map(Double.init)
            guard r.count == 2 * axes.count, r.allSatisfy(\.isFinite) else { throw InvalidNode("roi \(r) for axes \(axes)") }
            var full = [0.0, 0, 0, 0, 1, 1, 1, 1]
            for (k, ax) in axes.enumerated() { full[ax] = r[k]; full[4 + ax] = r[axes.count + k] }
            guard full[0] == 0, full[1] == 0, full[4] == 1, full[5] == 1 else { throw Unsupported(detail: "crop of the batch or channel axis (roi \(r))") }
            roi = [full[2], full[3], full[6], full[7]]
        }
        var scale = [Double](repeating: 1, count: 4), out = s.dimensions
        var policy = Resize.AspectRatioPolicy.stretch, requestedAxes: [Int] = [], requestedSizes: [Int] = []
        if let sizes {
            guard sizes.count == axes.count else { throw InvalidNode("\(sizes.count) sizes for axes \(axes)") }
            for (k, ax) in axes.enumerated() {
                let size = sizes[k] == GraphConverter.batchDimension && ax == 0 ? s[0] : sizes[k]
                guard size >= 1 && size <= Shape.maximumActivationElementCount else { throw InvalidNode("size \(sizes[k])") }
                if ax == 0 && s[0] != t[0] { guard sizes[k] == GraphConverter.batchDimension || sizes[k] == s[0] else { throw Unsupported(detail: "resize of the batch axis") } }
                scale[ax] = Double(size) / Double(s[ax])
                out[ax] = size
            }
            let policyName = a.string("keep_aspect_ratio_policy") ?? "stretch"
            guard let p = Resize.AspectRatioPolicy(rawValue: policyName) else { throw InvalidNode("keep_aspect_ratio_policy '\(policyName)'") }
            policy = p
            switch p {
            case .stretch: break
            case .notLarger, .notSmaller:
                requestedAxes = axes
                requestedSizes = axes.map { out[$0] }
                let chosen = axes.map { scale[$0] }
                let common = p == .notLarger ? chosen.min() ?? 1 : chosen.max() ?? 1
                for ax in axes {
                    scale[ax] = common
                    out[ax] = Int(common * Double(s[ax]) + 0.5)
                }
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
                                   scaleHeight: scale[2], scaleWidth: scale[3], scalesGiven: sizes == nil, filter: filter,
                                   extrapolationValue: extrapolation, regionOfInterest: roi, aspectRatioPolicy: policy,
                                   requestedAxes: requestedAxes, requestedSizes: requestedSizes), [x], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [ResizeOp.self]

    /// Opset 18 for what Resize-13 cannot say (antialias, sizes of H and W alone through
    /// `axes`, `keep_aspect_ratio_policy`), 19 for half_pixel_symmetric coordinates.
    static func exportOpset(_ n: Node) -> Int {
        guard let r = n.operation as? ResizeOp else { return ONNXExporter.opset }
        if r.coordinates == .halfPixelSymmetric { return 19 }
        return r.filter.antialias || !r.scalesGiven ? 18 : ONNXExporter.opset
    }

    /// Written as Resize with every attribute of the operation; scales as the float32 numbers
    /// the file gave, sizes of H and W through `axes` (so that the batch stays dynamic), the
    /// keep-aspect-ratio policy with the sizes the file asked for, the crop region as `roi`.
    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let r = n.operation as? ResizeOp else { throw ExportProblem("not a ResizeOp") }
        p.opType = "Resize"
        p.attribute = [ONNXExporter.attribute("mode", string: r.mode.rawValue),
                       ONNXExporter.attribute("coordinate_transformation_mode", string: r.coordinates.rawValue),
                       ONNXExporter.attribute("nearest_mode", string: r.nearest.rawValue),
                       ONNXExporter.attribute("cubic_coeff_a", float: Float(r.filter.cubicCoefficient)),
                       ONNXExporter.attribute("exclude_outside", int: r.filter.excludeOutside ? 1 : 0),
                       ONNXExporter.attribute("extrapolation_value", float: r.extrapolationValue)]
        guard Double(Float(r.filter.cubicCoefficient)) == r.filter.cubicCoefficient else {
            throw ExportProblem("cubic coefficient \(r.filter.cubicCoefficient) is not a float32 number")
        }
        if r.filter.antialias { p.attribute.append(ONNXExporter.attribute("antialias", int: 1)) }
        // tf_crop_and_resize's region of the written axes: starts, then ends.
        func roi(axes: [Int]) throws(ExportProblem) -> String {
            guard r.coordinates == .tfCropAndResize else { return "" }
            let roi = r.regionOfInterest
            guard roi.allSatisfy({ Double(Float($0)) == $0 }) else { throw ExportProblem("roi \(roi) is not float32 numbers") }
            let (starts, ends) = ([0, 0, Float(roi[0]), Float(roi[1])], [1, 1, Float(roi[2]), Float(roi[3])])
            let name = n.name + "/roi"
            extra.append(.float(name: name, tensor: Tensor(shape: [2 * axes.count], scalars: axes.map { starts[$0] } + axes.map { ends[$0] })))
            return name
        }
        if r.scalesGiven {
            guard Double(Float(r.scaleHeight)) == r.scaleHeight, Double(Float(r.scaleWidth)) == r.scaleWidth else {
                throw ExportProblem("scales \(r.scaleHeight), \(r.scaleWidth) are not float32 numbers")
            }
            let scalesName = n.name + "/scales"
            extra.append(.float(name: scalesName, tensor: Tensor(shape: [4], scalars: [1, 1, Float(r.scaleHeight), Float(r.scaleWidth)])))
            p.input = [n.inputs[0], try roi(axes: [0, 1, 2, 3]), scalesName]
            return
        }
        var axes = [2, 3], sizes = [r.outputHeight, r.outputWidth]
        if r.aspectRatioPolicy != .stretch {
            // The policy's common scale comes from the sizes the file asked for on its axes.
            guard r.requestedAxes.allSatisfy({ $0 >= 2 }) else {
                throw ExportProblem("keep_aspect_ratio_policy over the batch or channel axis")
            }
            (axes, sizes) = (r.requestedAxes, r.requestedSizes)
            p.attribute.append(ONNXExporter.attribute("keep_aspect_ratio_policy", string: r.aspectRatioPolicy.rawValue))
        }
        p.attribute.append(ONNXExporter.attribute("axes", ints: axes))
        let sizesName = n.name + "/sizes"
        extra.append(.message(ONNXExporter.int64Tensor(sizes, name: sizesName)))
        p.input = [n.inputs[0], try roi(axes: axes), "", sizesName]
    }
}

// One ONNX node → ttl nodes or folded constants. Attribute defaults follow the operator
// specification of each opset (https://onnx.ai/onnx/operators/).
import Foundation
import TTLCore
import TTLNN

/// A node's attributes by name.
struct Attributes {
    let map: [String: Onnx_AttributeProto]
    init(_ n: Onnx_NodeProto) {
        var m: [String: Onnx_AttributeProto] = [:]
        for a in n.attribute { m[a.name] = a }
        map = m
    }
    func int(_ k: String) -> Int? { map[k].map { Int($0.i) } }
    func int(_ k: String, _ d: Int) -> Int { int(k) ?? d }
    func ints(_ k: String) -> [Int]? { map[k].map { $0.ints.map { Int($0) } } }
    func float(_ k: String) -> Float? { map[k]?.f }
    func float(_ k: String, _ d: Float) -> Float { float(k) ?? d }
    func string(_ k: String) -> String? { map[k].map { String(decoding: $0.s, as: UTF8.self) } }
    func tensor(_ k: String) -> Onnx_TensorProto? { map[k].flatMap { $0.hasT ? $0.t : nil } }
}

extension GraphConverter {
    // MARK: Helpers

    /// Static shapes (batch 1, batch 2) of an activation or a constant.
    func shapes(_ v: String) -> (Shape, Shape)? {
        if let s = shapes1[v], let t = shapes2[v] { return (s, t) }
        if let c = constants[v] { return (c.shape, c.shape) }
        return nil
    }

    /// The constant named `v`, which a node needs as a weight, registered in the parameter tree.
    mutating func weight(_ v: String, _ kind: ParameterTree.Kind, as role: String) throws -> String {
        if let p = parameterPaths[v] { return p }
        guard let c = constants[v] else { throw Unsupported(detail: "\(role) '\(v)' is computed, not a stored weight") }
        var path = v
        if !ParameterTree.isValidPath(path) || tree[path] != nil { path = v.replacingOccurrences(of: ".", with: "_") }
        if path.isEmpty || tree[path] != nil || shapes1[path] != nil { path = "weight_\(tree.count)" }
        tree[path] = .init(c.floatTensor, kind: kind)
        parameterPaths[v] = path
        return path
    }

    /// A value as a node input: an activation as is, a constant as a buffer.
    mutating func operand(_ v: String, _ kind: ParameterTree.Kind = .buffer) throws -> String {
        shapes1[v] != nil ? v : try weight(v, kind, as: "operand")
    }

    /// Adds a node, checking its shapes at batch 1 and 2.
    mutating func add(_ name: String, _ op: any GraphOperation, _ inputs: [String], _ outputs: [String]) throws {
        func inShapes(_ first: Bool) throws -> [Shape] {
            try inputs.map { v in
                if let s = first ? shapes1[v] : shapes2[v] { return s }
                if let t = tree.tensor(v) { return t.shape }
                throw InvalidNode("input '\(v)' is produced by no earlier node, input or initializer")
            }
        }
        let o1: [Shape], o2: [Shape]
        do {
            o1 = try op.outputShapes(try inShapes(true))
            o2 = try op.outputShapes(try inShapes(false))
        } catch let e as OperationError {
            throw InvalidNode(e.message)
        }
        for (k, out) in outputs.enumerated() {
            shapes1[out] = o1[k]
            shapes2[out] = o2[k]
        }
        nodes.append(Node(name, op, inputs: inputs, outputs: outputs))
    }

    /// A reshape target for a static output shape: dims that follow the batch become 0 (copy)
    /// at the same axis of the input, else −1.
    func reshapeTarget(_ input: String, _ s1: Shape, _ s2: Shape) throws -> [Int] {
        var target: [Int] = []
        var inferred = false
        let (i1, i2) = shapes(input)!
        for axis in 0 ..< s1.rank {
            if s1[axis] == s2[axis] {
                target.append(s1[axis])
            } else if axis < i1.rank && i1[axis] == s1[axis] && i2[axis] == s2[axis] {
                target.append(0)
            } else if !inferred {
                target.append(-1)
                inferred = true
            } else {
                throw Unsupported(detail: "reshape with two batch-dependent dimensions")
            }
        }
        return target
    }

    func integers(_ v: String, _ role: String) throws -> [Int] {
        guard let c = constants[v], let ints = c.integers else { throw Unsupported(detail: "\(role) '\(v)' is not a constant") }
        return ints
    }

    /// A 2-D window from ONNX attributes: kernel, strides, dilations, pads or auto_pad.
    func window(_ a: Attributes, input: String, kernel: [Int], ceil: Bool) throws -> Window2D {
        guard kernel.count == 2 else { throw Unsupported(detail: "\(kernel.count)-D; ttl supports 2-D") }
        let strides = a.ints("strides") ?? [1, 1], dilations = a.ints("dilations") ?? [1, 1]
        guard strides.count == 2, dilations.count == 2, strides.allSatisfy({ $0 >= 1 }), dilations.allSatisfy({ $0 >= 1 }) else {
            throw InvalidNode("strides \(strides) and dilations \(dilations) must be two positive numbers")
        }
        var padding = Padding2D.zero
        switch a.string("auto_pad") ?? "NOTSET" {
        case "NOTSET", "":
            let pads = a.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else { throw InvalidNode("pads \(pads) must be four non-negative numbers") }
            padding = Padding2D(top: pads[0], left: pads[1], bottom: pads[2], right: pads[3])
        case "VALID": break
        case let mode where mode == "SAME_UPPER" || mode == "SAME_LOWER":
            guard let (s, _) = shapes(input), s.rank == 4 else { throw InvalidNode("auto_pad needs a 4-D input") }
            var p = Padding2D.same(input: Size2D(s[2], s[3]), kernel: Size2D(kernel[0], kernel[1]),
                                   stride: Size2D(strides[0], strides[1]), dilation: Size2D(dilations[0], dilations[1]))
            if mode == "SAME_LOWER" { p = Padding2D(top: p.bottom, left: p.right, bottom: p.top, right: p.left) }
            padding = p
        case let other: throw InvalidNode("auto_pad '\(other)'")
        }
        return Window2D(kernel: Size2D(kernel[0], kernel[1]), stride: Size2D(strides[0], strides[1]),
                        dilation: Size2D(dilations[0], dilations[1]), padding: padding, ceilMode: ceil)
    }

    // MARK: Nodes

    mutating func convertNode(_ n: Onnx_NodeProto, name: String) throws {
        let a = Attributes(n)
        let ins = n.input
        let outs = n.output
        func input(_ k: Int) -> String? { k < ins.count && !ins[k].isEmpty ? ins[k] : nil }
        func required(_ k: Int) throws -> String {
            guard let v = input(k) else { throw InvalidNode("input \(k) is missing") }
            guard shapes1[v] != nil || constants[v] != nil else { throw InvalidNode("input '\(v)' is produced by no earlier node, input or initializer") }
            return v
        }
        func allConstant(_ vs: [String]) -> Bool { vs.allSatisfy { constants[$0] != nil } }
        let out = outs.first ?? name
        // Extra outputs (max pool indices, dropout mask, batch-norm statistics) must be unused.
        func onlyFirstOutput() throws {
            if outs.dropFirst().contains(where: { !$0.isEmpty }) { throw Unsupported(detail: "extra outputs") }
        }

        switch n.opType {
        case "Constant":
            if let t = a.tensor("value") {
                constants[out] = try decoder.decode(t)
            } else if let f = a.float("value_float") {
                constants[out] = .float(Tensor(shape: [], scalars: [f]))
            } else if let fs = a.map["value_floats"]?.floats {
                constants[out] = .float(Tensor(shape: [fs.count], scalars: fs))
            } else if let i = a.int("value_int") {
                constants[out] = .integers([i], [])
            } else if let v = a.ints("value_ints") {
                constants[out] = .integers(v, [v.count])
            } else {
                throw Unsupported(detail: "sparse or string value")
            }

        case "Identity", "Dropout":
            try onlyFirstOutput()
            let x = try required(0)
            if let c = constants[x] { constants[out] = c; return }
            if n.opType == "Dropout", opset >= 12, let ratio = input(1), constants[ratio] == nil { throw Unsupported(detail: "computed ratio") }
            try add(name, IdentityOp(type: n.opType), [x], [out])

        case "Cast":
            let x = try required(0)
            let to = a.int("to", 0)
            let floatTypes = [1, 10, 11, 16]
            if let c = constants[x] {
                constants[out] = floatTypes.contains(to) ? .float(c.floatTensor) : (c.integers.map { .integers($0, c.shape) } ?? c)
            } else if floatTypes.contains(to) {
                try add(name, IdentityOp(type: "Cast"), [x], [out])
            } else {
                throw Unsupported(detail: "cast of an activation to type \(to)")
            }

        case "Shape":
            let x = try required(0)
            guard let (s1, s2) = shapes(x) else { throw InvalidNode("unknown input shape") }
            var dims = (0 ..< s1.rank).map { s1[$0] == s2[$0] ? s1[$0] : Self.batchDimension }
            let start = a.int("start", 0), end = a.int("end", dims.count)
            let lo = min(max(start < 0 ? start + dims.count : start, 0), dims.count)
            let hi = min(max(end < 0 ? end + dims.count : end, lo), dims.count)
            dims = Array(dims[lo ..< hi])
            constants[out] = .integers(dims, [dims.count])

        case "Gather":
            let (data, indices) = (try required(0), try required(1))
            guard let c = constants[data], let idx = constants[indices]?.integers else { throw Unsupported(detail: "gather from activations") }
            do {
                constants[out] = try c.gathered(idx, indexShape: constants[indices]!.shape, axis: a.int("axis", 0))
            } catch { throw InvalidNode(error.message) }

        case "ConstantOfShape":
            let dims = try integers(try required(0), "shape")
            guard !dims.contains(Self.batchDimension) else { throw Unsupported(detail: "shape depends on the batch size") }
            let shape: Shape
            do { shape = try Shape(checking: dims, limit: 1 << 24) } catch { throw InvalidNode("shape \(dims): \(error)") }
            let value = try a.tensor("value").map { try decoder.decode($0) } ?? .float(Tensor(shape: [1], scalars: [0]))
            if let v = value.integers, case .integers = value {
                constants[out] = .integers([Int](repeating: v.first ?? 0, count: shape.count), shape)
            } else {
                constants[out] = .float(Tensor(repeating: value.floatTensor.scalars.first ?? 0, shape: shape))
            }

        case "Unsqueeze", "Squeeze":
            let x = try required(0)
            guard let (s1, s2) = shapes(x) else { throw InvalidNode("unknown input shape") }
            var axes = opset >= 13 ? (input(1).map { try? integers($0, "axes") } ?? nil) ?? [] : (a.ints("axes") ?? [])
            func reshaped(_ s: Shape) throws -> Shape {
                var dims = s.dimensions
                if n.opType == "Unsqueeze" {
                    let rank = dims.count + axes.count
                    axes = axes.map { $0 < 0 ? $0 + rank : $0 }.sorted()
                    for ax in axes {
                        guard ax >= 0 && ax <= dims.count else { throw InvalidNode("axis \(ax) out of range") }
                        dims.insert(1, at: ax)
                    }
                } else {
                    let norm = axes.isEmpty ? dims.indices.filter { dims[$0] == 1 } : axes.map { $0 < 0 ? $0 + dims.count : $0 }
                    for ax in norm.sorted(by: >) {
                        guard ax >= 0 && ax < dims.count && dims[ax] == 1 else { throw InvalidNode("cannot squeeze axis \(ax) of \(s)") }
                        dims.remove(at: ax)
                    }
                }
                return Shape(dims)
            }
            if let c = constants[x] {
                let s = try reshaped(c.shape)
                constants[out] = c.integers.map { .integers($0, s) } ?? .float(c.floatTensor.reshaped(s))
            } else {
                let (o1, o2) = (try reshaped(s1), try reshaped(s2))
                try add(name, ReshapeOp(try reshapeTarget(x, o1, o2)), [x], [out])
            }

        case "Concat":
            let vs = try ins.indices.compactMap { input($0) == nil ? nil : try required($0) }
            if vs.allSatisfy({ constants[$0] == nil }) {
                try add(name, ConcatOp(axis: a.int("axis", 0)), vs, [out])
                return
            }
            guard allConstant(vs) else { throw Unsupported(detail: "concatenation of activations with constants") }
            do {
                constants[out] = try ONNXConstant.concatenated(vs.map { constants[$0]! }, axis: a.int("axis", 0))
            } catch { throw InvalidNode(error.message) }

        case "Slice":
            let x = try required(0)
            guard let c = constants[x] else { throw Unsupported(detail: "slice of an activation") }
            let starts = opset >= 10 ? try integers(try required(1), "starts") : (a.ints("starts") ?? [])
            let ends = opset >= 10 ? try integers(try required(2), "ends") : (a.ints("ends") ?? [])
            let axes = opset >= 10 ? try input(3).map { try integers($0, "axes") } ?? Array(0 ..< starts.count) : (a.ints("axes") ?? Array(0 ..< starts.count))
            let steps = opset >= 10 ? try input(4).map { try integers($0, "steps") } ?? starts.map { _ in 1 } : starts.map { _ in 1 }
            guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else {
                throw InvalidNode("starts, ends, axes and steps differ in length")
            }
            do {
                constants[out] = try c.sliced(starts: starts, ends: ends, axes: axes, steps: steps)
            } catch { throw InvalidNode(error.message) }

        case "Conv":
            let x = try required(0)
            let w = try required(1)
            guard let wShape = constants[w]?.shape else { throw Unsupported(detail: "computed weights") }
            guard wShape.rank == 4 else { throw Unsupported(detail: "\(wShape.rank - 2)-D; ttl supports 2-D") }
            let kernel = a.ints("kernel_shape") ?? [wShape[2], wShape[3]]
            guard kernel == [wShape[2], wShape[3]] else { throw InvalidNode("kernel_shape \(kernel) disagrees with weight \(wShape)") }
            let win = try window(a, input: x, kernel: kernel, ceil: false)
            let options = Conv2DOptions(stride: win.stride, dilation: win.dilation, padding: win.padding, groups: a.int("group", 1))
            var inputs = [x, try weight(w, .parameter, as: "weight")]
            if let b = input(2) { _ = try required(2); inputs.append(try weight(b, .parameter, as: "bias")) }
            try add(name, Conv2DOp(options), inputs, [out])

        case "BatchNormalization":
            try onlyFirstOutput()
            if a.int("training_mode", 0) != 0 { throw Unsupported(detail: "training_mode=1") }
            let x = try required(0)
            let stats = try (1 ... 4).map { try required($0) }
            let inputs = [x, try weight(stats[0], .parameter, as: "scale"), try weight(stats[1], .parameter, as: "bias"),
                          try weight(stats[2], .buffer, as: "mean"), try weight(stats[3], .buffer, as: "variance")]
            // ONNX momentum weighs the old running value (Keras convention); ttl's weighs the new batch.
            try add(name, BatchNormOp(epsilon: a.float("epsilon", 1e-5), momentum: 1 - a.float("momentum", 0.9)), inputs, [out])

        case "Relu", "Sigmoid", "HardSwish", "LeakyRelu", "HardSigmoid", "Clip":
            let x = try required(0)
            let f: ActivationOp.Function
            switch n.opType {
            case "Relu": f = .relu
            case "Sigmoid": f = .sigmoid
            case "HardSwish": f = .hardSwish
            case "LeakyRelu": f = .leakyReLU(slope: a.float("alpha", 0.01))
            case "HardSigmoid": f = .hardSigmoid(alpha: a.float("alpha", 0.2), beta: a.float("beta", 0.5))
            default:
                var lo = -Float.greatestFiniteMagnitude, hi = Float.greatestFiniteMagnitude
                if opset < 11 {
                    lo = a.float("min", lo)
                    hi = a.float("max", hi)
                } else {
                    func bound(_ k: Int) throws -> Float? {
                        guard let v = input(k) else { return nil }
                        guard let c = constants[v], c.shape.count == 1 else { throw Unsupported(detail: "computed bounds") }
                        return c.floatTensor.scalars[0]
                    }
                    lo = try bound(1) ?? lo
                    hi = try bound(2) ?? hi
                }
                f = .clip(min: lo, max: hi)
            }
            if constants[x] != nil { throw Unsupported(detail: "activation of a constant") }
            try add(name, ActivationOp(f), [x], [out])

        case "Add", "Sub", "Mul", "Div":
            let (l, r) = (try required(0), try required(1))
            let op: Binary.Op = ["Add": .add, "Sub": .sub, "Mul": .mul, "Div": .div][n.opType]!
            if opset < 7, a.int("broadcast", 0) != 0, let axis = a.int("axis"), let (ls, _) = shapes(l), let rc = constants[r] {
                // Legacy broadcasting aligns B at `axis` of A; today's rule aligns on the right.
                let trailing = ls.rank - axis - rc.shape.rank
                guard trailing >= 0 else { throw InvalidNode("legacy broadcast axis \(axis)") }
                constants[r + "/aligned"] = .float(rc.floatTensor.reshaped(Shape(rc.shape.dimensions + [Int](repeating: 1, count: trailing))))
                try add(name, BinaryOp(op), [try operand(l), try operand(r + "/aligned")], [out])
                return
            }
            if let cl = constants[l], let cr = constants[r] {
                if case let .integers(x, sx) = cl, case let .integers(y, sy) = cr {
                    guard !x.contains(Self.batchDimension) && !y.contains(Self.batchDimension) else {
                        throw Unsupported(detail: "arithmetic on the dynamic batch size")
                    }
                    guard sx == sy || sy.count == 1 || sx.count == 1 else { throw Unsupported(detail: "broadcast of integer constants") }
                    let n = max(x.count, y.count)
                    let values = (0 ..< n).map { i -> Int in
                        let (p, q) = (x[sx.count == 1 ? 0 : i], y[sy.count == 1 ? 0 : i])
                        switch op {
                        case .add: return p + q
                        case .sub: return p - q
                        case .mul: return p * q
                        case .div: return q == 0 ? 0 : p / q
                        }
                    }
                    constants[out] = .integers(values, sx.count >= sy.count ? sx : sy)
                } else {
                    guard Broadcast.shape(cl.shape, cr.shape) != nil else { throw InvalidNode("shapes \(cl.shape) and \(cr.shape) do not broadcast") }
                    constants[out] = .float(Binary.forward(op, cl.floatTensor, cr.floatTensor))
                }
                return
            }
            try add(name, BinaryOp(op), [try operand(l), try operand(r)], [out])

        case "MaxPool", "AveragePool":
            try onlyFirstOutput()
            let x = try required(0)
            guard let kernel = a.ints("kernel_shape") else { throw InvalidNode("kernel_shape is missing") }
            if n.opType == "MaxPool" && a.int("storage_order", 0) != 0 { throw Unsupported(detail: "storage_order=1") }
            if n.opType == "AveragePool", let d = a.ints("dilations"), d.contains(where: { $0 != 1 }) { throw Unsupported(detail: "dilations") }
            let win = try window(a, input: x, kernel: kernel, ceil: a.int("ceil_mode", 0) != 0)
            let op: any GraphOperation = n.opType == "MaxPool" ? MaxPoolOp(win) : AvgPoolOp(win, countIncludePad: a.int("count_include_pad", 0) != 0)
            try add(name, op, [x], [out])

        case "GlobalAveragePool":
            let x = try required(0)
            guard shapes(x)?.0.rank == 4 else { throw Unsupported(detail: "non-4-D input") }
            try add(name, GlobalAvgPoolOp(), [x], [out])

        case "ReduceMean":
            let x = try required(0)
            guard let (s1, _) = shapes(x), s1.rank == 4 else { throw Unsupported(detail: "non-4-D input") }
            let axes = opset >= 18 ? try input(1).map { try integers($0, "axes") } ?? [] : (a.ints("axes") ?? [])
            guard Set(axes.map { $0 < 0 ? $0 + 4 : $0 }) == [2, 3] else { throw Unsupported(detail: "mean over axes \(axes)") }
            if a.int("keepdims", 1) != 0 {
                try add(name, GlobalAvgPoolOp(), [x], [out])
            } else {
                try add(name, GlobalAvgPoolOp(), [x], [out + "/pooled"])
                try add(name + "/squeeze", ReshapeOp([0, 0]), [out + "/pooled"], [out])
            }

        case "Flatten":
            let x = try required(0)
            let axis = a.int("axis", 1)
            if let c = constants[x] {
                constants[out] = .float(Flatten.forward(c.floatTensor, axis: axis))
            } else {
                try add(name, FlattenOp(axis: axis), [x], [out])
            }

        case "Reshape":
            let x = try required(0)
            var target = opset >= 5 ? try integers(try required(1), "shape") : (a.ints("shape") ?? [])
            if a.int("allowzero", 0) != 0 && target.contains(0) { throw Unsupported(detail: "allowzero with a zero dimension") }
            if let c = constants[x] {
                let op = ReshapeOp(target)
                guard let s = try? op.outputShapes([c.shape]).first else { throw InvalidNode("cannot reshape \(c.shape) to \(target)") }
                constants[out] = c.integers.map { .integers($0, s) } ?? .float(c.floatTensor.reshaped(s))
                return
            }
            // The dynamic batch size, folded from Shape, becomes "copy dimension 0".
            for (i, d) in target.enumerated() where d == Self.batchDimension {
                target[i] = i == 0 ? 0 : -1
            }
            try add(name, ReshapeOp(target), [x], [out])

        case "Transpose":
            let x = try required(0)
            guard let (s, _) = shapes(x) else { throw InvalidNode("unknown input shape") }
            let perm = a.ints("perm") ?? Array((0 ..< s.rank).reversed())
            if let c = constants[x] {
                guard perm.sorted() == Array(0 ..< c.shape.rank) else { throw InvalidNode("perm \(perm) for \(c.shape)") }
                constants[out] = c.transposed(perm)
            } else {
                try add(name, TransposeOp(perm), [x], [out])
            }

        case "Gemm", "MatMul":
            let (x, w) = (try required(0), try required(1))
            guard constants[x] == nil else { throw Unsupported(detail: "constant left operand") }
            let options = n.opType == "Gemm"
                ? Gemm.Options(transposeA: a.int("transA", 0) != 0, transposeB: a.int("transB", 0) != 0,
                               alpha: a.float("alpha", 1), beta: a.float("beta", 1))
                : Gemm.Options()
            if n.opType == "MatMul", shapes(x)?.0.rank != 2 || shapes(w)?.0.rank != 2 { throw Unsupported(detail: "batched MatMul") }
            // B and C are usually weights, but may be activations (torch.mm, addmm).
            var inputs = [x, try operand(w, .parameter)]
            if n.opType == "Gemm", let c = input(2) { _ = try required(2); inputs.append(try operand(c, .parameter)) }
            try add(name, GemmOp(options), inputs, [out])

        case "Pad":
            let x = try required(0)
            let mode = a.string("mode") ?? "constant"
            guard mode == "constant" else { throw Unsupported(detail: "mode '\(mode)'") }
            var pads = opset >= 11 ? try integers(try required(1), "pads") : (a.ints("pads") ?? a.ints("paddings") ?? [])
            var value: Float = opset >= 11 ? try input(2).map { v -> Float in
                guard let c = constants[v] else { throw Unsupported(detail: "computed pad value") }
                return c.floatTensor.scalars.first ?? 0
            } ?? 0 : a.float("value", 0)
            if opset >= 18, let axesName = input(3) {
                let axes = try integers(axesName, "axes").map { $0 < 0 ? $0 + 4 : $0 }
                var full = [Int](repeating: 0, count: 8)
                for (k, ax) in axes.enumerated() where ax >= 0 && ax < 4 {
                    full[ax] = pads[k]
                    full[ax + 4] = pads[k + axes.count]
                }
                pads = full
            }
            guard shapes(x)?.0.rank == 4, pads.count == 8 else { throw Unsupported(detail: "padding of a non-4-D tensor") }
            guard pads[0] == 0, pads[1] == 0, pads[4] == 0, pads[5] == 0 else { throw Unsupported(detail: "padding of batch or channel axes") }
            guard pads.allSatisfy({ $0 >= 0 }) else { throw Unsupported(detail: "negative pads (cropping)") }
            if value.isNaN { value = 0 }
            try add(name, PadOp(Padding2D(top: pads[2], left: pads[3], bottom: pads[6], right: pads[7]), value: value), [x], [out])

        case "Softmax":
            let x = try required(0)
            guard let (s1, s2) = shapes(x) else { throw InvalidNode("unknown input shape") }
            let rank = s1.rank
            var axis = a.int("axis", opset >= 13 ? -1 : 1)
            if axis < 0 { axis += rank }
            guard axis >= 0 && axis < rank else { throw InvalidNode("axis \(axis) for rank \(rank)") }
            if opset >= 13 || axis == rank - 1 {
                try add(name, SoftmaxOp(axis: opset >= 13 ? axis : -1), [x], [out])
            } else {
                // Before opset 13, Softmax normalises over all axes from `axis` on, as one.
                try add(name + "/flatten", FlattenOp(axis: axis), [x], [out + "/flat"])
                try add(name, SoftmaxOp(axis: -1), [out + "/flat"], [out + "/softmax"])
                try add(name + "/reshape", ReshapeOp(try reshapeTarget(x, s1, s2)), [out + "/softmax"], [out])
            }

        default:
            throw Unsupported()
        }
    }
}

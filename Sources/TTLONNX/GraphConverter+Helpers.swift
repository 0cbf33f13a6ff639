// What every operator mapping (`Nodes/`) uses: attributes, shapes, weights, node insertion.
// Attribute defaults follow the operator specification of each opset (https://onnx.ai/onnx/operators/).
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
            o1 = try op.checkedOutputShapes(try inShapes(true))
            o2 = try op.checkedOutputShapes(try inShapes(false))
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
    /// The largest kernel size, stride, dilation or pad a file may give.
    static let maximumWindowNumber = 1 << 24

    func window(_ a: Attributes, input: String, kernel: [Int], ceil: Bool) throws -> Window2D {
        guard kernel.count == 2 else { throw Unsupported(detail: "\(kernel.count)-D; ttl supports 2-D") }
        let strides = a.ints("strides") ?? [1, 1], dilations = a.ints("dilations") ?? [1, 1]
        // Every window number at most 2^24, so that the window arithmetic cannot overflow.
        for (what, v) in [("kernel_shape", kernel), ("strides", strides), ("dilations", dilations), ("pads", a.ints("pads") ?? [])] {
            guard v.allSatisfy({ $0 <= Self.maximumWindowNumber }) else {
                throw InvalidNode("\(what) \(v) beyond the limit of \(Self.maximumWindowNumber)")
            }
        }
        guard kernel.allSatisfy({ $0 >= 1 }) else { throw InvalidNode("kernel_shape \(kernel) must be positive") }
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

    /// Input `k` of `n`, which must be present and computed earlier (or be a constant).
    func required(_ n: ONNXNode, _ k: Int) throws -> String {
        guard let v = n.input(k) else { throw InvalidNode("input \(k) is missing") }
        guard shapes1[v] != nil || constants[v] != nil || batchIndices[v] != nil else { throw InvalidNode("input '\(v)' is produced by no earlier node, input or initializer") }
        return v
    }

    func allConstant(_ vs: [String]) -> Bool { vs.allSatisfy { constants[$0] != nil } }

    // MARK: Nodes

    /// Converts one node through its operator's mapping (`Nodes/`).
    mutating func convertNode(_ proto: Onnx_NodeProto, name: String) throws {
        guard let mapping = ONNXOperators.importers[proto.opType] else { throw Unsupported() }
        try mapping.importNode(ONNXNode(proto, name: name, opset: opset), &self)
    }
}

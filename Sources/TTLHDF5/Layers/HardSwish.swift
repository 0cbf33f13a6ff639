// Hard swish, `x · relu6(x + 3) / 6` (Keras 3's `hard_swish`/`hard_silu` activation; tf_keras's
// MobileNetV3 writes it as `TFOpLambda` add 3 → `ReLU(6)` → `TFOpLambda` multiply 1/6 →
// `Multiply` with `x`). tf_keras 2.21 has no hard-swish activation, so export writes ttl's
// HardSwish as the layers both tf_keras and Keras 3 load: `Rescaling(offset 3)` `NAME_plus3` →
// `ReLU(max_value 6)` `NAME_relu6` → `Rescaling(scale 1/6)` `NAME_div6` → `Multiply` `NAME`. On
// import that chain (in either form) becomes one HardSwish node again (``Model/fusingHardSwish()``),
// so an export reads back as the model it came from.
import TTLCore
import TTLNN

enum HardSwishActivation: KerasLayerMapping {
    static let exportedOperations: [any GraphOperation.Type] = [ActivationOp.self]

    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard (n.operation as? ActivationOp)?.function == .hardSwish else { return nil }
        let x = try w.tensor(n.inputs[0], .nhwc, for: n)
        let plus3 = w.emit(n.name + "_plus3", "Rescaling", ["scale": 1.0, "offset": 3.0], [x])
        let relu6 = w.emit(n.name + "_relu6", "ReLU", ["max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0], [plus3])
        let div6 = w.emit(n.name + "_div6", "Rescaling", ["scale": Double(Float(1) / 6), "offset": 0.0], [relu6])
        return .layer(w.emit(n.name, "Multiply", [:], [x, div6]), .nhwc)
    }
}

extension Model {
    /// Rewrites each `x · (clip(x + 3, 0, 6) · (1/6))` whose intermediate values feed nothing
    /// else as one HardSwish node (named as the final product), dropping the chain's scalar
    /// constants.
    func fusingHardSwish() throws(GraphError) -> Model {
        var nodes = self.nodes
        var parameters = self.parameters
        func scalar(_ name: String) -> Float? { parameters.tensor(name).flatMap { $0.count == 1 ? $0.scalars[0] : nil } }
        var changed = true
        while changed {
            changed = false
            var consumers: [String: [Int]] = [:]
            for (i, n) in nodes.enumerated() { for v in n.inputs { consumers[v, default: []].append(i) } }
            func sole(_ value: String) -> Int? {
                guard let c = consumers[value], c.count == 1, !outputs.contains(value) else { return nil }
                return c[0]
            }
            for (i, n) in nodes.enumerated() {
                guard (n.operation as? BinaryOp)?.op == .add, n.inputs.count == 2, scalar(n.inputs[1]) == 3, parameters[n.inputs[0]] == nil,
                      let j = sole(n.outputs[0]), (nodes[j].operation as? ActivationOp)?.function == .clip(min: 0, max: 6),
                      let k = sole(nodes[j].outputs[0]), (nodes[k].operation as? BinaryOp)?.op == .mul, nodes[k].inputs.count == 2,
                      nodes[k].inputs[0] == nodes[j].outputs[0], let sixth = scalar(nodes[k].inputs[1]), abs(sixth - 1 / 6) <= 1e-6 / 6,
                      let m = sole(nodes[k].outputs[0]), (nodes[m].operation as? BinaryOp)?.op == .mul, nodes[m].inputs.count == 2
                else { continue }
                let x = n.inputs[0], gate = nodes[k].outputs[0]
                guard nodes[m].inputs == [x, gate] || nodes[m].inputs == [gate, x] else { continue }
                for c in [n.inputs[1], nodes[k].inputs[1]] where consumers[c]?.count == 1 && !outputs.contains(c) { parameters[c] = nil }
                nodes[m] = Node(nodes[m].name, ActivationOp(.hardSwish), inputs: [x], outputs: nodes[m].outputs)
                for r in [k, j, i] { nodes.remove(at: r) }
                changed = true
                break
            }
        }
        var m = try Model(inputs: inputs, outputs: outputs, nodes: nodes, parameters: parameters)
        m.metadata = metadata
        m.frozen = frozen
        return m
    }
}

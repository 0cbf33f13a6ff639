import Foundation
import TTLCore
import TTLNN

extension KerasLayerWriter {
    /// Writes the multi-node forms that stand for one Keras layer, starting at node `i`; false
    /// when `n` starts none of them:
    ///   - `x / √2 → erf → + 1 → x · … → · 0.5`, the exact GELU, as `Activation("gelu")`;
    ///   - transpose to channels-last → LayerNormalization over the last axis → transpose back,
    ///     as Keras's `LayerNormalization` on the image (and a layer norm of a vector as it is).
    mutating func multiNodeLayer(_ i: Int, _ n: Node) throws -> Bool {
        if let chain = geluChain(i, n) {
            let x = n.inputs[0]
            let layout: Layout = shapes[x]?.rank == 4 ? .nhwc : .same
            let last = model.nodes[chain.last!]
            skipped.formUnion(chain)
            let l = emit(last.name, "Activation", ["activation": "gelu"], [try tensor(x, layout, for: n)])
            kerasOf[last.outputs[0]] = (l, layout)
            return true
        }
        if let t = n.operation as? TransposeOp, t.permutation == KerasToTTL.nchwToNHWC, let k = soleConsumer(n.outputs[0]),
           let ln = model.nodes[k].operation as? LayerNormOp, ln.axis == -1 || ln.axis == 3,
           let b = soleConsumer(model.nodes[k].outputs[0]), (model.nodes[b].operation as? TransposeOp)?.permutation == KerasToTTL.nhwcToNCHW {
            let norm = model.nodes[k]
            skipped.formUnion([k, b])
            let l = try layerNormalization(norm, ln, source: try tensor(n.inputs[0], .nhwc, for: n))
            kerasOf[model.nodes[b].outputs[0]] = (l, .nhwc)
            return true
        }
        if let ln = n.operation as? LayerNormOp, shapes[n.inputs[0]]?.rank == 2, ln.axis == -1 || ln.axis == 1 {
            kerasOf[n.outputs[0]] = (try layerNormalization(n, ln, source: try tensor(n.inputs[0], .same, for: n)), .same)
            return true
        }
        return false
    }

    mutating func layerNormalization(_ n: Node, _ op: LayerNormOp, source: String) throws -> String {
        let gamma = try parameter(n.inputs[1], of: n)
        let beta = n.inputs.count > 2 ? try parameter(n.inputs[2], of: n) : Tensor(zeros: gamma.shape)
        let c = gamma.count
        return emit(n.name, "LayerNormalization", ["axis": -1, "epsilon": Double(op.epsilon), "center": true, "scale": true],
                    [source], weights: [("gamma", gamma.reshaped([c])), ("beta", beta.reshaped([c]))])
    }

    /// The nodes of an exact GELU starting at `i`, the last one giving its result.
    func geluChain(_ i: Int, _ n: Node) -> [Int]? {
        func scalar(_ name: String) -> Float? { model.parameters.tensor(name).flatMap { $0.count == 1 ? $0.scalars[0] : nil } }
        func close(_ a: Float?, _ b: Float) -> Bool { a.map { abs($0 - b) <= 1e-6 * abs(b) } ?? false }
        guard let first = n.operation as? BinaryOp, n.inputs.count == 2 else { return nil }
        let x = n.inputs[0]
        let root2 = Float(2).squareRoot()
        guard (first.op == .div && close(scalar(n.inputs[1]), root2)) || (first.op == .mul && close(scalar(n.inputs[1]), 1 / root2)) else { return nil }
        guard let e = soleConsumer(n.outputs[0]), (model.nodes[e].operation as? ElementwiseMathOp)?.function == .erf,
              let a = soleConsumer(model.nodes[e].outputs[0]), (model.nodes[a].operation as? BinaryOp)?.op == .add,
              model.nodes[a].inputs[0] == model.nodes[e].outputs[0], close(scalar(model.nodes[a].inputs[1]), 1),
              let m = soleConsumer(model.nodes[a].outputs[0]), (model.nodes[m].operation as? BinaryOp)?.op == .mul,
              Set(model.nodes[m].inputs) == [x, model.nodes[a].outputs[0]],
              let h = soleConsumer(model.nodes[m].outputs[0]), (model.nodes[h].operation as? BinaryOp)?.op == .mul,
              model.nodes[h].inputs[0] == model.nodes[m].outputs[0], close(scalar(model.nodes[h].inputs[1]), 0.5)
        else { return nil }
        return [i, e, a, m, h]
    }
}

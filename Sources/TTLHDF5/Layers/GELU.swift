// The exact GELU, `x · (1 + erf(x / √2)) / 2` (Keras's `gelu` activation, approximate=False):
// imported as the elementwise nodes ttl's ONNX importer writes for ONNX's Gelu (so it trains,
// runs on every engine and exports to ONNX); export reads that chain back as `Activation("gelu")`.
import TTLCore
import TTLNN

enum GELUActivation: KerasLayerMapping {
    static let exportedOperations: [any GraphOperation.Type] = [BinaryOp.self]

    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let chain = w.geluChain(i, n) else { return nil }
        let x = n.inputs[0]
        let layout: KerasLayerWriter.Layout = w.shapes[x]?.rank == 4 ? .nhwc : .same
        let last = w.model.nodes[chain[chain.count - 1]]
        w.skipped.formUnion(chain)
        let l = w.emit(last.name, "Activation", ["activation": "gelu"], [try w.tensor(x, layout, for: n)])
        w.kerasOf[last.outputs[0]] = (l, layout)
        return .recorded
    }
}

extension KerasGraphBuilder {
    /// Nodes `name_scaled`, `name_erf`, `name_plus1`, `name_times_x` and `name`, with scalar
    /// buffers `name.gelu_sqrt2`, `name.gelu_one`, `name.gelu_half`.
    /// - Returns: `x`'s shape
    mutating func gelu(_ l: KerasLayer, _ x: KerasValue, name: String) throws -> KerasValue {
        let scaled = try value(l, name + "_scaled", BinaryOp(.div), [x, constant(name + ".gelu_sqrt2", Tensor(shape: [1], scalars: [Float(2).squareRoot()]))])
        let erf = try value(l, name + "_erf", ElementwiseMathOp(.erf), [scaled])
        let plusOne = try value(l, name + "_plus1", BinaryOp(.add), [erf, constant(name + ".gelu_one", Tensor(shape: [1], scalars: [1]))])
        let times = try value(l, name + "_times_x", BinaryOp(.mul), [x, plusOne])
        return try value(l, name, BinaryOp(.mul), [times, constant(name + ".gelu_half", Tensor(shape: [1], scalars: [0.5]))])
    }
}

extension KerasLayerWriter {
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

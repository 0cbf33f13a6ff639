// Keras `ZeroPadding2D` (https://keras.io/api/layers/reshaping_layers/zero_padding2d/), ttl's
// `PadOp` with value 0 on an image's height and width.
import Foundation
import TTLCore
import TTLNN

enum ZeroPaddingLayer: KerasLayerMapping {
    static let kerasClasses = ["ZeroPadding2D"]
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.value(l, l.name, PadOp(try b.zeroPadding(l)), [ins[0]])
    }

    static let exportedOperations: [any GraphOperation.Type] = [PadOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let op = n.operation as? PadOp else { return nil }
        let x = n.inputs[0]
        guard op.value == 0, w.shapes[x]?.rank == 4 else { throw w.fail(n, "only zero padding of images maps to ZeroPadding2D") }
        let p = op.padding
        return .layer(w.emit(n.name, "ZeroPadding2D", ["padding": [[p.top, p.bottom], [p.left, p.right]], "data_format": "channels_last"],
                             [try w.tensor(x, .nhwc, for: n)]), .nhwc)
    }
}

extension KerasGraphBuilder {
    /// `padding` as one number, a (rows, columns) pair or ((top, bottom), (left, right)).
    func zeroPadding(_ l: KerasLayer) throws -> Padding2D {
        let p = l.config["padding"]
        let v = { (n: NSNumber) throws -> Int in
            guard let s = KerasLayer.size(n), s >= 0 else { throw self.fail(l, "padding \(n) is out of range") }
            return s
        }
        if let n = p as? NSNumber { return Padding2D(try v(n)) }
        if let pair = p as? [NSNumber], pair.count == 2 { return Padding2D(h: try v(pair[0]), w: try v(pair[1])) }
        if let nested = p as? [[NSNumber]], nested.count == 2, nested[0].count == 2, nested[1].count == 2 {
            return Padding2D(top: try v(nested[0][0]), left: try v(nested[1][0]), bottom: try v(nested[0][1]), right: try v(nested[1][1]))
        }
        throw fail(l, "unreadable padding")
    }
}

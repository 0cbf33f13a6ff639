import Foundation
import TTLCore
import TTLNN

extension KerasGraphBuilder {
    /// Keras `Cropping2D` (NASNet): `cropping` as one number, a (rows, columns) pair or
    /// ((top, bottom), (left, right)); a slice of the two spatial axes.
    /// - Parameters:
    ///   - x: `[N, C, H, W]`
    /// - Returns: `[N, C, H − top − bottom, W − left − right]`
    mutating func cropping(_ l: KerasLayer, _ x: (name: String, shape: Shape)) throws -> (name: String, shape: Shape) {
        guard x.shape.rank == 4 else { throw fail(l, "expected a 4-D input, got \(x.shape.rank)-D") }
        let c = l.config["cropping"]
        let outOfRange = fail(l, "cropping \(String(describing: c)) is out of range")
        let v = { (n: NSNumber) throws -> Int in
            guard let s = KerasLayer.size(n), s >= 0 else { throw outOfRange }
            return s
        }
        let crop: (top: Int, bottom: Int, left: Int, right: Int)
        if let n = c as? NSNumber { let s = try v(n); crop = (s, s, s, s) }
        else if let pair = c as? [NSNumber], pair.count == 2 { let h = try v(pair[0]), w = try v(pair[1]); crop = (h, h, w, w) }
        else if let nested = c as? [[NSNumber]], nested.count == 2, nested[0].count == 2, nested[1].count == 2 {
            crop = (try v(nested[0][0]), try v(nested[0][1]), try v(nested[1][0]), try v(nested[1][1]))
        } else { throw fail(l, "unreadable cropping") }
        let h = x.shape[2], w = x.shape[3]
        guard crop.top + crop.bottom < h, crop.left + crop.right < w else {
            throw fail(l, "cropping \(crop) leaves nothing of a \(h)×\(w) image")
        }
        return try value(l, l.name, SliceOp(starts: [crop.top, crop.left], ends: [h - crop.bottom, w - crop.right], axes: [2, 3], steps: [1, 1]), [x])
    }
}

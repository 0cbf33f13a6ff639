/// Constant padding of the two spatial axes (ONNX Pad on H and W, Keras ZeroPadding2D).
public enum Pad2D {
    /// Surrounds each `[H, W]` plane with `value`.
    /// - Parameter input: `[N, C, H, W]`
    /// - Returns: `[N, C, H + top + bottom, W + left + right]`, the border filled with `value`
    public static func forward(_ input: Tensor, padding p: Padding2D, value: Float = 0) -> Tensor {
        let s = input.shape
        precondition(s.rank == 4 && min(p.top, p.left, p.bottom, p.right) >= 0, "pad2d: \(s) by \(p)")
        let (h, w) = (s[2], s[3])
        let (ho, wo) = (h + p.top + p.bottom, w + p.left + p.right)
        return input.withUnsafeBufferPointer { x in
            Tensor(uninitialized: [s[0], s[1], ho, wo]) { y in
                parallelFor(s[0] * s[1], costPerItem: ho * wo) { nc in
                    let dst = y.baseAddress! + nc * ho * wo, src = x.baseAddress! + nc * h * w
                    dst.update(repeating: value, count: p.top * wo)
                    for i in 0 ..< h {
                        let row = dst + (p.top + i) * wo
                        row.update(repeating: value, count: p.left)
                        (row + p.left).update(from: src + i * w, count: w)
                        (row + p.left + w).update(repeating: value, count: p.right)
                    }
                    (dst + (p.top + h) * wo).update(repeating: value, count: p.bottom * wo)
                }
            }
        }
    }

    /// The gradient is the interior of the output gradient.
    /// - Parameter outputGradient: `[N, C, H + top + bottom, W + left + right]`
    /// - Returns: `[N, C, H, W]`
    public static func backward(outputGradient dy: Tensor, padding p: Padding2D) -> Tensor {
        let s = dy.shape
        let (ho, wo) = (s[2], s[3])
        let (h, w) = (ho - p.top - p.bottom, wo - p.left - p.right)
        precondition(h >= 0 && w >= 0)
        return dy.withUnsafeBufferPointer { g in
            Tensor(uninitialized: [s[0], s[1], h, w]) { dx in
                parallelFor(s[0] * s[1], costPerItem: h * w) { nc in
                    for i in 0 ..< h {
                        (dx.baseAddress! + (nc * h + i) * w).update(from: g.baseAddress! + nc * ho * wo + (p.top + i) * wo + p.left, count: w)
                    }
                }
            }
        }
    }
}

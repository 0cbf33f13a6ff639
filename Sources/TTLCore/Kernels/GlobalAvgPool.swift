/// Global average pooling: the mean of each channel plane.
public enum GlobalAvgPool {
    /// The mean of each `[H, W]` plane.
    /// - Parameter input: `[N, C, H, W]`
    /// - Returns: `[N, C, 1, 1]`
    public static func forward(_ input: Tensor) -> Tensor {
        let s = input.shape
        precondition(s.rank == 4, "global average pool wants [N, C, H, W], got \(s)")
        let plane = s[2] * s[3]
        return input.withUnsafeBufferPointer { x in
            Tensor(uninitialized: [s[0], s[1], 1, 1]) { y in
                parallelFor(s[0] * s[1], costPerItem: plane) { nc in
                    var acc: Float = 0
                    let p = x.baseAddress! + nc * plane
                    for i in 0 ..< plane { acc += p[i] }
                    y[nc] = acc / Float(plane)
                }
            }
        }
    }

    /// Spreads each output gradient evenly over its plane.
    /// - Parameter outputGradient: `[N, C, 1, 1]`
    /// - Returns: `inputShape`, each element dy / (H·W)
    public static func backward(outputGradient: Tensor, inputShape s: Shape) -> Tensor {
        precondition(outputGradient.count == s[0] * s[1])
        let plane = s[2] * s[3]
        return outputGradient.withUnsafeBufferPointer { dy in
            Tensor(uninitialized: s) { dx in
                parallelFor(s[0] * s[1], costPerItem: plane) { nc in
                    let g = dy[nc] / Float(plane)
                    (dx.baseAddress! + nc * plane).update(repeating: g, count: plane)
                }
            }
        }
    }
}

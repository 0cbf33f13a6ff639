extension Reference {
    /// Channel c of a `[N, C, …]` array, as flat indices.
    static func channelIndices(_ s: Shape, _ c: Int) -> [Int] {
        let plane = s.count / (s[0] * s[1])
        return (0 ..< s[0]).flatMap { n in (0 ..< plane).map { (n * s[1] + c) * plane + $0 } }
    }

    /// y = (x − mean) / √(variance + ε) · scale + bias, per channel. `x` `[N, C, …]`, the rest `[C]`.
    public static func batchNorm<T>(_ x: ReferenceTensor<T>, scale: [T], bias: [T], mean: [T], variance: [T], epsilon: T) -> ReferenceTensor<T> {
        var y = x
        for c in 0 ..< x.shape[1] {
            for i in channelIndices(x.shape, c) {
                y.scalars[i] = (x.scalars[i] - mean[c]) / (variance[c] + epsilon).squareRoot() * scale[c] + bias[c]
            }
        }
        return y
    }

    /// Gradients of ``batchNorm(_:scale:bias:mean:variance:epsilon:)`` with constant statistics.
    public static func batchNormBackward<T>(_ dy: ReferenceTensor<T>, _ x: ReferenceTensor<T>, scale: [T], mean: [T], variance: [T], epsilon: T)
        -> (x: ReferenceTensor<T>, scale: [T], bias: [T])
    {
        var dx = dy
        var dscale = [T](repeating: 0, count: scale.count), dbias = dscale
        for c in 0 ..< x.shape[1] {
            let s = (variance[c] + epsilon).squareRoot()
            for i in channelIndices(x.shape, c) {
                dx.scalars[i] = dy.scalars[i] * scale[c] / s
                dscale[c] += dy.scalars[i] * (x.scalars[i] - mean[c]) / s
                dbias[c] += dy.scalars[i]
            }
        }
        return (dx, dscale, dbias)
    }

    /// Batch statistics of channel c: mean and biased variance.
    static func batchStatistics<T>(_ x: ReferenceTensor<T>, _ c: Int) -> (mean: T, variance: T, count: Int) {
        let idx = channelIndices(x.shape, c)
        let m = T(idx.count)
        let mean = idx.reduce(T(0)) { $0 + x.scalars[$1] } / m
        let variance = idx.reduce(T(0)) { $0 + (x.scalars[$1] - mean) * (x.scalars[$1] - mean) } / m
        return (mean, variance, idx.count)
    }

    /// Training-mode batch norm: normalizes with the batch statistics and returns the updated
    /// running statistics, `(1 − momentum) · running + momentum · batch` (unbiased variance).
    public static func batchNormTraining<T>(_ x: ReferenceTensor<T>, scale: [T], bias: [T], runningMean: [T], runningVariance: [T],
                                            momentum: T, epsilon: T) -> (y: ReferenceTensor<T>, mean: [T], variance: [T]) {
        var stats: [(mean: T, variance: T, count: Int)] = []
        for c in 0 ..< x.shape[1] { stats.append(batchStatistics(x, c)) }
        let y = batchNorm(x, scale: scale, bias: bias, mean: stats.map(\.mean), variance: stats.map(\.variance), epsilon: epsilon)
        let newMean = (0 ..< stats.count).map { c -> T in (1 - momentum) * runningMean[c] + momentum * stats[c].mean }
        let newVariance = (0 ..< stats.count).map { c -> T in
            let unbiased: T = stats[c].variance * T(stats[c].count) / T(stats[c].count - 1)
            return (1 - momentum) * runningVariance[c] + momentum * unbiased
        }
        return (y, newMean, newVariance)
    }

    /// Gradients of training-mode batch norm, through the batch mean and variance:
    /// with x̂ = (x − μ)/σ, dx = scale/σ · (dy − mean(dy) − x̂ · mean(dy · x̂)).
    public static func batchNormTrainingBackward<T>(_ dy: ReferenceTensor<T>, _ x: ReferenceTensor<T>, scale: [T], epsilon: T)
        -> (x: ReferenceTensor<T>, scale: [T], bias: [T])
    {
        var dx = dy
        var dscale = [T](repeating: 0, count: scale.count), dbias = dscale
        for c in 0 ..< x.shape[1] {
            let (mean, variance, count) = batchStatistics(x, c)
            let sigma = (variance + epsilon).squareRoot()
            let idx = channelIndices(x.shape, c)
            let xhat = idx.map { (x.scalars[$0] - mean) / sigma }
            let meanDy = idx.reduce(T(0)) { $0 + dy.scalars[$1] } / T(count)
            let meanDyXhat = zip(idx, xhat).reduce(T(0)) { $0 + dy.scalars[$1.0] * $1.1 } / T(count)
            for (i, xh) in zip(idx, xhat) {
                dx.scalars[i] = scale[c] / sigma * (dy.scalars[i] - meanDy - xh * meanDyXhat)
                dscale[c] += dy.scalars[i] * xh
                dbias[c] += dy.scalars[i]
            }
        }
        return (dx, dscale, dbias)
    }
}

import TTLCore
import XCTest

/// The worst elementwise disagreement between two arrays under `|a − e| ≤ atol + rtol · |e|`.
public struct Closeness: CustomStringConvertible {
    public var maxAbsoluteError: Double = 0
    public var worstIndex = -1
    public var worstExcess = -Double.infinity
    public var passes: Bool { worstExcess <= 0 }
    public var description: String { "max |error| \(maxAbsoluteError), worst excess over tolerance \(worstExcess) at element \(worstIndex)" }
}

public func closeness(_ actual: [Double], _ expected: [Double], atol: Double, rtol: Double) -> Closeness {
    var c = Closeness()
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let err = abs(a - e)
        if !(err.isFinite) && a != e { c.worstExcess = .infinity; c.worstIndex = i; continue }
        c.maxAbsoluteError = max(c.maxAbsoluteError, err.isNaN ? 0 : err)
        let excess = err - (atol + rtol * abs(e))
        if excess > c.worstExcess { c.worstExcess = excess; c.worstIndex = i }
    }
    return c
}

/// Asserts equal shapes and `|actual − expected| ≤ atol + rtol · |expected|` elementwise.
/// Negative tolerances are a test bug and fail.
public func assertClose(_ actual: Tensor, _ expected: Tensor, atol: Double, rtol: Double, _ message: @autoclosure () -> String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    assertClose(actual.shape, actual.scalars.map(Double.init), expected.shape, expected.scalars.map(Double.init),
                atol: atol, rtol: rtol, message(), file: file, line: line)
}

/// ``assertClose(_:_:atol:rtol:_:file:line:)`` for a reference array.
public func assertClose<T: ReferenceScalar>(_ actual: ReferenceTensor<T>, _ expected: Tensor, atol: Double, rtol: Double,
                                            _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    assertClose(actual.shape, actual.scalars.map { Double($0) }, expected.shape, expected.scalars.map(Double.init),
                atol: atol, rtol: rtol, message(), file: file, line: line)
}

public func assertClose(_ actualShape: Shape, _ actual: [Double], _ expectedShape: Shape, _ expected: [Double],
                        atol: Double, rtol: Double, _ message: @autoclosure () -> String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    guard atol >= 0, rtol >= 0 else {
        XCTFail("negative tolerance (atol \(atol), rtol \(rtol))", file: file, line: line)
        return
    }
    guard actualShape == expectedShape else {
        XCTFail("\(message()): shape \(actualShape) != expected \(expectedShape)", file: file, line: line)
        return
    }
    let c = closeness(actual, expected, atol: atol, rtol: rtol)
    if !c.passes {
        let i = c.worstIndex
        let got = i >= 0 && i < actual.count ? actual[i] : .nan, want = i >= 0 && i < expected.count ? expected[i] : .nan
        XCTFail("\(message()): not close (atol \(atol), rtol \(rtol)): \(c); got \(got), expected \(want)", file: file, line: line)
    }
}

/// Seeded random test inputs, built on ``SplitMix64``.
public struct SeededRandom {
    private var rng: SplitMix64
    public init(seed: UInt64) { rng = SplitMix64(seed: seed) }
    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double = -1, _ hi: Double = 1) -> Double { rng.uniform(lo, hi) }
    public mutating func array(_ n: Int, _ lo: Double = -1, _ hi: Double = 1) -> [Double] { (0 ..< n).map { _ in uniform(lo, hi) } }
    public mutating func reference(_ shape: Shape, _ lo: Double = -1, _ hi: Double = 1) -> ReferenceTensor<Double> {
        ReferenceTensor(shape: shape, scalars: array(shape.count, lo, hi))
    }
    /// A Float32 tensor and the same values in Float64.
    public mutating func pair(_ shape: Shape, _ lo: Double = -1, _ hi: Double = 1) -> (Tensor, ReferenceTensor<Double>) {
        let t = Tensor(shape: shape, scalars: (0 ..< shape.count).map { _ in Float(uniform(lo, hi)) })
        return (t, ReferenceTensor(t))
    }
}

/// A whole model's output against a reference framework's: max |got − expected| ≤
/// `relativeTolerance` · max(1, max |expected|), the same shape, and, for `[N, classes]`
/// outputs, the same top-1 class in every row.
public func assertModelOutput(_ got: Tensor, _ expected: Tensor, relativeTolerance: Float, _ name: String,
                              file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.shape, expected.shape, name, file: file, line: line)
    guard got.shape == expected.shape else { return }
    let g = got.scalars, e = expected.scalars
    let scale = max(1, e.map(abs).max() ?? 0)
    let err = zip(g, e).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(err, relativeTolerance * scale, "\(name): max abs error \(err)", file: file, line: line)
    if got.rank == 2 {
        let cols = got.shape[1]
        for r in 0 ..< got.shape[0] {
            let gr = g[r * cols ..< (r + 1) * cols], er = e[r * cols ..< (r + 1) * cols]
            XCTAssertEqual(gr.firstIndex(of: gr.max()!), er.firstIndex(of: er.max()!), "\(name): top-1 of row \(r)", file: file, line: line)
        }
    }
}

/// Runs `body` once with each engine that can run here (oneDNN where available, then the
/// reference Swift kernels), and restores the engine in use afterwards.
public func forEachEngine(_ body: (Engine) throws -> Void) rethrows {
    let saved = Engine.current
    defer { Engine.current = saved }
    for engine in Engine.available {
        Engine.current = engine
        try body(engine)
    }
}

import Foundation

/// A scalar the reference kernels compute in: Float, or Double for finite-difference checks.
public protocol ReferenceScalar: BinaryFloatingPoint, Sendable {
    /// The natural exponential, eˣ.
    static func exp(_ x: Self) -> Self
    /// The natural logarithm.
    static func log(_ x: Self) -> Self
}

extension Float: ReferenceScalar {
    public static func exp(_ x: Float) -> Float { Foundation.exp(x) }
    public static func log(_ x: Float) -> Float { Foundation.log(x) }
}

extension Double: ReferenceScalar {
    public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    public static func log(_ x: Double) -> Double { Foundation.log(x) }
}

/// A plain row-major array with a shape, for the reference kernels in ``Reference``.
public struct ReferenceTensor<T: ReferenceScalar>: Sendable, Equatable {
    /// The dimensions, outermost first.
    public var shape: Shape
    /// The `shape.count` elements, row-major.
    public var scalars: [T]

    /// An array of `scalars` laid out row-major in `shape`.
    public init(shape: Shape, scalars: [T]) {
        precondition(shape.count == scalars.count, "\(scalars.count) scalars for \(shape)")
        self.shape = shape
        self.scalars = scalars
    }
    /// An array of zeros.
    public init(zeros shape: Shape) { self.init(shape: shape, scalars: [T](repeating: 0, count: shape.count)) }
    /// The elements of `t`, converted to `T`.
    public init(_ t: Tensor) { self.init(shape: t.shape, scalars: t.scalars.map { T($0) }) }

    /// Rounded to Float32.
    public var tensor: Tensor { Tensor(shape: shape, scalars: scalars.map { Float($0) }) }

    /// Element `[n, c, h, w]` of a 4-D array.
    @inlinable public subscript(n: Int, c: Int, h: Int, w: Int) -> T {
        get { scalars[((n * shape[1] + c) * shape[2] + h) * shape[3] + w] }
        set { scalars[((n * shape[1] + c) * shape[2] + h) * shape[3] + w] = newValue }
    }
}

/// Plain, obviously-correct kernels, written straight from their definitions, with no
/// attention to speed. The optimized kernels in `Kernels/` are tested against these, and
/// these are checked in Float64 against finite differences.
public enum Reference {}

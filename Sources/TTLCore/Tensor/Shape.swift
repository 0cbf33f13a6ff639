/// The dimensions of a tensor, outermost first (NCHW by convention for images).
///
/// A shape built by our own code is trusted: broken invariants are preconditions.
/// A shape read from a file goes through ``Shape/init(checking:)`` first, which
/// throws instead of trapping and refuses sizes that overflow.
public struct Shape: Hashable, Sendable, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// The size of each axis, outermost first.
    public private(set) var dimensions: [Int]

    /// A shape of trusted dimensions; a negative one is a precondition failure.
    public init(_ dimensions: [Int]) {
        precondition(dimensions.allSatisfy { $0 >= 0 }, "negative dimension in \(dimensions)")
        self.dimensions = dimensions
    }

    public init(arrayLiteral elements: Int...) { self.init(elements) }

    /// Validates dimensions that came from outside (a file header): each must be
    /// non-negative and their product must fit in `limit` elements.
    public init(checking dimensions: [Int], limit: Int = Shape.maximumElementCount) throws(ShapeError) {
        var product = 1
        for (axis, d) in dimensions.enumerated() {
            guard d >= 0 else { throw .negativeDimension(axis: axis, value: d) }
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard !overflow, p <= limit else { throw .tooLarge(dimensions: dimensions, limit: limit) }
            product = p
        }
        self.dimensions = dimensions
    }

    /// The largest element count accepted from an untrusted header (16 Gi floats, 64 GiB).
    public static let maximumElementCount = 1 << 34

    /// The largest activation a graph may compute (2 Gi floats, 8 GiB): shape inference refuses
    /// an output above it, for any batch size, before anything is allocated.
    public static let maximumActivationElementCount = 1 << 31

    /// Number of axes.
    public var rank: Int { dimensions.count }
    /// Number of elements: the product of the dimensions (1 for a scalar).
    public var count: Int { dimensions.reduce(1, *) }
    /// The size of axis `axis`; negative axes count from the end.
    public subscript(axis: Int) -> Int {
        get { dimensions[axis < 0 ? axis + rank : axis] }
        set { precondition(newValue >= 0); dimensions[axis < 0 ? axis + rank : axis] = newValue }
    }

    /// Row-major (C-order) strides in elements.
    public var strides: [Int] {
        var s = [Int](repeating: 1, count: rank)
        var acc = 1
        for axis in stride(from: rank - 1, through: 0, by: -1) {
            s[axis] = acc
            acc *= dimensions[axis]
        }
        return s
    }

    public var description: String { "[" + dimensions.map(String.init).joined(separator: ", ") + "]" }
}

/// Steps a row-major multi-index to the next element of `dimensions`, the last of the first
/// `axes` axes (default: all) fastest; wraps to all zeros after the last element.
@inlinable
public func advance(_ index: inout [Int], in dimensions: [Int], axes: Int? = nil) {
    var axis = (axes ?? dimensions.count) - 1
    while axis >= 0 {
        index[axis] += 1
        if index[axis] < dimensions[axis] { return }
        index[axis] = 0
        axis -= 1
    }
}

/// A shape from outside that cannot be allowed.
public enum ShapeError: Error, Equatable, CustomStringConvertible {
    /// Dimension `axis` is `value`, below 0.
    case negativeDimension(axis: Int, value: Int)
    /// The element count overflows or exceeds `limit`.
    case tooLarge(dimensions: [Int], limit: Int)

    public var description: String {
        switch self {
        case let .negativeDimension(axis, value): "dimension \(axis) is negative (\(value))"
        case let .tooLarge(dims, limit): "shape \(dims) exceeds \(limit) elements"
        }
    }
}

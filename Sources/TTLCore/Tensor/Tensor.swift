/// A dense, contiguous, row-major Float32 tensor with value semantics.
///
/// Storage is a Swift array shared copy-on-write, so ``reshaped(_:)`` and
/// ``batch(_:)`` views cost nothing until one side is written.
/// Images are NCHW by convention: `[batch, channels, height, width]`.
public struct Tensor: Sendable, Equatable {
    /// The elements, row-major; `storage[offset ..< offset + shape.count]` is this tensor.
    @usableFromInline var storage: [Float]
    @usableFromInline var offset: Int
    /// The dimensions; images are `[N, C, H, W]`.
    public private(set) var shape: Shape

    /// A tensor of zeros.
    public init(zeros shape: Shape) {
        self.storage = [Float](repeating: 0, count: shape.count)
        self.offset = 0
        self.shape = shape
    }

    /// A tensor filled with `value`.
    public init(repeating value: Float, shape: Shape) {
        self.storage = [Float](repeating: value, count: shape.count)
        self.offset = 0
        self.shape = shape
    }

    /// A tensor over `scalars` laid out row-major in `shape`.
    public init(shape: Shape, scalars: [Float]) {
        precondition(scalars.count == shape.count, "\(scalars.count) scalars for shape \(shape)")
        self.storage = scalars
        self.offset = 0
        self.shape = shape
    }

    /// A tensor whose elements are written once by `initializer` (no zero fill first).
    /// The closure must write every element.
    public init(uninitialized shape: Shape, _ initializer: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        let n = shape.count
        self.storage = try [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            try initializer(buffer)
            initialized = n
        }
        self.offset = 0
        self.shape = shape
    }

    /// Number of elements.
    public var count: Int { shape.count }
    /// Number of axes.
    public var rank: Int { shape.rank }

    /// The elements as a fresh array.
    public var scalars: [Float] {
        if offset == 0 && storage.count == shape.count { return storage }
        return Array(storage[offset ..< offset + shape.count])
    }

    /// The same elements viewed in another shape of equal count (no copy).
    public func reshaped(_ newShape: Shape) -> Tensor {
        precondition(newShape.count == shape.count, "cannot reshape \(shape) to \(newShape)")
        var t = self
        t.shape = newShape
        return t
    }

    /// Elements `range` of the outermost axis, as a view (no copy).
    public func batch(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0])
        let inner = shape.count / max(shape[0], 1)
        var t = self
        t.offset = offset + range.lowerBound * inner
        var s = shape
        s[0] = range.count
        t.shape = s
        return t
    }

    /// Whether both tensors are views of the same stored elements (same buffer, offset and
    /// shape): true means equal without comparing them. Any write to either makes a copy
    /// first while both are alive, so a later `true` still means nothing was written.
    public func sharesStorage(with other: Tensor) -> Bool {
        guard offset == other.offset, shape == other.shape else { return false }
        return storage.withUnsafeBufferPointer { a in other.storage.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress } }
    }

    /// Reads the elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[offset ..< offset + shape.count]))
        }
    }

    /// Writes the elements in place (copies first if the storage is shared or a view).
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if offset != 0 || storage.count != shape.count {
            storage = Array(storage[offset ..< offset + shape.count])
            offset = 0
        }
        return try storage.withUnsafeMutableBufferPointer { try body($0) }
    }

    /// Element at a multi-index (slow; for tests and small tools).
    public subscript(index: Int...) -> Float {
        get { storage[offset + flatIndex(index)] }
        set {
            let i = flatIndex(index)
            withUnsafeMutableBufferPointer { $0[i] = newValue }
        }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == rank, "index \(index) for shape \(shape)")
        var flat = 0
        for (axis, i) in index.enumerated() {
            precondition(i >= 0 && i < shape[axis], "index \(index) out of shape \(shape)")
            flat = flat * shape[axis] + i
        }
        return flat
    }

    /// Equal shapes and equal elements, compared as numbers (a NaN is unequal to itself; see ``bitwiseEqual(_:)``).
    public static func == (a: Tensor, b: Tensor) -> Bool {
        a.shape == b.shape && a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in x.elementsEqual(y) } }
    }

    /// True when both tensors hold the same bytes (NaNs compare by bit pattern).
    public func bitwiseEqual(_ other: Tensor) -> Bool {
        shape == other.shape && withUnsafeBufferPointer { x in
            other.withUnsafeBufferPointer { y in
                zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern }
            }
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = withUnsafeBufferPointer { $0.prefix(8).map { String($0) }.joined(separator: ", ") }
        return "Tensor\(shape)(\(preview)\(count > 8 ? ", …" : ""))"
    }
}

/// Calls `body` with the base address of `tensor`'s elements, or nil when there is no tensor.
@inlinable
public func withOptionalMutablePointer<R>(_ tensor: inout Tensor?, _ body: (UnsafeMutablePointer<Float>?) throws -> R) rethrows -> R {
    if tensor != nil {
        return try tensor!.withUnsafeMutableBufferPointer { try body($0.baseAddress) }
    }
    return try body(nil)
}

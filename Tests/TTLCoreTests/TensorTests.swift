import Foundation
@testable import TTLCore
import XCTest
import _TestSupport

final class TensorTests: XCTestCase {
    func testViewsShareUntilWritten() {
        let t = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let r = t.reshaped([3, 2])
        XCTAssertEqual(r.shape, [3, 2])
        XCTAssertEqual(r.scalars, t.scalars)
        var second = t.batch(1 ..< 2)
        XCTAssertEqual(second.shape, [1, 3])
        XCTAssertEqual(second.scalars, [4, 5, 6])
        second[0, 1] = 50
        XCTAssertEqual(second.scalars, [4, 50, 6])
        XCTAssertEqual(t.scalars, [1, 2, 3, 4, 5, 6], "writing a view must not change the original")
        XCTAssertEqual(t[1, 2], 6)
    }

    func testShapeChecking() throws {
        XCTAssertEqual(Shape([2, 3, 4]).count, 24)
        XCTAssertEqual(Shape([2, 3, 4]).strides, [12, 4, 1])
        XCTAssertEqual(Shape([]).count, 1)
        XCTAssertThrowsError(try Shape(checking: [2, -1])) { XCTAssertEqual($0 as? ShapeError, .negativeDimension(axis: 1, value: -1)) }
        XCTAssertThrowsError(try Shape(checking: [1 << 40, 1 << 40])) {
            guard case .tooLarge = $0 as? ShapeError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try Shape(checking: [Int.max, 3]))
        XCTAssertEqual(try Shape(checking: [0, 5]).count, 0)
    }

    func testBitwiseEquality() {
        let a = Tensor(shape: [2], scalars: [.nan, 1])
        XCTAssertTrue(a.bitwiseEqual(a))
        XCTAssertNotEqual(a, a, "NaN is not == NaN")
        XCTAssertFalse(a.bitwiseEqual(Tensor(shape: [2], scalars: [.nan, 2])))
    }

    func testParallelForCoversEveryIndexOnce() {
        ComputeThreads.count = 2
        var hits = [Int](repeating: 0, count: 100_003)
        hits.withUnsafeMutableBufferPointer { h in
            parallelFor(h.count, costPerItem: 1) { h[$0] += 1 }
        }
        XCTAssertTrue(hits.allSatisfy { $0 == 1 })
    }
}

final class NPYTests: XCTestCase {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-npy-tests-\(ProcessInfo.processInfo.processIdentifier)")

    override func setUpWithError() throws { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testRoundTrip() throws {
        for shape in [[2, 3, 4], [5], [], [0, 3]] as [Shape] {
            let t = Tensor(shape: shape, scalars: (0 ..< shape.count).map { Float($0) * 0.5 - 1 })
            let url = dir.appendingPathComponent("t.npy")
            try NPY.write(t, to: url)
            XCTAssertTrue(try NPY.readTensor(url).bitwiseEqual(t), "\(shape)")
            let bytes = try Data(contentsOf: url)
            XCTAssertEqual((bytes.count - t.count * 4) % 64, 0, "header is padded to 64 bytes")
        }
    }

    /// Arrays written by NumPy itself (the fixture script): float32, float64 and int64, C and
    /// Fortran order (a transposed array is saved in Fortran order).
    func testReadsNumPyFiles() throws {
        let root = KernelGoldenTests.root
        let labels = try NPY.read(root.appendingPathComponent("cross_entropy/labels.npy"))
        XCTAssertEqual(labels.scalarType, .int64)
        XCTAssertEqual(labels.integers()?.count, 6)
        let loss = try NPY.read(root.appendingPathComponent("cross_entropy/y.npy"))
        XCTAssertEqual(loss.shape, [])
    }

    func testFortranOrderIsTransposedOnRead() throws {
        // numpy.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)) as saved by np.save
        var bytes = NPY.magic + [1, 0]
        var header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }"
        header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
        bytes += [UInt8(header.utf8.count), 0] + Array(header.utf8)
        for v: Float in [0, 3, 1, 4, 2, 5] { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        let a = try NPY.decode(bytes, file: "f.npy")
        XCTAssertEqual(a.floats(), [0, 1, 2, 3, 4, 5])
    }

    func testMalformedFilesThrowWithFileAndPlace() throws {
        let good = NPY.encode(Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]))
        func reason(_ bytes: [UInt8]) -> NPYError.Reason? {
            do { _ = try NPY.decode(bytes, file: "x.npy"); return nil } catch { return error.reason }
        }
        XCTAssertEqual(reason([]), .notNPY)
        XCTAssertEqual(reason(Array("hello world, not numpy".utf8)), .notNPY)
        XCTAssertEqual(reason(Array(good.prefix(8))), .truncated(offset: 8))
        XCTAssertEqual(reason(Array(good.prefix(40))), .truncated(offset: 40))
        XCTAssertEqual(reason(Array(good.dropLast(3))), .dataSizeMismatch(expected: 16, actual: 13))
        var v9 = good; v9[6] = 9
        XCTAssertEqual(reason(v9), .unsupportedVersion(major: 9))

        func withHeader(_ dict: String) -> [UInt8] {
            let h = dict + "\n"
            return NPY.magic + [1, 0, UInt8(h.utf8.count), 0] + Array(h.utf8) + [UInt8](repeating: 0, count: 16)
        }
        XCTAssertEqual(reason(withHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }")), .unsupportedType("<c8"))
        XCTAssertEqual(reason(withHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }")), .unsupportedType(">f4"))
        if case .malformedHeader? = reason(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, }")) {} else { XCTFail() }
        if case .malformedHeader? = reason(withHeader("not a dict")) {} else { XCTFail() }
        // A header that claims a huge array is refused before anything is allocated for it.
        if case .badShape? = reason(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }")) {} else { XCTFail() }
        XCTAssertEqual(reason(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000,), }")),
                       .dataSizeMismatch(expected: 4_000_000, actual: 16))
        if case .badShape? = reason(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }")) {} else { XCTFail() }

        XCTAssertThrowsError(try NPY.readTensor(dir.appendingPathComponent("missing.npy"))) { error in
            XCTAssertTrue("\(error)".contains("missing.npy"), "\(error)")
        }
        XCTAssertEqual("\(NPYError(file: "a.npy", reason: .truncated(offset: 8)))", "a.npy: truncated at byte 8")
    }

    /// Every truncation of a valid file throws; none crashes.
    func testEveryTruncationThrows() {
        let good = NPY.encode(Tensor(shape: [3], scalars: [1, 2, 3]))
        for n in 0 ..< good.count {
            XCTAssertThrowsError(try NPY.decode(Array(good.prefix(n)), file: "t.npy"), "prefix \(n)")
        }
    }
}

final class ParameterTreeTests: XCTestCase {
    func testPathsPrefixesAndChildren() {
        var tree = ParameterTree()
        tree["conv1.weight"] = .init(Tensor(zeros: [4, 3, 3, 3]))
        tree["bn1.running_mean"] = .init(Tensor(zeros: [4]), kind: .buffer)
        tree["layer1.0.conv1.weight"] = .init(Tensor(zeros: [4, 4, 3, 3]))
        tree["layer1.1.conv1.weight"] = .init(Tensor(zeros: [4, 4, 3, 3]))
        tree["layer10.weight"] = .init(Tensor(zeros: [2]))
        tree["fc.bias"] = .init(Tensor(zeros: [10]))

        XCTAssertEqual(tree.paths.first, "conv1.weight")
        XCTAssertEqual(tree.selecting(prefix: "layer1").paths, ["layer1.0.conv1.weight", "layer1.1.conv1.weight"])
        XCTAssertEqual(tree.children(of: "layer1"), ["0", "1"])
        XCTAssertEqual(tree.children(), ["conv1", "bn1", "layer1", "layer10", "fc"])
        XCTAssertEqual(tree.subtree("layer1.0").paths, ["conv1.weight"])
        XCTAssertEqual(tree.subtree("layer1").prefixed("layer1"), tree.selecting(prefix: "layer1"))
        XCTAssertEqual(tree.subtree(""), tree, "the empty prefix is the whole tree")
        // Concat: joining then cutting the gradient back gives the pieces, exactly, along any axis.
        var g = SeededRandom(seed: 5)
        for axis in 0 ..< 4 {
            var shapes: [Shape] = [[2, 3, 4, 5], [2, 3, 4, 5], [2, 3, 4, 5]]
            for i in 0 ..< 3 { shapes[i] = Shape(shapes[i].dimensions.enumerated().map { $0.offset == axis ? i + 1 : $0.element }) }
            let parts = shapes.map { g.pair($0).0 }
            let joined = Concat.forward(parts, axis: axis)
            XCTAssertEqual(joined.shape[axis], 6)
            XCTAssertEqual(Concat.backward(outputGradient: joined, sizes: [1, 2, 3], axis: axis), parts, "axis \(axis)")
        }
        XCTAssertNil(Concat.outputShape([[1, 2, 3], [1, 3, 3]], axis: 2), "other dimensions must agree")
        XCTAssertEqual(Flatten.outputShape([0, 512, 1, 1]), [0, 512], "an empty batch keeps its feature count")
        let nan = Tensor(shape: [1, 1, 1, 3], scalars: [1, .nan, 2])
        XCTAssertTrue(MaxPool2D.forward(nan, window: Window2D(kernel: Size2D(1, 3)), recordArgmax: false).output.scalars[0].isNaN,
                      "a NaN in the window wins at inference, as in training and PyTorch")
        XCTAssertEqual(tree.scalarCount(), 108 + 4 + 144 + 144 + 2 + 10)
        XCTAssertEqual(tree.scalarCount(of: .buffer), 4)

        tree["layer10.weight"] = nil
        XCTAssertNil(tree.tensor("layer10.weight"))
        XCTAssertEqual(tree.count, 5)
        tree["fc.bias"] = .init(Tensor(zeros: [3]))
        XCTAssertEqual(tree.paths.last, "fc.bias", "replacing keeps the position")
        XCTAssertEqual(tree.tensor("fc.bias")?.shape, [3])

        XCTAssertTrue(ParameterTree.path("layer4.0.conv1.weight", isUnder: "layer4"))
        XCTAssertFalse(ParameterTree.path("layer40.weight", isUnder: "layer4"))
        XCTAssertFalse(ParameterTree.isValidPath("a..b"))
        XCTAssertFalse(ParameterTree.isValidPath(""))
    }
}

import Foundation
import TTLCore
@testable import TTLHDF5
import TTLNN
import XCTest
import _TestSupport

/// The Keras layer registry (Sources/TTLHDF5/Layers/, issue 13): one mapping per Keras class,
/// the supported list taken from it, export dispatched through it.
final class KerasLayerRegistryTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-keras-registry-\(ProcessInfo.processInfo.processIdentifier)-\(name.hashValue)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// Each class is one mapping's, and the classes are those the README lists.
    func testEveryClassHasOneMapping() {
        let classes = KerasLayers.all.flatMap { $0.kerasClasses }
        XCTAssertEqual(classes.count, Set(classes).count)
        XCTAssertEqual(KerasLayers.supportedClasses, [
            "InputLayer", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Cropping2D", "BatchNormalization", "Activation", "ReLU",
            "LeakyReLU", "Softmax", "ZeroPadding2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
            "Add", "Multiply", "Subtract", "Concatenate", "Dense", "Flatten", "Reshape", "Dropout", "SpatialDropout2D", "Rescaling",
            "Normalization", "Permute", "TFOpLambda", "CustomScaleLayer", "LayerNormalization", "LayerScale",
        ])
        XCTAssertEqual(KerasActivations.supported,
                       ["linear", "relu", "relu6", "sigmoid", "softmax", "swish", "silu", "hard_swish", "hard_silu", "leaky_relu", "gelu"])
    }

    /// An operation Keras has no layer for names its reason; nothing is written.
    func testInexpressibleOperationNamesItsReason() throws {
        var b = GraphBuilder(seed: 1)
        let x = b.input("x", [nil, 3, 8, 8])
        let c = b.conv("conv", x, in: 3, out: 4, kernel: 3)
        let n = b.add("norm", LRNOp(LRN.Options(size: 3)), [c])
        let model = b.build(outputs: [n])
        XCTAssertThrowsError(try KerasExporter.write(model, to: folder.appendingPathComponent("x.h5"))) { e in
            XCTAssertEqual("\(e)", "node 'norm' (LRN) cannot be written as a Keras layer: no Keras layer for this operation (Keras has no local response normalization layer)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
    }
}

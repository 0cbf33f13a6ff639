import TTLCore
import TTLNN
import XCTest

/// Graphs that cannot be built or run end in typed errors naming the node and value.
final class GraphErrorTests: XCTestCase {
    let x = InputSpec(name: "x", dimensions: [nil, 2, 4, 4])

    func testConstructionErrors() {
        let relu = ActivationOp(.relu)
        XCTAssertThrowsError(try Model(inputs: [x], outputs: ["b"], nodes: [Node("b", relu, inputs: ["a"]), Node("a", relu, inputs: ["b"])], parameters: ParameterTree())) {
            guard case let .cycle(nodes) = $0 as? GraphError else { return XCTFail("\($0)") }
            XCTAssertEqual(Set(nodes), ["a", "b"])
        }
        XCTAssertThrowsError(try Model(inputs: [x], outputs: ["a"], nodes: [Node("a", relu, inputs: ["nowhere"])], parameters: ParameterTree())) {
            XCTAssertEqual($0 as? GraphError, .undefinedValue("nowhere", node: "a", op: "Relu"))
            XCTAssertEqual("\($0)", "node 'a' (Relu): input 'nowhere' is produced by no node, input or weight")
        }
        XCTAssertThrowsError(try Model(inputs: [x], outputs: ["a"], nodes: [Node("a", relu, inputs: ["x"]), Node("a", relu, inputs: ["x"])], parameters: ParameterTree())) {
            XCTAssertEqual($0 as? GraphError, .duplicateValue("a", node: "a"))
        }
        XCTAssertThrowsError(try Model(inputs: [x], outputs: ["zz"], nodes: [], parameters: ParameterTree())) {
            XCTAssertEqual($0 as? GraphError, .undefinedOutput("zz"))
        }
    }

    func testNodesGivenOutOfOrderAreSorted() throws {
        let m = try Model(inputs: [x], outputs: ["b"], nodes: [Node("b", ActivationOp(.sigmoid), inputs: ["a"]), Node("a", ActivationOp(.relu), inputs: ["x"])],
                          parameters: ParameterTree())
        XCTAssertEqual(m.nodes.map(\.name), ["a", "b"])
        let y = try m.run(["x": Tensor(repeating: -1, shape: [1, 2, 4, 4])])["b"]!
        XCTAssertEqual(y.scalars, [Float](repeating: 0.5, count: 32))
    }

    func testShapeErrorsNameTheNode() throws {
        var tree = ParameterTree()
        tree["conv.weight"] = .init(Tensor(zeros: [3, 5, 3, 3]))  // expects 5 input channels, gets 2
        let m = try Model(inputs: [x], outputs: ["conv"], nodes: [Node("conv", Conv2DOp(Conv2DOptions()), inputs: ["x", "conv.weight"])], parameters: tree)
        XCTAssertThrowsError(try m.run(["x": Tensor(zeros: [1, 2, 4, 4])])) {
            guard case let .shape(node, op, message) = $0 as? GraphError else { return XCTFail("\($0)") }
            XCTAssertEqual(node, "conv")
            XCTAssertEqual(op, "Conv")
            XCTAssertTrue(message.contains("[3, 5, 3, 3]"), message)
        }
    }
}

import Foundation
import TTL
import TTLCore
import TTLNN
import XCTest

/// `ttl import` and `ttl export` with PyTorch files (fixtures of Tests/TTLTorchTests).
final class TorchCommandTests: CommandTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("TTLTorchTests/Fixtures")

    func testImportCheckpointAndExportBothWays() throws {
        let r = try ttl("import", Self.fixtures.appendingPathComponent("resnet_basic_checkpoint.pth").path, "--name", "tiny")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, """
            imported resnet_basic_checkpoint.pth as 'tiny'
            architecture: resnet10-w4
            parameters:   20,217
            FLOPs/image:  21.22 M
            input:        input [N, 3, 224, 224] NCHW
            head:         node 'fc', 32 → 5
            images:       224×224 centre crop, mean 0.485,0.456,0.406, std 0.229,0.224,0.225

            """)
        XCTAssertEqual(r.err, "")
        let stored = try ModelStore(root: home).load("tiny")
        for name in ["tiny.safetensors", "tiny.pth"] {
            let out = home.appendingPathComponent(name).path
            let e = try ttl("export", "tiny", "--output", out)
            XCTAssertEqual(e.status, 0, e.err)
            XCTAssertEqual(e.out, "wrote \(out)\n")
            let back = try ModelFile.load(URL(fileURLWithPath: out))
            XCTAssertEqual(back.parameters.paths, stored.parameters.paths, name)
            for p in stored.parameters.paths { XCTAssertTrue(back.parameters.tensor(p)!.bitwiseEqual(stored.parameters.tensor(p)!), "\(name) \(p)") }
            XCTAssertEqual(back.metadata["preprocessing"], stored.metadata["preprocessing"], name)
        }
    }

    /// `finetune --model FILE.pth`, then export: torchvision's names with the new head.
    func testFineTuneFromACheckpointAndExport() throws {
        let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/fashion-mnist")
        let f = try ttl("finetune", "--data", data.path, "--model", Self.fixtures.appendingPathComponent("resnet_basic_checkpoint.pth").path,
                        "--epochs", "1", "--output", "tuned")
        XCTAssertEqual(f.status, 0, f.err)
        let out = home.appendingPathComponent("tuned.pth").path
        XCTAssertEqual(try ttl("export", "tuned", "--output", out).status, 0)
        let back = try ModelFile.load(URL(fileURLWithPath: out))
        XCTAssertEqual(back.parameters.tensor("fc.weight")?.shape, [10, 32])
        XCTAssertEqual(back.parameters.paths, try ModelFile.load(Self.fixtures.appendingPathComponent("resnet_basic.pth")).parameters.paths)
        XCTAssertEqual(back.metadata["labels"].map { $0.hasPrefix("[\"ankle-boot\",\"bag\"") }, true)
    }

    func testHostileFileIsOneLineAndNothingStored() throws {
        try? FileManager.default.removeItem(atPath: "/tmp/ttl_torch_pwned_system")
        let file = Self.fixtures.appendingPathComponent("bad/os_system.pth").path
        let r = try ttl("import", file)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.out, "")
        XCTAssertEqual(r.err, "ttl: \(file): pickle byte 2: refusing GLOBAL 'posix.system' (not a tensor rebuild or container; nothing was executed)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/ttl_torch_pwned_system"))
        XCTAssertEqual(try ttl("list").out.contains("os_system"), false)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("models/os_system.onnx").path))
    }
}

import Foundation
import TTLCore
import TTLNN
@testable import TTLTorch
import XCTest
import _TestSupport

/// Readers against the values torch wrote (fixtures from scripts/make_torch_fixtures.py).
final class TorchReaderTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func fixture(_ name: String) -> URL { fixtures.appendingPathComponent(name) }

    /// The expected float32 values of every floating-point tensor in tensors*.pth, by key.
    func expectedTensors() throws -> [String: Tensor] {
        let folder = Self.fixture("tensors")
        var out: [String: Tensor] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: folder.path) where f.hasSuffix(".npy") {
            out[String(f.dropLast(4))] = try NPY.readTensor(folder.appendingPathComponent(f))
        }
        return out
    }

    func checkTensors(_ file: String, format: StateDict.Format) throws {
        let state = try TorchReader.read(contentsOf: Self.fixture(file))
        XCTAssertEqual(state.format, format)
        let expected = try expectedTensors()
        XCTAssertEqual(expected.count, 13)
        XCTAssertEqual(Set(state.tree.paths), Set(expected.keys), "\(file): num_batches_tracked is skipped, everything else read")
        for (key, want) in expected {
            guard let got = state.tree.tensor(key) else { XCTFail("\(file): no \(key)"); continue }
            XCTAssertEqual(got.shape, want.shape, "\(file) \(key)")
            XCTAssertTrue(got.bitwiseEqual(want), "\(file) \(key): \(got.scalars) != \(want.scalars)")
        }
        XCTAssertEqual(state.dtypes, ["float32", "float16", "bfloat16", "float64"])
    }

    func testTensorsZip() throws { try checkTensors("tensors.pth", format: .torchZip) }
    func testTensorsZIP64() throws { try checkTensors("tensors_zip64.pth", format: .torchZip) }
    func testTensorsLegacy() throws { try checkTensors("tensors_legacy.pth", format: .torchLegacy) }
    /// Storage views of the legacy format (PyTorch before 1.0): each tensor as torch.load reads it.
    func testLegacyStorageViews() throws {
        let state = try TorchReader.read(contentsOf: Self.fixture("storage_views_legacy.pth"))
        XCTAssertEqual(state.format, .torchLegacy)
        let folder = Self.fixture("storage_views")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".npy") }
        XCTAssertEqual(Set(state.tree.paths), Set(files.map { String($0.dropLast(4)) }))
        for f in files {
            let key = String(f.dropLast(4))
            let want = try NPY.readTensor(folder.appendingPathComponent(f))
            let got = try XCTUnwrap(state.tree.tensor(key), key)
            XCTAssertEqual(got.shape, want.shape, key)
            XCTAssertTrue(got.bitwiseEqual(want), "\(key): \(got.scalars) != \(want.scalars)")
        }
        XCTAssertEqual(state.dtypes, ["float32", "float16"])
    }

    /// Read from the mapped file, whose pages are handed back as tensors are copied out (shared
    /// storages and views included), every tensor equals the one read from the bytes in memory.
    func testMappedReadWithEvictionEqualsTheBytesInMemory() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path)
            .filter { $0.hasSuffix(".pth") || $0.hasSuffix(".safetensors") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 10)
        for f in files {
            let mapped = try TorchReader.read(contentsOf: Self.fixture(f))
            let inMemory = try TorchReader.read(try Data(contentsOf: Self.fixture(f)), file: f)
            XCTAssertEqual(mapped.tree.paths, inMemory.tree.paths, f)
            XCTAssertEqual(mapped.format, inMemory.format, f)
            for p in inMemory.tree.paths {
                XCTAssertTrue(mapped.tree.tensor(p)!.bitwiseEqual(inMemory.tree.tensor(p)!), "\(f): \(p)")
            }
        }
    }

    /// Evicted pages of a mapping read the file again.
    func testEvictedPagesReadTheFileAgain() throws {
        let url = Self.fixture("resnet_basic.pth")
        let bytes = try Bytes.mapping(url)
        let expected = try Data(contentsOf: url)
        XCTAssertTrue(bytes.data == expected)
        bytes.evict(bytes.data)
        bytes.evict(bytes.data[bytes.data.startIndex + 5000 ..< bytes.data.startIndex + 9000])
        XCTAssertTrue(bytes.data == expected)
        // Bytes in memory (not a mapping made by Bytes.mapping) are left alone.
        let plain = Bytes(Data(expected))
        plain.evict(plain.data)
        XCTAssertTrue(plain.data == expected)
    }

    func testTensorsSafetensors() throws {
        try checkTensors("tensors.safetensors", format: .safetensors)
        XCTAssertEqual(try TorchReader.read(contentsOf: Self.fixture("tensors.safetensors")).metadata, ["note": "contiguous copies"])
    }

    func testDetectionOfEveryTorchvisionResNet() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixture("arch_keys.json"))) as? [String: [[Any]]]
        let archs = try XCTUnwrap(json)
        XCTAssertEqual(archs.count, 9)
        for (name, pairs) in archs {
            var shapes: [String: [Int]] = [:]
            for p in pairs { if let k = p[0] as? String, let s = p[1] as? [Int] { shapes[k] = s } }
            switch TorchArchitecture.detect(shapes) {
            case let .success(a):
                XCTAssertEqual(a.name, name)
                XCTAssertEqual(a.configuration.classes, 1000)
                if let c = ResNet.named[name] {
                    XCTAssertEqual(a.configuration.layers, c.layers, name)
                    XCTAssertEqual(a.configuration.groups, c.groups, name)
                    XCTAssertEqual(a.configuration.widthPerGroup, c.widthPerGroup, name)
                }
                if ["resnet18", "resnext50_32x4d", "wide_resnet50_2"].contains(name) {
                    // The built network has exactly the state dict's keys and shapes (less the counters).
                    let model = ResNet.build(a.configuration)
                    let built = Dictionary(uniqueKeysWithValues: model.parameters.entriesInOrder.map { ($0.path, $0.entry.tensor.shape.dimensions) })
                    XCTAssertEqual(built, shapes.filter { !$0.key.hasSuffix("num_batches_tracked") }, name)
                }
            case let .failure(f): XCTFail("\(name): \(f.message)")
            }
        }
    }
}

/// Whole tiny networks: each file imports onto the detected architecture and gives PyTorch's logits.
final class TorchModelTests: XCTestCase {
    func logits(_ model: Model) throws -> Tensor {
        let x = try NPY.readTensor(TorchReaderTests.fixture("x.npy"))
        return try XCTUnwrap(try model.run([model.inputs[0].name: x])[model.outputs[0]])
    }

    func check(_ file: String, logits expected: String, architecture: String, tolerance: Float = 1e-4) throws -> Model {
        let model = try TorchImporter.load(contentsOf: TorchReaderTests.fixture(file), imageSize: 32)
        XCTAssertEqual(model.metadata["architecture.name"], architecture, file)
        let reference = try NPY.readTensor(TorchReaderTests.fixture(expected))
        try forEachEngine { engine in
            assertModelOutput(try logits(model), reference, relativeTolerance: tolerance, "\(file) [\(engine.rawValue)]")
        }
        return model
    }

    func testResNetInEveryFormat() throws {
        for file in ["resnet_basic.pth", "resnet_basic_legacy.pth", "resnet_basic.safetensors"] {
            _ = try check(file, logits: "resnet_basic_logits.npy", architecture: "resnet10-w4")
        }
        _ = try check("resnet_basic_f16.pth", logits: "resnet_basic_logits_f16.npy", architecture: "resnet10-w4")
        _ = try check("resnet_basic_bf16.safetensors", logits: "resnet_basic_logits_bf16.npy", architecture: "resnet10-w4")
    }

    func testTrainingCheckpointWithModulePrefix() throws {
        let m = try check("resnet_basic_checkpoint.pth", logits: "resnet_basic_logits.npy", architecture: "resnet10-w4")
        XCTAssertEqual(m.metadata["pytorch.state_dict_key"], "model_state_dict")
    }

    func testResNeXt() throws {
        let m = try check("resnext_tiny.pth", logits: "resnext_tiny_logits.npy", architecture: "resnext14_2x16d-w8")
        XCTAssertEqual(m.metadata["pytorch.format"], "torch.save zip")
    }

    func testEfficientNetLiteUnderTimmAndEfficientNetPytorchNames() throws {
        func load(_ file: String, _ arch: String?) throws -> Model {
            try TorchImporter.load(contentsOf: TorchReaderTests.fixture(file), architecture: arch, imageSize: 32)
        }
        for (file, arch, name) in [("effnet_tf_tiny.pth", "tf_efficientnet_lite0", "tf_efficientnet_lite_8x1_8x1_16x1_24x2_32x2_48x2_80x1"),
                                   ("effnet_pt_tiny.safetensors", "efficientnet_lite0", "efficientnet_lite_8x1_8x1_16x1_24x2_32x2_48x2_80x1"),
                                   ("effnet_lukemelas_tiny.pth", nil, "efficientnet-lite-8x1-12x2-16x1-20x2-24x1-28x2-32x1")] {
            let model = try load(file, arch)
            XCTAssertEqual(model.metadata["architecture.name"], name, file)
            let stem = file.split(separator: ".")[0]
            assertModelOutput(try logits(model), try NPY.readTensor(TorchReaderTests.fixture("\(stem)_logits.npy")), relativeTolerance: 1e-4, file)
        }
        // timm's names fit both variants: the one meant must be named.
        XCTAssertThrowsError(try load("effnet_tf_tiny.pth", nil)) { e in
            guard let e = e as? TorchImportError, case let .architecture(m) = e.reason else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("--arch tf_efficientnet_lite0"), m)
        }
        // The wrong variant loads (same keys) but does not compute the same logits: the padding differs.
        let wrong = try load("effnet_tf_tiny.pth", "efficientnet_lite0")
        let expected = try NPY.readTensor(TorchReaderTests.fixture("effnet_tf_tiny_logits.npy"))
        XCTAssertGreaterThan(zip(try logits(wrong).scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0, 1e-3)
    }

    /// timm's full-size tf_efficientnet_lite0 keys rename onto ttl's EfficientNet-Lite0 exactly, and back in timm's order.
    func testTimmNamesOfFullSizeLite0() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: TorchReaderTests.fixture("timm_keys.json"))) as? [[Any]]
        let pairs = try XCTUnwrap(json).compactMap { p -> (String, [Int])? in
            guard let k = p[0] as? String, let s = p[1] as? [Int], !k.hasSuffix("num_batches_tracked") else { return nil }
            return (k, s)
        }
        let map = TorchEfficientNet.fromTimm(pairs.map(\.0))
        XCTAssertEqual(map.count, pairs.count, "every timm key has a ttl name")
        let renamed = Dictionary(uniqueKeysWithValues: pairs.map { (map[$0.0] ?? $0.0, $0.1) })
        guard case let .success((c, lengths)) = TorchEfficientNet.detect(renamed) else { return XCTFail("not detected") }
        XCTAssertEqual(TorchEfficientNet.variantName(c), "lite0")
        XCTAssertEqual(lengths, [1, 2, 2, 3, 3, 4, 1])
        var model = EfficientNetLite.build(c)
        let built = Dictionary(uniqueKeysWithValues: model.parameters.entriesInOrder.map { ($0.path, $0.entry.tensor.shape.dimensions) })
        XCTAssertEqual(built, renamed)
        model.metadata["pytorch.naming"] = "timm"
        model.metadata["pytorch.stages"] = lengths.map(String.init).joined(separator: ",")
        XCTAssertEqual(TorchExporter.stateDict(of: model).paths, pairs.map(\.0), "exported under timm's names, in timm's order")
    }

    func testNamedArchitectureThatDoesNotFitListsTheKeys() throws {
        XCTAssertThrowsError(try TorchImporter.load(contentsOf: TorchReaderTests.fixture("resnet_basic.pth"), architecture: "resnet50", imageSize: 32)) { e in
            guard let e = e as? TorchImportError, case let .load(report) = e.reason else { return XCTFail("\(e)") }
            XCTAssertFalse(report.missing.isEmpty)
            XCTAssertFalse(report.mismatched.isEmpty)
            XCTAssertTrue(e.description.hasPrefix(TorchReaderTests.fixture("resnet_basic.pth").path + ": "), e.description)
        }
        XCTAssertThrowsError(try TorchImporter.load(contentsOf: TorchReaderTests.fixture("tensors.pth"))) { e in
            guard let e = e as? TorchImportError, case .architecture = e.reason else { return XCTFail("\(e)") }
        }
    }

    /// Export → re-read, as safetensors and as a torch.save zip: the same names in the source's
    /// order, bit-identical weights, the metadata, and the same logits. With TTL_TORCH_EXPORT_DIR
    /// set the files stay there (scripts/check_torch_export.py loads them into PyTorch).
    func testExportRoundTrip() throws {
        let keep = ProcessInfo.processInfo.environment["TTL_TORCH_EXPORT_DIR"]
        let folder = keep.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("ttl-torch-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { if keep == nil { try? FileManager.default.removeItem(at: folder) } }
        let metadata = ["labels": "[\"a\",\"b\"]", "preprocessing": "{\"size\":32}"]
        for (source, arch) in [("resnet_basic.pth", nil), ("effnet_tf_tiny.pth", "tf_efficientnet_lite0")] {
            let model = try TorchImporter.load(contentsOf: TorchReaderTests.fixture(source), architecture: arch, imageSize: 32)
            let original = try TorchReader.read(contentsOf: TorchReaderTests.fixture(source))
            let stem = source.split(separator: ".")[0]
            let exported = TorchExporter.stateDict(of: model)
            for name in ["\(stem).safetensors", "\(stem).pth"] {
                let url = folder.appendingPathComponent(name)
                try TorchExporter.write(exported, metadata: metadata, to: url)
                let back = try TorchReader.read(contentsOf: url)
                XCTAssertEqual(back.metadata, metadata, name)
                XCTAssertEqual(back.tree.paths, original.tree.paths, "\(name): the source's own names, in its order")
                for p in exported.paths { XCTAssertTrue(back.tree.tensor(p)!.bitwiseEqual(exported.tensor(p)!), p) }
                let again = try TorchImporter.model(from: back, file: url.path, architecture: arch, imageSize: 32)
                XCTAssertTrue(try logits(again).bitwiseEqual(try logits(model)), name)
                if keep != nil { try NPY.write(try logits(model), to: folder.appendingPathComponent("\(stem)_ttl_logits.npy")) }
            }
        }
    }
}

/// Every malformed or hostile file is a typed error naming the file; nothing in a pickle runs.
final class TorchBadInputTests: XCTestCase {
    func testEveryBadInputIsATypedError() throws {
        let folder = TorchReaderTests.fixture("bad")
        let expected = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("expected.json"))) as? [String: String])
        XCTAssertGreaterThanOrEqual(expected.count, 33)
        let marks = ["/tmp/ttl_torch_pwned_system", "/tmp/ttl_torch_pwned_eval"]
        for m in marks { try? FileManager.default.removeItem(atPath: m) }
        for (file, reason) in expected.sorted(by: { $0.key < $1.key }) {
            let url = folder.appendingPathComponent(file)
            do {
                _ = try TorchImporter.load(contentsOf: url)
                XCTFail("\(file) imported")
            } catch {
                let e = error
                if ProcessInfo.processInfo.environment["TTL_PRINT_ERRORS"] != nil { print(e.description) }
                let name = String(String(describing: e.reason).prefix { $0 != "(" })
                XCTAssertEqual(name, reason, "\(file): \(e)")
                XCTAssertTrue(e.description.hasPrefix(url.path + ": "), e.description)
                XCTAssertFalse(e.description.contains("\n"), e.description)
            }
        }
        for m in marks { XCTAssertFalse(FileManager.default.fileExists(atPath: m), "\(m) exists: something ran") }
    }

    /// Every prefix of a valid checkpoint and single flipped bytes fail cleanly or read, never trap.
    func testTruncationsAndFlippedBytesNeverTrap() throws {
        for file in ["tensors.pth", "tensors_zip64.pth", "tensors_legacy.pth", "storage_views_legacy.pth", "tensors.safetensors"] {
            let data = try Data(contentsOf: TorchReaderTests.fixture(file))
            for n in stride(from: 0, to: data.count, by: max(1, data.count / 300)) {
                XCTAssertThrowsError(try TorchReader.read(data.prefix(n), file: file), "\(file) cut at \(n)")
            }
            var rng = SplitMix64(seed: 9)
            for _ in 0 ..< 300 {
                var d = data
                let i = Int(rng.next() % UInt64(d.count))
                d[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                _ = try? TorchReader.read(d, file: file)
            }
        }
    }

    func testPickleCaps() throws {
        // 100 nested EMPTY_LIST + APPEND levels exceed the nesting cap.
        var p: [UInt8] = [0x80, 0x02]
        for _ in 0 ..< 100 { p.append(0x5D) }
        for _ in 0 ..< 99 { p.append(0x61) }
        p.append(0x2E)
        XCTAssertThrowsError(try PickleReader(p, file: "nested", persistentLoad: { _, _ in .none }).read()) { e in
            guard let e = e as? TorchImportError, case .pickle = e.reason else { return XCTFail("\(e)") }
        }
        // Memoised tuples of tuples: a DAG whose tree would have 200^60 nodes; depth checks stay O(1).
        var dag: [UInt8] = [0x80, 0x02, 0x29, 0x71, 0x00]
        for _ in 0 ..< 60 {
            dag.append(0x28)
            for _ in 0 ..< 200 { dag += [0x68, 0x00] }
            dag += [0x74, 0x71, 0x00]
        }
        dag.append(0x2E)
        let start = Date()
        XCTAssertThrowsError(try PickleReader(dag, file: "dag", persistentLoad: { _, _ in .none }).read())
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        // A string longer than the pickle.
        XCTAssertThrowsError(try PickleReader([0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E], file: "long", persistentLoad: { _, _ in .none }).read())
        // A LONG1 of 200 bytes.
        XCTAssertThrowsError(try PickleReader([0x80, 0x02, 0x8A, 200] + [UInt8](repeating: 1, count: 200) + [0x2E], file: "long1", persistentLoad: { _, _ in .none }).read())
    }
}

/// Full-size ResNet-50 (98 MB), opt-in: TTL_TORCH_RESNET50=FOLDER with ttl_r50.pth,
/// ttl_r50_legacy.pth, ttl_r50.safetensors, ttl_r50_x.npy and ttl_r50_y.npy (torchvision's
/// resnet50(weights=None) saved three ways, an input and its logits).
final class TorchFullSizeTests: XCTestCase {
    func testResNet50() throws {
        guard let dir = ProcessInfo.processInfo.environment["TTL_TORCH_RESNET50"] else { throw XCTSkip("set TTL_TORCH_RESNET50") }
        let folder = URL(fileURLWithPath: dir)
        let x = try NPY.readTensor(folder.appendingPathComponent("ttl_r50_x.npy"))
        let y = try NPY.readTensor(folder.appendingPathComponent("ttl_r50_y.npy"))
        for f in ["ttl_r50.pth", "ttl_r50_legacy.pth", "ttl_r50.safetensors"] {
            let start = Date()
            let state = try TorchReader.read(contentsOf: folder.appendingPathComponent(f))
            let read = Date().timeIntervalSince(start)
            let model = try TorchImporter.model(from: state, file: f)
            print("\(f): read \(String(format: "%.3f", read)) s, read + build + load \(String(format: "%.3f", Date().timeIntervalSince(start))) s")
            XCTAssertEqual(model.metadata["architecture.name"], "resnet50")
            assertModelOutput(try XCTUnwrap(try model.run([model.inputs[0].name: x])[model.outputs[0]]), y, relativeTolerance: 1e-4, f)
        }
    }
}

import Foundation
import TTL
import TTLCore
@testable import TTLFineTune
import TTLNN
import XCTest
import _TestSupport

/// A small Fashion-MNIST dataset (train/ and val/ of three classes) under `root`.
func makeSmallDataset(at root: URL, train: Int = 8, validation: Int = 3) throws {
    let source = DefaultModelTests.checkout.appendingPathComponent("examples/fashion-mnist")
    for (split, count) in [("train", train), ("val", validation)] {
        for c in ["bag", "sneaker", "trouser"] {
            let dir = root.appendingPathComponent("\(split)/\(c)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let files = try FileManager.default.contentsOfDirectory(atPath: source.appendingPathComponent("\(split)/\(c)").path).sorted().prefix(count)
            for f in files { try FileManager.default.copyItem(at: source.appendingPathComponent("\(split)/\(c)/\(f)"), to: dir.appendingPathComponent(f)) }
        }
    }
}

/// Shards of a dataset and the checked cache entries they are computed into.
final class ShardedFeaturesTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-shards-\(ProcessInfo.processInfo.processIdentifier)-\(name.hashValue)")
        try? FileManager.default.removeItem(at: folder)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    func testShardParsing() {
        XCTAssertEqual(Shard(parsing: "3/16"), Shard(index: 3, count: 16))
        XCTAssertEqual(Shard(parsing: "0/1"), .all)
        for bad in ["4/4", "-1/4", "1/0", "1", "a/4", "1/4/2", "", "/4"] { XCTAssertNil(Shard(parsing: bad), bad) }
    }

    /// Every image is in exactly one shard, the shards are near even, and adding images (or
    /// another class) moves none of those already there.
    func testShardsPartitionAndAreStable() {
        let paths = (0 ..< 2000).map { "train/class\($0 % 7)/img-\($0).jpg" }
        let n = 8
        var sizes = [Int](repeating: 0, count: n)
        for p in paths {
            let k = Shard.index(of: p, count: n)
            sizes[k] += 1
            XCTAssertEqual((0 ..< n).filter { Shard(index: $0, count: n)!.contains(p) }, [k])
        }
        XCTAssertTrue(sizes.allSatisfy { abs($0 - 250) < 60 }, "near even: \(sizes)")
        // The hash of a path depends only on the path: a larger dataset assigns the same shards.
        let more = paths + (0 ..< 500).map { "train/new/img-\($0).jpg" }
        XCTAssertEqual(more.prefix(paths.count).map { Shard.index(of: $0, count: n) }, paths.map { Shard.index(of: $0, count: n) })
    }

    /// ImageFolder with a shard keeps that shard's images of the whole dataset, the classes
    /// of the whole dataset, and the shards together are the dataset.
    func testImageFolderShards() throws {
        try makeSmallDataset(at: folder, train: 10, validation: 4)
        let whole = try ImageFolder(root: folder)
        var union: [String] = []
        for k in 0 ..< 3 {
            let part = try ImageFolder(root: folder, shard: Shard(index: k, count: 3)!)
            XCTAssertEqual(part.classes, whole.classes)
            for s in part.allSamples { XCTAssertEqual(Shard.index(of: part.relativePath(of: s), count: 3), k) }
            union += part.allSamples.map(\.url.path)
        }
        XCTAssertEqual(union.sorted(), whole.allSamples.map(\.url.path).sorted())
        XCTAssertEqual(whole.relativePath(of: whole.train[0]), "train/bag/" + whole.train[0].url.lastPathComponent)
    }

    /// A cache entry is read back only when whole and intact: truncated, torn, flipped,
    /// foreign or of another feature count, it reads as missing (and is computed again).
    func testCacheEntriesAreChecked() throws {
        let features: [Float] = [1.5, -2, .pi, 0, 1e-30]
        let cache = FeatureCache(folder: folder)
        cache.store("b", "img", features)
        XCTAssertEqual(cache.load("b", "img", count: 5), features)
        XCTAssertNil(cache.load("b", "img", count: 4))
        let url = cache.file("b", "img")!
        let good = try Data(contentsOf: url)
        XCTAssertEqual(good.count, FeatureCache.headerBytes + 20)
        var damaged: [Data] = [good.prefix(good.count - 1), good.prefix(10), Data(), good + Data([0])]
        for i in [0, 5, 9, 17, good.count - 1] {
            var d = good
            d[i] ^= 0x10
            damaged.append(d)
        }
        var legacy = Data()  // the headerless format of earlier versions
        features.withUnsafeBytes { legacy.append(contentsOf: $0) }
        damaged.append(legacy)
        for (i, d) in damaged.enumerated() {
            try d.write(to: url)
            XCTAssertNil(cache.load("b", "img", count: 5), "damaged entry \(i)")
            XCTAssertFalse(cache.contains("b", "img", count: 5), "damaged entry \(i)")
        }
        // A writer killed between write and rename leaves only a temporary, which readers ignore
        // and which is removed once stale.
        let leftover = cache.temporaryFolder("b")!.appendingPathComponent("img.host.1.2.tmp").path
        XCTAssertTrue(FileManager.default.fileExists(atPath: cache.temporaryFolder("b")!.path))
        try good.write(to: URL(fileURLWithPath: leftover))
        XCTAssertEqual(cache.removeStaleTemporaries("b"), 0, "a fresh temporary may belong to a live writer")
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: leftover)
        XCTAssertEqual(cache.removeStaleTemporaries("b"), 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: leftover))
    }

    /// An image's features are the same bits whichever images it goes through the backbone
    /// with: all at once, or in shards of different sizes (short batches are padded), on the
    /// oneDNN engine; on the reference kernels, the same to float rounding. This is what lets
    /// shards on many machines give one run's model.
    func testFeaturesDoNotDependOnBatchMates() throws {
        try makeSmallDataset(at: folder.appendingPathComponent("data"), train: 12, validation: 3)
        let model = try DefaultModelTests.model.get()
        let data = try ImageFolder(root: folder.appendingPathComponent("data"))
        XCTAssertEqual(data.allSamples.count, 45)
        let extractor = try FeatureExtractor(backbone: model, preprocessing: Classifier.preprocessing(of: model))
        try forEachEngine { engine in
            let all = try extractor.features(of: data.allSamples, cache: FeatureCache(folder: nil))
            var byShard = [Float](repeating: .nan, count: all.count)
            for k in 0 ..< 4 {
                let indices = data.allSamples.indices.filter { Shard.index(of: data.relativePath(of: data.allSamples[$0]), count: 4) == k }
                let part = try extractor.features(of: indices.reversed().map { data.allSamples[$0] }, cache: FeatureCache(folder: nil))
                for (j, i) in indices.reversed().enumerated() {
                    byShard.replaceSubrange(i * extractor.count ..< (i + 1) * extractor.count, with: part[j * extractor.count ..< (j + 1) * extractor.count])
                }
            }
            let f = extractor.count
            let differing = data.allSamples.indices.filter { i in
                !zip(all[i * f ..< (i + 1) * f], byShard[i * f ..< (i + 1) * f]).allSatisfy { $0.bitPattern == $1.bitPattern }
            }
            let largest = zip(all, byShard).map { abs($0 - $1) }.max() ?? 0
            if engine == .oneDNN {
                XCTAssertEqual(differing, [], "[\(engine.rawValue)] images whose features differ (by up to \(largest))")
            } else {
                // The reference kernels' batched GEMMs (BLAS) may sum a row in another order
                // at another position in the batch: equal only to float rounding there.
                assertClose(Tensor(shape: [byShard.count], scalars: byShard), Tensor(shape: [all.count], scalars: all), atol: 1e-5, rtol: 1e-5,
                            "[\(engine.rawValue)] by shard")
            }
        }
    }
}

/// `ttl features` as a user runs it.
final class FeaturesCommandTests: CommandTestCase {
    /// Four shards, one after another as four machines would run them, then `ttl finetune`
    /// from their cache: the same model file, byte for byte, as one `ttl finetune` alone; the
    /// fine-tune computes nothing; a shard run again computes nothing.
    func testShardsThenFinetuneEqualOneRun() throws {
        let data = home.appendingPathComponent("data"), shared = home.appendingPathComponent("shared-cache")
        try makeSmallDataset(at: data)
        var total = 0
        for k in 0 ..< 4 {
            let r = try ttl("features", "--data", data.path, "--shard", "\(k)/4", "--cache", shared.path)
            XCTAssertEqual(r.status, 0, r.err)
            let computed = try XCTUnwrap(r.out.split(separator: "\n").last.flatMap { line in
                line.hasPrefix("shard \(k)/4: ") ? Int(line.split(separator: " ")[2]) : nil }, r.out)
            total += computed
        }
        XCTAssertEqual(total, 33, "each image in exactly one shard")
        let again = try ttl("features", "--data", data.path, "--shard", "2/4", "--cache", shared.path)
        XCTAssertTrue(again.out.contains("shard 2/4: 0 computed"), again.out)

        let status = try ttl("features", "--data", data.path, "--cache", shared.path, "--status", "--array-size", "4")
        XCTAssertEqual(status.status, 0, status.err)
        XCTAssertEqual(status.out.split(separator: "\n").filter { $0.hasSuffix("complete") }.count, 5, status.out)
        XCTAssertTrue(status.out.contains("all: 33 images, 33 cached, complete"), status.out)

        let sharded = home.appendingPathComponent("sharded.onnx"), single = home.appendingPathComponent("single.onnx")
        let a = try ttl("finetune", "--data", data.path, "--cache", shared.path, "--epochs", "3", "--output", sharded.path, "--threads", "1")
        XCTAssertEqual(a.status, 0, a.err)
        XCTAssertTrue(a.out.contains("features: 0 computed, 33 from the cache"), "no image went through the backbone: \(a.out)")
        let b = try ttl("finetune", "--data", data.path, "--epochs", "3", "--output", single.path)
        XCTAssertEqual(b.status, 0, b.err)
        XCTAssertEqual(try Data(contentsOf: sharded), try Data(contentsOf: single), "sharded and single-machine models")
    }

    /// A damaged entry (a torn write on a shared file system) is reported missing and computed again.
    func testStatusFindsDamagedEntries() throws {
        let data = home.appendingPathComponent("data"), cache = home.appendingPathComponent("c")
        try makeSmallDataset(at: data, train: 2, validation: 1)
        XCTAssertEqual(try ttl("features", "--data", data.path, "--cache", cache.path).status, 0)
        let entries = try FileManager.default.subpathsOfDirectory(atPath: cache.path).filter { $0.hasSuffix(".f32") }.sorted()
        XCTAssertEqual(entries.count, 9)
        let victim = cache.appendingPathComponent(entries[4])
        let bytes = try Data(contentsOf: victim)
        try bytes.prefix(bytes.count / 2).write(to: victim)
        let status = try ttl("features", "--data", data.path, "--cache", cache.path, "--status")
        XCTAssertTrue(status.out.contains("all: 9 images, 8 cached, 1 missing"), status.out)
        let rerun = try ttl("features", "--data", data.path, "--cache", cache.path)
        XCTAssertTrue(rerun.out.contains("1 computed, 8 already cached"), rerun.out)
        XCTAssertEqual(try Data(contentsOf: victim), bytes, "recomputed to the same bits")
    }

    /// `--slurm --dry-run` prints an array script whose task K runs shard K of N (N written
    /// in, so that a task resubmitted alone still knows it), with absolute paths, and the
    /// dependent fine-tune.
    func testSlurmDryRun() throws {
        let data = home.appendingPathComponent("data")
        try makeSmallDataset(at: data, train: 2, validation: 1)
        let r = try ttl("features", "--data", data.path, "--slurm", "--array-size", "16", "--partition", "cpu", "--cpus-per-task", "8",
                        "--sbatch", "--mem=8G", "--size", "224", "--then-finetune", "--epochs 10 --output birds", "--dry-run")
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        for expected in ["#SBATCH --array=0-15", "#SBATCH --partition=cpu", "#SBATCH --cpus-per-task=8", "#SBATCH --mem=8G", "SHARDS=16",
                         "export TTL_HOME=\(home.path)", "#SBATCH --job-name=ttl-finetune"] {
            XCTAssertTrue(lines.contains(expected), "\(expected) in:\n\(r.out)")
        }
        let features = try XCTUnwrap(lines.first { $0.hasPrefix("exec ") && $0.contains(" features ") })
        XCTAssertTrue(features.hasPrefix("exec /"), "absolute ttl: \(features)")
        XCTAssertTrue(features.contains("--data \(data.path) ") && features.contains("--size 224"), features)
        XCTAssertTrue(features.contains("--cache \(home.path)/cache/features"), features)
        XCTAssertTrue(features.contains("--shard \"$SLURM_ARRAY_TASK_ID/$SHARDS\""), features)
        let finetune = try XCTUnwrap(lines.first { $0.hasPrefix("exec ") && $0.contains(" finetune ") })
        XCTAssertTrue(finetune.hasSuffix("--epochs 10 --output birds") && finetune.contains("--size 224"), finetune)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("slurm").path), "a dry run writes nothing")
    }

    func testBadOptions() throws {
        let data = home.appendingPathComponent("data")
        try makeSmallDataset(at: data, train: 2, validation: 1)
        for (args, message) in [(["--shard", "4/4"], "--shard takes K/N"), (["--shard", "x"], "--shard takes K/N"),
                                (["--slurm"], "--slurm needs --array-size"), (["--array-size", "4"], "--array-size needs --slurm or --status"),
                                (["--dry-run"], "--dry-run needs --slurm"),
                                (["--slurm", "--array-size", "2", "--then-finetune", "--data x", "--dry-run"], "--data comes from this command"),
                                (["--slurm", "--array-size", "2", "--tasks", "1;rm", "--dry-run"], "--tasks takes")] {
            let r = try ttl(["features", "--data", data.path] + args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.err.contains(message), "\(args): \(r.err)")
        }
        let r = try ttl("features", "--data", home.appendingPathComponent("nowhere").path)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.hasPrefix("ttl: ") && r.err.contains("nowhere"), r.err)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
    }
}

// The ImageFolder layout: DIR/<class>/*.{jpg,jpeg,png}, either with train/ and val/ folders
// or split here (stratified, seeded). Classes are the sorted folder names.
import Foundation
import TTLCore

/// A labelled image file.
public struct Sample: Sendable, Equatable {
    /// The image file.
    public var url: URL
    /// Index of its class in ``ImageFolder/classes``.
    public var label: Int
    /// A sample of `url` labelled `label`.
    public init(url: URL, label: Int) { self.url = url; self.label = label }
}

/// A dataset that cannot be used, named by its folder or file.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    /// The path is not a folder.
    case notAFolder(String)
    /// Fewer than two class folders with images (those found).
    case tooFewClasses(String, found: [String])
    /// A class folder without one readable image.
    case emptyClass(String)
    /// Images that cannot be read, with `strict` (each with its reason).
    case unreadableImages([String])
    /// An image whose header claims absurd dimensions (the message names it).
    case absurdImage(String)

    /// One line naming the folder or file.
    public var description: String {
        switch self {
        case let .notAFolder(p): "\(p): not a folder of class folders"
        case let .tooFewClasses(p, found):
            "\(p): \(found.count) class folder\(found.count == 1 ? "" : "s") with images (\(found.joined(separator: ", "))); fine-tuning needs at least two"
        case let .emptyClass(p): "\(p): no readable image (.jpg, .jpeg, .png) in this class folder"
        case let .unreadableImages(list): "\(list.count) unreadable image\(list.count == 1 ? "" : "s"): \(list.prefix(5).joined(separator: "; "))\(list.count > 5 ? "; …" : "")"
        case let .absurdImage(m): m
        }
    }
}

/// A labelled image dataset: DIR/<class>/*.jpg|png, with its training and validation samples.
public struct ImageFolder: Sendable {
    /// File extensions read as images (lower case).
    public static let extensions: Set<String> = ["jpg", "jpeg", "png"]
    /// The dataset folder.
    public let root: URL
    /// The class names: the class folders, sorted; a sample's label indexes this.
    public let classes: [String]
    /// Training samples, by label then path.
    public var train: [Sample]
    /// Validation samples, by label then path (empty without a split or val/ folder).
    public var validation: [Sample]
    /// Files skipped because their header could not be read (each with its reason).
    public var skipped: [String] = []

    /// Scans `root`. With `train/` and `val/` (or `validation/`) subfolders those are the split;
    /// otherwise `validationSplit` of each class (at least one image when the class has two or more)
    /// goes to validation, chosen with `seed`. Headers are read up front: unreadable files are
    /// skipped (or fatal with `strict`), an image claiming absurd dimensions is an error.
    /// With a `shard`, only the images of that shard are kept (and read): the class list
    /// stays the whole dataset's.
    public init(root: URL, validationSplit: Double = 0.2, seed: UInt64 = 0, strict: Bool = false, shard: Shard = .all) throws(DatasetError) {
        self.root = root
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else { throw .notAFolder(root.path) }
        let sub = Self.folders(root)
        let valName = sub.contains("val") ? "val" : sub.contains("validation") ? "validation" : nil
        var skipped: [String] = []
        if sub.contains("train"), let valName {
            let trainRoot = root.appendingPathComponent("train"), valRoot = root.appendingPathComponent(valName)
            let classes = Self.folders(trainRoot)
            let train = try Self.scan(trainRoot, classes, &skipped, shard: shard, prefix: "train/")
            let val = try Self.scan(valRoot, classes, &skipped, allowMissing: true, shard: shard, prefix: valName + "/")
            self.classes = classes
            self.train = train.flatMap { $0 }
            self.validation = val.flatMap { $0 }
        } else {
            let classes = sub
            let perClass = try Self.scan(root, classes, &skipped, shard: shard)
            var rng = SplitMix64(seed: seed)
            var train: [Sample] = [], val: [Sample] = []
            for samples in perClass {
                var s = samples
                for i in stride(from: s.count - 1, to: 0, by: -1) { s.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
                var k = Int((Double(s.count) * validationSplit).rounded())
                if validationSplit > 0 && s.count >= 2 { k = min(max(k, 1), s.count - 1) }
                val += s.prefix(k)
                train += s.dropFirst(k)
            }
            self.classes = classes
            self.train = train.sorted { ($0.label, $0.url.path) < ($1.label, $1.url.path) }
            self.validation = val.sorted { ($0.label, $0.url.path) < ($1.label, $1.url.path) }
        }
        if strict && !skipped.isEmpty { throw .unreadableImages(skipped) }
        self.skipped = skipped
    }

    static func folders(_ url: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { name in
            var d: ObjCBool = false
            return !name.hasPrefix(".") && FileManager.default.fileExists(atPath: url.appendingPathComponent(name).path, isDirectory: &d) && d.boolValue
        }.sorted()
    }

    /// Per class, its readable images (headers checked), sorted by path.
    static func scan(_ root: URL, _ classes: [String], _ skipped: inout [String], allowMissing: Bool = false,
                     shard: Shard = .all, prefix: String = "") throws(DatasetError) -> [[Sample]] {
        var result: [[Sample]] = []
        var withImages: [String] = []
        for (label, name) in classes.enumerated() {
            let dir = root.appendingPathComponent(name)
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
                .filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) && !$0.hasPrefix(".") }.sorted()
            let inShard = shard.count == 1 ? files : files.filter { shard.contains(prefix + name + "/" + $0) }
            var samples: [Sample] = []
            for f in inShard {
                let url = dir.appendingPathComponent(f)
                do {
                    try ImageDecoder.validate(contentsOf: url)
                    samples.append(Sample(url: url, label: label))
                } catch {
                    if case .absurdDimensions = error.reason { throw .absurdImage(error.description) }
                    skipped.append(error.description)
                }
            }
            if files.isEmpty && !allowMissing || samples.isEmpty && !allowMissing && shard.count == 1 { throw .emptyClass(dir.path) }
            if !samples.isEmpty { withImages.append(name) }
            result.append(samples)
        }
        if !allowMissing && classes.count < 2 { throw .tooFewClasses(root.path, found: withImages) }
        return result
    }
}

extension ImageDecoder {
    /// Checks that a file decodes, cheaply: JPEGs at their smallest DCT scale, PNGs fully
    /// (libpng has no reduced decode); dimensions are checked from the header first.
    public static func validate(contentsOf url: URL) throws(ImageError) {
        _ = try decode(contentsOf: url, atLeast: (1, 1))
    }
}

// Multi-label datasets: every image carries any number of the labels (a dog *and* a traffic
// cone). Two layouts:
//   - a CSV file `file,labels` (header optional; paths relative to the data folder; labels
//     separated by spaces or semicolons; RFC 4180 quoting, so a path may hold commas);
//   - folder per label, DIR/<label>/<file>, where the same file name under several label
//     folders is one image carrying all of those labels (the copy under the first label
//     folder, in sorted order, is the one read: the copies are meant to be the same picture).
// Every image carries at least one label: a CSV row with an empty labels field is an error
// (naming its line), since it is more often a mistake than a deliberate all-negative image.
// The validation split is seeded and stratified by label set: images with the same set of
// labels are one group, split in the dataset's proportion like a class of ImageFolder.
import Foundation
import TTLCore

/// An image with every label it carries.
public struct MultiLabelSample: Sendable, Equatable {
    /// The image file.
    public var url: URL
    /// Indices into ``MultiLabelData/labels``, ascending, at least one.
    public var labels: [Int]
    /// A sample of `url` carrying `labels`.
    public init(url: URL, labels: [Int]) { self.url = url; self.labels = labels.sorted() }
}

/// A label file or layout that cannot be used, named by its file and line.
public enum LabelTableError: Error, Equatable, CustomStringConvertible {
    /// The CSV file cannot be read (or is not UTF-8).
    case unreadable(file: String)
    /// A row that does not parse (wrong number of fields, an unterminated quote, …).
    case badRow(file: String, line: Int, reason: String)
    /// A row naming an image that is not there.
    case unknownFile(file: String, line: Int, image: String)
    /// A row with an empty labels field.
    case noLabels(file: String, line: Int, image: String)
    /// An image listed twice.
    case duplicate(file: String, line: Int, image: String, firstLine: Int)
    /// Fewer than two labels in the whole dataset (those found).
    case tooFewLabels(file: String, found: [String])

    /// One line naming the file and line.
    public var description: String {
        switch self {
        case let .unreadable(f): "\(f): cannot read this label file (a UTF-8 CSV with rows file,labels)"
        case let .badRow(f, l, r): "\(f):\(l): \(r)"
        case let .unknownFile(f, l, i): "\(f):\(l): no image '\(i)' under the data folder"
        case let .noLabels(f, l, i): "\(f):\(l): '\(i)' has no labels (separate labels by spaces or semicolons)"
        case let .duplicate(f, l, i, first): "\(f):\(l): '\(i)' is listed again (first on line \(first))"
        case let .tooFewLabels(f, found):
            "\(f): \(found.count) label\(found.count == 1 ? "" : "s") (\(found.joined(separator: ", "))); multi-label training needs at least two"
        }
    }
}

/// A multi-label dataset with its training and validation samples.
public struct MultiLabelData: Sendable {
    /// The data folder (image paths are relative to it).
    public let root: URL
    /// The label names, sorted; a sample's labels index this.
    public let labels: [String]
    /// Training samples, by path.
    public var train: [MultiLabelSample]
    /// Validation samples, by path (empty with a split of 0).
    public var validation: [MultiLabelSample]
    /// Files skipped because their header could not be read (each with its reason).
    public var skipped: [String] = []

    /// Every sample, training first, as single-label ``Sample``s for the feature extractor
    /// (features do not depend on labels; the label there is 0).
    public var allImages: [Sample] { (train + validation).map { Sample(url: $0.url, label: 0) } }

    /// Reads the labels from `labelFile` (a CSV) or, when nil, from the folder-per-label layout
    /// under `root`, and splits `validationSplit` of each label set off for validation with
    /// `seed`. Unreadable images are skipped (fatal with `strict`).
    public init(root: URL, labelFile: URL? = nil, validationSplit: Double = 0.2, seed: UInt64 = 0, strict: Bool = false) throws {
        self.root = root
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
            throw DatasetError.notAFolder(root.path)
        }
        let entries: [(path: String, labels: Set<String>)]
        let source: String
        if let labelFile {
            source = labelFile.path
            entries = try LabelTable.read(labelFile, root: root)
        } else {
            source = root.path
            entries = try Self.folderLayout(root)
        }
        let names = Set(entries.flatMap(\.labels)).sorted()
        guard names.count >= 2 else { throw LabelTableError.tooFewLabels(file: source, found: names) }
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        var samples: [MultiLabelSample] = []
        var skipped: [String] = []
        for e in entries {
            let url = root.appendingPathComponent(e.path)
            do {
                try ImageDecoder.validate(contentsOf: url)
                samples.append(MultiLabelSample(url: url, labels: e.labels.compactMap { index[$0] }))
            } catch {
                if case .absurdDimensions = error.reason { throw DatasetError.absurdImage(error.description) }
                skipped.append(error.description)
            }
        }
        if strict && !skipped.isEmpty { throw DatasetError.unreadableImages(skipped) }
        labels = names
        self.skipped = skipped
        (train, validation) = Self.split(samples, validationSplit: validationSplit, seed: seed)
    }

    /// A dataset of given samples (tests, library users with their own label source).
    public init(root: URL, labels: [String], train: [MultiLabelSample], validation: [MultiLabelSample]) {
        self.root = root; self.labels = labels; self.train = train; self.validation = validation
    }

    /// Seeded split stratified by label set: each group of images with the same labels gives
    /// round(count · split) to validation (at least one of a group of two or more when the split
    /// is positive, never the whole group). Groups in sorted order of their label sets; both
    /// parts sorted by path.
    static func split(_ samples: [MultiLabelSample], validationSplit: Double, seed: UInt64) -> ([MultiLabelSample], [MultiLabelSample]) {
        let groups = Dictionary(grouping: samples.sorted { $0.url.path < $1.url.path }, by: \.labels)
        var rng = SplitMix64(seed: seed)
        var train: [MultiLabelSample] = [], val: [MultiLabelSample] = []
        for key in groups.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            var s = groups[key] ?? []
            for i in stride(from: s.count - 1, to: 0, by: -1) { s.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var k = Int((Double(s.count) * validationSplit).rounded())
            if validationSplit > 0 && s.count >= 2 { k = min(max(k, 1), s.count - 1) }
            val += s.prefix(k)
            train += s.dropFirst(k)
        }
        return (train.sorted { $0.url.path < $1.url.path }, val.sorted { $0.url.path < $1.url.path })
    }

    /// DIR/<label>/<file>: one entry per file name (relative to its label folder), carrying
    /// every label folder that holds it; read from the first such folder.
    static func folderLayout(_ root: URL) throws -> [(path: String, labels: Set<String>)] {
        var byName: [String: (path: String, labels: Set<String>)] = [:]
        for label in ImageFolder.folders(root) {
            let dir = root.appendingPathComponent(label)
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
                .filter { ImageFolder.extensions.contains(($0 as NSString).pathExtension.lowercased()) && !$0.hasPrefix(".") }.sorted()
            if files.isEmpty { throw DatasetError.emptyClass(dir.path) }
            for f in files { byName[f, default: (label + "/" + f, [])].labels.insert(label) }
        }
        return byName.keys.sorted().compactMap { byName[$0] }
    }
}

/// The CSV label file: `file,labels` rows.
public enum LabelTable {
    /// The rows of `url`, each image's path (relative to `root`) with its labels; a first row
    /// `file,labels` (any case) is a header. Blank lines are ignored.
    public static func read(_ url: URL, root: URL) throws(LabelTableError) -> [(path: String, labels: Set<String>)] {
        guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(file: url.path)
        }
        return try parse(text, file: url.path) { FileManager.default.fileExists(atPath: root.appendingPathComponent($0).path) }
    }

    /// Parses CSV text; `exists` says whether an image path is there.
    public static func parse(_ text: String, file: String, exists: (String) -> Bool) throws(LabelTableError) -> [(path: String, labels: Set<String>)] {
        var out: [(path: String, labels: Set<String>)] = []
        var seen: [String: Int] = [:]
        for (line, fields) in try rows(text, file: file) {
            if fields.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            if out.isEmpty && seen.isEmpty && fields.count == 2 && fields[0].trimmingCharacters(in: .whitespaces).lowercased() == "file"
                && fields[1].trimmingCharacters(in: .whitespaces).lowercased() == "labels" {
                seen[""] = line
                continue
            }
            guard fields.count == 2 else {
                throw .badRow(file: file, line: line, reason: "\(fields.count) field\(fields.count == 1 ? "" : "s"), expected 2 (file,labels; quote a path that holds a comma)")
            }
            let path = fields[0].trimmingCharacters(in: .whitespaces)
            guard !path.isEmpty else { throw .badRow(file: file, line: line, reason: "the file field is empty") }
            let labels = Set(fields[1].split(whereSeparator: { $0 == ";" || $0 == " " || $0 == "\t" }).map(String.init))
            guard !labels.isEmpty else { throw .noLabels(file: file, line: line, image: path) }
            if let first = seen[path] { throw .duplicate(file: file, line: line, image: path, firstLine: first) }
            guard exists(path) else { throw .unknownFile(file: file, line: line, image: path) }
            seen[path] = line
            out.append((path, labels))
        }
        return out
    }

    /// RFC 4180 records with their first line numbers (1-based): fields split at commas, a
    /// double-quoted field may hold commas, newlines and doubled quotes; CRLF or LF ends a record.
    static func rows(_ text: String, file: String) throws(LabelTableError) -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = []
        var fields: [String] = [], field = "", quoted = false, afterQuote = false
        var line = 1, start = 1
        var chars = Array(text.unicodeScalars)[...]
        if chars.first == "\u{FEFF}" { chars = chars.dropFirst() }
        func endRecord() { fields.append(field); rows.append((start, fields)); fields = []; field = ""; afterQuote = false }
        var i = chars.startIndex
        while i < chars.endIndex {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.endIndex && chars[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 1 } else { quoted = false; afterQuote = true }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                guard field.trimmingCharacters(in: .whitespaces).isEmpty, !afterQuote else {
                    throw .badRow(file: file, line: line, reason: "a quote inside an unquoted field")
                }
                field = ""
                quoted = true
            } else if c == "," {
                fields.append(field); field = ""; afterQuote = false
            } else if c == "\n" || c == "\r" {
                if c == "\r" && i + 1 < chars.endIndex && chars[i + 1] == "\n" { i += 1 }
                endRecord()
                line += 1
                start = line
            } else {
                if afterQuote && c != " " { throw .badRow(file: file, line: line, reason: "text after a closing quote") }
                if !afterQuote { field.unicodeScalars.append(c) }
            }
            i += 1
        }
        if quoted { throw .badRow(file: file, line: start, reason: "a quoted field is not closed") }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        return rows
    }
}

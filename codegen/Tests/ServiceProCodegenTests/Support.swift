import Foundation
import SwiftProtobuf
import SwiftProtobufPluginLibrary
import Testing

@testable import ServiceProCodegen

enum Fixture {
    /// Fixtures/ in the source tree, where UPDATE_GOLDEN writes.
    static let sourceDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Fixtures/ as copied into the test bundle.
    static func bundledDirectory() throws -> URL {
        try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures missing from the test bundle")
    }

    /// Runs `body` with the fixture's files (not their imports), as the plugin would get them from
    /// buf. Descriptors point at each other `unowned`, so the set must outlive every use of them.
    static func withFiles<Result>(_ body: ([FileDescriptor]) throws -> Result) throws -> Result {
        let data = try Data(contentsOf: try bundledDirectory().appendingPathComponent("fixture.binpb"))
        var extensions = SimpleExtensionMap()
        extensions.insert(contentsOf: ServiceProGenerator.customOptionExtensions)
        let proto = try Google_Protobuf_FileDescriptorSet(serializedBytes: data, extensions: extensions)
        let set = DescriptorSet(protos: proto.file)
        return try withExtendedLifetime(set) {
            try body(set.files.filter { $0.name.hasPrefix("fixture/") }.sorted { $0.name < $1.name })
        }
    }
}

enum Golden {
    static let updateHint = "if the change is intended, run codegen/Tests/ServiceProCodegenTests/update-golden.sh and review the diff"

    /// Relative paths of every regular file under `directory`, sorted.
    static func files(in directory: URL) throws -> [String] {
        let base = directory.standardizedFileURL.path
        guard let enumerator = FileManager.default.enumerator(
            at: directory, includingPropertiesForKeys: [.isRegularFileKey]
        ) else { return [] }
        var names: [String] = []
        for case let url as URL in enumerator where try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true {
            let path = url.standardizedFileURL.path
            names.append(path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path)
        }
        return names.sorted()
    }

    /// Replaces `directory` with exactly the given outputs.
    static func write(_ outputs: [(name: String, content: String)], to directory: URL) throws {
        let manager = FileManager.default
        if manager.fileExists(atPath: directory.path) { try manager.removeItem(at: directory) }
        for output in outputs {
            let url = directory.appendingPathComponent(output.name)
            try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(output.content.utf8).write(to: url)
        }
        print("UPDATE_GOLDEN: wrote \(outputs.count) files to \(directory.path)")
    }

    /// A unified-style diff of two texts: `-` golden, `+` generated, 3 lines of context, capped.
    static func diff(expected: String, actual: String, maxLines: Int = 60) -> String {
        let old = expected.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let new = actual.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var prefix = 0
        while prefix < old.count, prefix < new.count, old[prefix] == new[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < old.count - prefix, suffix < new.count - prefix,
              old[old.count - 1 - suffix] == new[new.count - 1 - suffix] { suffix += 1 }
        let a = Array(old[prefix..<(old.count - suffix)])
        let b = Array(new[prefix..<(new.count - suffix)])

        // Edit script over the differing middle: LCS when small enough, else all-removed/all-added.
        enum Edit { case same(String), removed(String), added(String) }
        var edits: [Edit] = []
        if a.count * b.count <= 4_000_000 {
            var lcs = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
            for i in stride(from: a.count - 1, through: 0, by: -1) {
                for j in stride(from: b.count - 1, through: 0, by: -1) {
                    lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
                }
            }
            var i = 0, j = 0
            while i < a.count || j < b.count {
                if i < a.count, j < b.count, a[i] == b[j] {
                    edits.append(.same(a[i])); i += 1; j += 1
                } else if i < a.count, j == b.count || lcs[i + 1][j] >= lcs[i][j + 1] {
                    edits.append(.removed(a[i])); i += 1
                } else {
                    edits.append(.added(b[j])); j += 1
                }
            }
        } else {
            edits = a.map(Edit.removed) + b.map(Edit.added)
        }

        let before = old[max(0, prefix - 3)..<prefix].map(Edit.same)
        let after = old[(old.count - suffix)..<min(old.count, old.count - suffix + 3)].map(Edit.same)
        var lines = ["--- golden", "+++ generated", "@@ first difference at line \(prefix + 1) @@"]
        for edit in before + edits + after {
            switch edit {
            case .same(let line): lines.append("  " + line)
            case .removed(let line): lines.append("- " + line)
            case .added(let line): lines.append("+ " + line)
            }
        }
        if lines.count > maxLines {
            lines = Array(lines.prefix(maxLines)) + ["… \(lines.count - maxLines) more diff lines"]
        }
        return lines.map { String($0.prefix(200)) }.joined(separator: "\n")
    }
}

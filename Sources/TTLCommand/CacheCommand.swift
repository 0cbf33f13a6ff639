// `ttl cache`: the feature cache's size, or clear it.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLNN
import TTLFineTune
import TTLHDF5
import TTLONNX

extension TTLCommand {
    struct Cache: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or clear the feature cache ($TTL_HOME/cache).",
            discussion: """
                Example:
                  ttl cache info
                  ttl cache clear
                """)
        @Argument(help: "info or clear.") var action: String
        @OptionGroup var cacheOption: CacheOption

        func run() throws {
            let cache = FeatureCache(folder: cacheOption.folder(ModelStore()))
            switch action {
            case "info": print(String(format: "feature cache: %.1f MB in %@", Double(cache.size()) / 1e6, cache.folder!.path))
            case "clear":
                do { try cache.clear() } catch { throw TTLError.io(file: cache.folder!.path, message: error.localizedDescription) }
                print("cleared \(cache.folder!.path)")
            default: throw TTLError.usage("ttl cache takes info or clear")
            }
        }
    }
}

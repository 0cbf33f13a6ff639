import TTLCore

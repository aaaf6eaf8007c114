extension String {
    /// NULL in a column for an empty value, as the store keeps "not set".
    var nilIfEmpty: String? { isEmpty ? nil : self }

    /// At most `maxLength` characters, the last an ellipsis when some were cut: a provider's
    /// answer kept to say why something failed can be long.
    func truncated(to maxLength: Int) -> String {
        count <= maxLength ? self : String(prefix(maxLength - 1)) + "…"
    }
}

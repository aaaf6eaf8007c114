extension String {
    /// NULL in a column for an empty value, as the store keeps "not set".
    var nilIfEmpty: String? { isEmpty ? nil : self }
}

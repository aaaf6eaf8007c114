/// How one field prints; `OutputSchema` lists them for every message a command answers with.
struct OutputField: Sendable {
    let name: String
    let repeated: Bool
    /// Printed as true or false (JSON's booleans reach the printer as numbers).
    let bool: Bool
    /// A number, which JSON leaves out at zero: printed as 0 where a row or a list item needs a
    /// value for it.
    let number: Bool
    /// A Timestamp: printed to the second.
    let time: Bool
    /// A Duration: printed as 30m or 2h when it is whole minutes or hours.
    let duration: Bool
    /// The full proto name of a message field's type.
    let message: String?
    /// The full proto name of an enum field's type.
    let enumType: String?

    init(
        _ name: String, repeated: Bool = false, bool: Bool = false, number: Bool = false, time: Bool = false, duration: Bool = false,
        message: String? = nil, enum enumType: String? = nil
    ) {
        self.name = name
        self.repeated = repeated
        self.bool = bool
        self.number = number
        self.time = time
        self.duration = duration
        self.message = message
        self.enumType = enumType
    }

    /// How each value of a repeated field prints.
    var element: OutputField { OutputField(name, bool: bool, number: number, time: time, duration: duration, message: message, enum: enumType) }

    /// How `value` (a JSON value, nil when JSON left the field out) prints in a row that needs one.
    func valueInRow(_ value: Any?) -> Any? { value ?? (number && !repeated ? 0 : nil) }
}

import SwiftProtobufPluginLibrary

extension FieldDescriptor {
    /// The field's `(servicepro.options.v1.rules)`, if it has any.
    var rules: Servicepro_Options_V1_FieldRules? {
        options.hasExtensionValue(ext: Servicepro_Options_V1_Extensions_rules)
            ? options.getExtensionValue(ext: Servicepro_Options_V1_Extensions_rules) : nil
    }
}

import ArgumentParser
import SpctlCommands

/// The command tree lives in SpctlCommands so tests can drive it; this only makes it the entry point.
@main
extension SpctlCommand {}

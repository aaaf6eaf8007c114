import ServiceProAPI
import SwiftProtobuf

/// The fields an UpdateAppointment may change: reschedule, confirm, complete, cancel. The customer
/// is not one of them; a booking for someone else is a new appointment.
struct AppointmentUpdateMask: Sendable {
    static let fields: Set<String> = ["service_name", "start_time", "duration", "status", "address", "notes", "external_id"]

    let paths: UpdateMaskPaths

    init(_ mask: Google_Protobuf_FieldMask) throws {
        paths = try UpdateMaskPaths(mask, updatable: Self.fields)
    }

    func contains(_ path: String) -> Bool { paths.contains(path) }

    func apply(from source: Appointment, to target: inout Appointment) {
        for path in paths.paths {
            switch path {
            case "service_name": target.serviceName = source.serviceName
            case "start_time": target.startTime = source.startTime
            case "duration":
                if source.hasDuration { target.duration = source.duration } else { target.clearDuration() }
            case "status": target.status = source.status
            case "address": target.address = source.address
            case "notes": target.notes = source.notes
            case "external_id": target.externalID = source.externalID
            default: break
            }
        }
    }
}

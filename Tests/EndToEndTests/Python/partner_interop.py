"""A partner's integration, written with Python grpcio and stubs generated from proto/ at run time.

Proves the API is usable from another language with nothing but the .proto files: a partner key
lists its tenant, is refused another tenant's data (NOT_FOUND with google.rpc.Status details),
and the standard health and reflection services answer.

usage: partner_interop.py ADDRESS PROTO_DIR WORK_DIR   (token in env PARTNER_TOKEN)
"""
import os
import subprocess
import sys

import grpc
import grpc_tools
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpc_status import rpc_status


def generate_stubs(proto_dir, out_dir):
    protos = []
    for root, _, files in os.walk(os.path.join(proto_dir, "servicepro")):
        protos += [os.path.relpath(os.path.join(root, f), proto_dir) for f in files if f.endswith(".proto")]
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", f"-I{well_known}",
         f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *sorted(protos)],
        check=True)
    sys.path.insert(0, out_dir)


def expect(condition, message):
    if not condition:
        print(f"FAILED: {message}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {message}")


def main():
    address, proto_dir, work_dir = sys.argv[1:4]
    token = os.environ["PARTNER_TOKEN"]
    generate_stubs(proto_dir, work_dir)
    from servicepro.tenancy.v1 import tenant_service_pb2, tenant_service_pb2_grpc, tenant_pb2

    auth = [("authorization", f"Bearer {token}")]
    with grpc.insecure_channel(address) as channel:
        tenants = tenant_service_pb2_grpc.TenantServiceStub(channel)

        listed = tenants.ListTenants(tenant_service_pb2.ListTenantsRequest(page_size=10), metadata=auth)
        expect([t.slug for t in listed.tenants] == ["acme"], "a partner key lists exactly its own tenant")
        expect(listed.tenants[0].display_name == "Acme Lawn Care", "tenant fields decode")
        expect(listed.tenants[0].status == tenant_pb2.TENANT_STATUS_TRIALING, "enums decode")

        own = tenants.GetTenant(tenant_service_pb2.GetTenantRequest(name="tenants/acme"), metadata=auth)
        expect(own.name == "tenants/acme", "a partner key gets its own tenant")

        try:
            tenants.GetTenant(tenant_service_pb2.GetTenantRequest(name="tenants/bravo"), metadata=auth)
            expect(False, "another tenant must be refused")
        except grpc.RpcError as error:
            expect(error.code() == grpc.StatusCode.NOT_FOUND, "another tenant's data is NOT_FOUND")
            expect("Bravo" not in error.details(), "the refusal reveals nothing of the other tenant")
            status = rpc_status.from_call(error)
            expect(status is not None and len(status.details) >= 1, "errors carry google.rpc.Status details")

        try:
            tenants.GetTenant(tenant_service_pb2.GetTenantRequest(name="nonsense"), metadata=auth)
            expect(False, "a malformed name must be refused")
        except grpc.RpcError as error:
            expect(error.code() == grpc.StatusCode.INVALID_ARGUMENT, "a malformed name is INVALID_ARGUMENT")
            status = rpc_status.from_call(error)
            from google.rpc import error_details_pb2
            fields = []
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    fields += [v.field for v in bad.field_violations]
            expect(fields == ["name"], "BadRequest names the field")

        try:
            tenants.ListTenants(tenant_service_pb2.ListTenantsRequest())
            expect(False, "a call without a token must be refused")
        except grpc.RpcError as error:
            expect(error.code() == grpc.StatusCode.UNAUTHENTICATED, "no token is UNAUTHENTICATED")

        health = health_pb2_grpc.HealthStub(channel)
        overall = health.Check(health_pb2.HealthCheckRequest(service=""))
        expect(overall.status == health_pb2.HealthCheckResponse.SERVING, "grpc.health.v1 says SERVING")
        service = health.Check(health_pb2.HealthCheckRequest(service="servicepro.tenancy.v1.TenantService"))
        expect(service.status == health_pb2.HealthCheckResponse.SERVING, "each service has a health status")

        database = ProtoReflectionDescriptorDatabase(channel)
        services = database.get_services()
        expect("servicepro.tenancy.v1.TenantService" in services, "reflection (v1alpha) lists the services")
        expect("grpc.health.v1.Health" in services, "reflection lists health too")
        method = database.FindFileContainingSymbol("servicepro.tenancy.v1.TenantService")
        expect(method.name == "servicepro/tenancy/v1/tenant_service.proto", "reflection serves the file of a symbol")

        # grpc.reflection.v1 is wire-identical to v1alpha; call it by its own method path.
        v1 = channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
        answers = list(v1(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
        names = [s.name for s in answers[0].list_services_response.service]
        expect("servicepro.tenancy.v1.ApiKeyService" in names, "reflection v1 lists the services")


if __name__ == "__main__":
    main()

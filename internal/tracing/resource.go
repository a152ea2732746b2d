package tracing

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
)

// resourceFor describes this process in its spans. The standard
// OTEL_RESOURCE_ATTRIBUTES are not read on purpose: everything a span
// carries is Herald's choice.
func resourceFor(service string) *resource.Resource {
	return resource.NewSchemaless(attribute.String("service.name", service))
}

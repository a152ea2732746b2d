// Package chartcheck validates the deployment files offline, as CI does
// where no cluster or Docker engine exists: the Helm chart is linted and
// rendered with the pinned helm (deploy/tools) and every manifest decoded
// strictly into the Kubernetes API types; the Compose file, the Grafana
// dashboard and the Prometheus alert rules are parsed and checked against
// Herald's configuration table and metric names.
package chartcheck

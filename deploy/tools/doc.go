// Package tools pins the helm command the chart checks run (go tool
// -modfile=deploy/tools/go.mod helm), in a module of its own so the
// Kubernetes modules helm needs never enter the server's module graph.
package tools

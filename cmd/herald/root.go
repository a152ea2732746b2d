package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/internal/messagescli"
	"github.com/heraldhq/herald/internal/resourcecli"
)

// newRootCommand builds the whole command tree. Output goes to the given
// writers so tests can run commands in process.
func newRootCommand(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:   "herald",
		Short: "Herald delivers verification codes, alerts and notices through SMS, e-mail, chat and webhooks",
		Long: `Herald is a durable multi-channel message delivery service. Every accepted
message is a Temporal workflow that picks a provider account, sends, waits for
the delivery receipt and follows the rule engine on failure, so each message
reaches a final state exactly once.

Start everything on one machine with embedded defaults:

  herald dev

In production run the API and the worker separately against PostgreSQL, Redis
and a Temporal cluster:

  herald migrate up
  herald serve
  herald worker`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newDevCommand(stdout, getenv),
		newServeCommand(stdout, getenv),
		newWorkerCommand(stdout, getenv),
		newMigrateCommand(stdout, getenv),
		newKeysCommand(stdout, getenv),
		newSendCommand(stdout, getenv),
		newApplyCommand(stdout, getenv),
		newProviderCommand(stdout, getenv),
		newSuppressionCommand(stdout, getenv),
		newBreakerCommand(stdout, getenv),
		newQuotaCommand(stdout, getenv),
		newAdminCommand(stdout, getenv),
		newLoginCommand(stdout, getenv),
		newLogoutCommand(stdout, getenv),
		newAuditCommand(stdout, getenv),
		messagescli.NewCommand(stdout, getenv, nil),
		messagescli.NewWatchCommand(stdout, getenv, nil),
		messagescli.NewEraseCommand(stdout, getenv, nil),
		messagescli.NewBatchesCommand(stdout, getenv, nil),
		newStatsCommand(stdout, getenv, time.Now, nil),
		newBenchCommand(stdout),
		newHealthcheckCommand(stdout, getenv),
		newTemporalCommand(stdout, getenv),
		newVersionCommand(stdout),
	)
	// Configuration through the operators' API (needs herald login).
	root.AddCommand(resourcecli.Commands(stdout, getenv, nil)...)
	return root
}

func newVersionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Herald's version and build information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			version, revision, goVersion := "(devel)", "", ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
				if bi.Main.Version != "" {
					version = bi.Main.Version
				}
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						revision = s.Value
					}
				}
			}
			fmt.Fprintf(stdout, "herald %s", version)
			if revision != "" {
				fmt.Fprintf(stdout, " (%s)", revision)
			}
			fmt.Fprintf(stdout, " %s\n", goVersion)
			return nil
		},
	}
}

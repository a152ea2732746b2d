package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/config"
)

// configured is the part every long-running command shares: it registers
// the settings flags and loads and validates them for one mode.
type configured struct {
	loader *config.Loader
	getenv func(string) string
}

func newConfigured(fs *pflag.FlagSet, getenv func(string) string) *configured {
	return &configured{loader: config.NewLoader(fs), getenv: getenv}
}

func (c *configured) load(mode config.Mode) (config.Config, error) {
	cfg, err := c.loader.Load(c.getenv)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate(mode)
}

// newStack loads the configuration and prepares an empty stack for mode.
func (c *configured) newStack(mode config.Mode, logOut io.Writer) (*stack, error) {
	cfg, err := c.load(mode)
	if err != nil {
		return nil, err
	}
	log, err := newLogger(cfg.Log, logOut)
	if err != nil {
		return nil, err
	}
	return &stack{cfg: cfg, mode: mode, log: log}, nil
}

// runUntilDone blocks until ctx ends (Ctrl-C, SIGTERM) and closes s.
func runUntilDone(ctx context.Context, s *stack) error {
	<-ctx.Done()
	s.log.Info("shutting down")
	return s.Close()
}

func newServeCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API (production)",
		Long: `Run the HTTP API against PostgreSQL, Redis and a Temporal cluster. It starts
send workflows and answers queries; run workers with "herald worker". The
schema must be migrated first with "herald migrate up".

The same listener serves the operators' API (/admin/api/v1) and the web
console (/console/), unless --admin-addr gives them a listener of their own,
for example on a private network.`,
		Args: cobra.NoArgs,
	}
	c := newConfigured(cmd.Flags(), getenv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		s, err := c.newStack(config.ModeServe, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		if err := s.startAPI(cmd.Context(), schemaRequireCurrent); err != nil {
			_ = s.Close()
			return err
		}
		s.log.Info("api listening", zap.String("url", s.apiURL), zap.String("console", s.adminURL+"/console/"))
		return runUntilDone(cmd.Context(), s)
	}
	return cmd
}

// startAPI runs the API without a worker: `herald serve`.
func (s *stack) startAPI(ctx context.Context, policy schemaPolicy) error {
	if err := s.openCore(ctx, policy); err != nil {
		return err
	}
	ln, err := s.listenAPI()
	if err != nil {
		return err
	}
	if err := s.serveAPI(ln); err != nil {
		return err
	}
	return s.startOps()
}

func newWorkerCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a Temporal worker that executes send workflows (production)",
		Long: `Run a worker: it executes send workflows and their activities (provider
sends, status checks, status writes, alerts and status callbacks), and
starts the workflow of any accepted message that lacks one. Run as many as
load needs; they share the work through the Temporal cluster.

Receipt callback URLs given to providers are built from --public-url, which
must be the address at which providers reach "herald serve".`,
		Args: cobra.NoArgs,
	}
	c := newConfigured(cmd.Flags(), getenv)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		s, err := c.newStack(config.ModeWorker, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		if err := s.startWorkerMode(cmd.Context()); err != nil {
			_ = s.Close()
			return err
		}
		s.log.Info("worker running")
		return runUntilDone(cmd.Context(), s)
	}
	return cmd
}

func (s *stack) startWorkerMode(ctx context.Context) error {
	if err := s.openCore(ctx, schemaRequireCurrent); err != nil {
		return err
	}
	if err := s.startWorker(s.publicURL("")); err != nil {
		return err
	}
	s.startSweeper(ctx)
	return s.startOps()
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/workflows"
)

// sendOptions are the flags of `herald send`.
type sendOptions struct {
	url            string
	appID          string
	appSecret      string
	channel        int64
	receiver       string
	params         []string
	signature      string
	scheduledAt    string
	idempotencyKey string
	php            bool
	follow         bool
	timeout        time.Duration
}

// Validate lists every missing or malformed flag.
func (o *sendOptions) Validate() error {
	var p []string
	if o.url == "" {
		p = append(p, "--url is required")
	}
	if o.appID == "" {
		p = append(p, "--app-id is required (env HERALD_APP_ID)")
	}
	if o.appSecret == "" {
		p = append(p, "--app-secret is required (env HERALD_APP_SECRET)")
	}
	if o.channel <= 0 {
		p = append(p, "--channel must be a channel id")
	}
	if o.receiver == "" {
		p = append(p, "--receiver is required")
	}
	for _, kv := range o.params {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			p = append(p, fmt.Sprintf("--param %q must look like name=value", kv))
		}
	}
	if o.scheduledAt != "" {
		if _, err := time.Parse(time.RFC3339, o.scheduledAt); err != nil {
			p = append(p, fmt.Sprintf("--scheduled-at %q must be RFC 3339, like 2026-12-01T09:00:00+08:00", o.scheduledAt))
		}
	}
	if o.timeout <= 0 {
		p = append(p, "--timeout must be positive")
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

func newSendCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	o := &sendOptions{}
	cmd := &cobra.Command{
		Use:   "send",
		Short: "Send one message through the API and follow it to its final state",
		Long: `Send one message through Herald's API, signed exactly as the client SDKs
sign, then poll its status until it is final (success, failed or cancelled).

Example (the dev demo app and channel):

  herald send --app-id demo-app --app-secret <secret> \
    --channel 1 --receiver +8613800138000 --param code=123456`,
		Args: cobra.NoArgs,
		PreRun: func(cmd *cobra.Command, _ []string) {
			if o.appID == "" {
				o.appID = getenv("HERALD_APP_ID")
			}
			if o.appSecret == "" {
				o.appSecret = getenv("HERALD_APP_SECRET")
			}
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return runSend(cmd.Context(), stdout, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "http://127.0.0.1:8080", "Herald API base URL")
	f.StringVar(&o.appID, "app-id", "", "app id (env HERALD_APP_ID)")
	f.StringVar(&o.appSecret, "app-secret", "", "app secret (env HERALD_APP_SECRET)")
	f.Int64Var(&o.channel, "channel", 0, "channel id")
	f.StringVar(&o.receiver, "receiver", "", "phone number, e-mail address or user id, as the channel expects")
	f.StringArrayVar(&o.params, "param", nil, "template parameter name=value (repeatable)")
	f.StringVar(&o.signature, "signature", "", "SMS signature name, one of the channel's signature names")
	f.StringVar(&o.scheduledAt, "scheduled-at", "", "send later, at this RFC 3339 time")
	f.StringVar(&o.idempotencyKey, "idempotency-key", "", "Idempotency-Key header: resending with the same key never sends twice")
	f.BoolVar(&o.php, "php-signing", false, "sign like the PHP SDK instead of the Go SDK")
	f.BoolVar(&o.follow, "follow", true, "poll the task until it reaches a final state")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long to follow the task")
	return cmd
}

func runSend(ctx context.Context, out io.Writer, o *sendOptions) error {
	var opts []apiclient.Option
	if o.php {
		opts = append(opts, apiclient.WithPHPSigning())
	}
	c := apiclient.New(o.url, o.appID, o.appSecret, opts...)
	req := apiclient.SendMessageRequest{
		ChannelID:      o.channel,
		Receiver:       o.receiver,
		TemplateParams: map[string]string{},
		SignatureName:  o.signature,
	}
	for _, kv := range o.params {
		k, v, _ := strings.Cut(kv, "=")
		req.TemplateParams[k] = v
	}
	if o.scheduledAt != "" {
		t, _ := time.Parse(time.RFC3339, o.scheduledAt)
		req.ScheduledAt = &t
	}
	var callOpts []apiclient.CallOption
	if o.idempotencyKey != "" {
		callOpts = append(callOpts, apiclient.WithIdempotencyKey(o.idempotencyKey))
	}
	res, err := c.SendMessage(ctx, req, callOpts...)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	fmt.Fprintf(out, "task %s accepted (%s)\n", res.TaskID, res.Status)
	if !o.follow {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	last := res.Status
	for {
		msg, err := c.GetMessage(ctx, res.TaskID)
		if err != nil {
			return fmt.Errorf("follow task %s: %w", res.TaskID, err)
		}
		if msg.Status != last {
			fmt.Fprintf(out, "  %s\n", msg.Status)
			last = msg.Status
		}
		if workflows.IsFinal(msg.Status) {
			return printFinal(ctx, out, c, msg)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("task %s still %s after %s", res.TaskID, msg.Status, o.timeout)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func printFinal(ctx context.Context, out io.Writer, c *apiclient.Client, msg *apiclient.Message) error {
	fmt.Fprintf(out, "task %s: %s", msg.TaskID, msg.Status)
	if msg.CallbackStatus != "" {
		fmt.Fprintf(out, " (receipt: %s)", msg.CallbackStatus)
	}
	fmt.Fprintln(out)
	if events, err := c.MessageEvents(ctx, msg.TaskID); err == nil {
		for _, e := range events {
			fmt.Fprintf(out, "  %2d %-16s %-10s %s\n", e.Seq, e.Kind, e.Status, e.Detail)
		}
	}
	if msg.Status != workflows.StatusSuccess {
		return fmt.Errorf("task %s ended %s: %s", msg.TaskID, msg.Status, msg.LastError)
	}
	return nil
}

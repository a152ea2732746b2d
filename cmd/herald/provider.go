package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/activities"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// providerTestOptions are the flags of `herald provider test`.
type providerTestOptions struct {
	account      string
	receiver     string
	templateCode string
	params       []string
	subject      string
	content      string
	contentType  string
	signature    string
	waitReceipt  time.Duration
}

// Validate lists every missing or malformed flag.
func (o *providerTestOptions) Validate() error {
	var p []string
	if strings.TrimSpace(o.account) == "" {
		p = append(p, "the account name or id is required")
	}
	if o.receiver == "" {
		p = append(p, "--receiver is required")
	}
	for _, kv := range o.params {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			p = append(p, fmt.Sprintf("--param %q must look like name=value", kv))
		}
	}
	if o.waitReceipt < 0 {
		p = append(p, "--wait-receipt must not be negative")
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

func newProviderCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "provider",
		Short: "Check provider accounts",
		Long: `Operator tools for provider accounts. Without --database-url the dev store
in --data-dir is used; otherwise --master-key must be the key the store's
secrets are encrypted with.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("choose a provider command: test (see herald provider --help)")
		},
	}
	// The settings flags live on the parent so every subcommand shares them.
	c := newConfigured(cmd.PersistentFlags(), getenv)
	cmd.AddCommand(newProviderTestCommand(stdout, c))
	return cmd
}

func newProviderTestCommand(stdout io.Writer, c *configured) *cobra.Command {
	o := &providerTestOptions{}
	cmd := &cobra.Command{
		Use:   "test <account-name-or-id> --receiver R",
		Short: "Send one message through one provider account and print the outcome",
		Long: `Send one message straight through a provider account, built from its
stored configuration exactly as a worker builds it, without Temporal, a
channel or the API. It prints the provider's answer: the provider message id
when the message was accepted, or the failure class, the provider's own code
and message, and any retry-after hint. The exit status is 0 when the
provider accepted the message and 1 otherwise.

With --wait-receipt, and for providers that can be asked about a message
(sandbox, tencent, aliyun, zrwinfo), it then polls the provider for the
delivery receipt until one arrives or the time is up; a receipt reporting
the message undelivered also exits 1.

The sandbox pushes its receipt to Herald only when --public-url is given;
real providers push to the address configured with them. Either way the
running service finds no task for the test message and drops its receipt.

Template providers need the provider's template code and the parameters in
the template's order: --template-code 1234567 --param code=123456.`,
		Example: `  herald provider test tencent-main --receiver +8613800138000 \
    --template-code 1234567 --param code=123456 --signature Herald --wait-receipt 30s
  herald provider test 3 --receiver ops@example.com --subject Test --content 'It works'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.account = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			s, err := openToolStack(cmd.Context(), c, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer s.Close()
			return runProviderTest(cmd.Context(), stdout, s.db, s.registry, s.cfg.HTTP.PublicURL, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.receiver, "receiver", "", "phone number, e-mail address or user id, as the provider expects")
	f.StringVar(&o.templateCode, "template-code", "", "the provider's own template id (Tencent, Aliyun)")
	f.StringArrayVar(&o.params, "param", nil, "template parameter name=value, in the template's order (repeatable)")
	f.StringVar(&o.subject, "subject", "", "subject, for providers that use one (e-mail, cards)")
	f.StringVar(&o.content, "content", "", "message text, for providers that send text rather than templates")
	f.StringVar(&o.contentType, "content-type", "text", "content type of --content (text, html, markdown, ... as the provider supports)")
	f.StringVar(&o.signature, "signature", "", "SMS signature; default the account's sign_name")
	f.DurationVar(&o.waitReceipt, "wait-receipt", 0, "after an accepted send, poll the provider this long for the delivery receipt")
	return cmd
}

// findAccount resolves an account by name, or by id when no account has
// that name.
func findAccount(ctx context.Context, db *store.DB, ref string) (*store.ProviderAccount, error) {
	acc, err := db.FindAccountByName(ctx, ref)
	switch {
	case err == nil:
		return acc, nil
	case errors.Is(err, store.ErrConflict):
		return nil, fmt.Errorf("several provider accounts are named %q; give the account id instead", ref)
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("find provider account: %w", err)
	}
	id, perr := strconv.ParseInt(ref, 10, 64)
	if perr != nil || id <= 0 {
		return nil, fmt.Errorf("no provider account is named %q", ref)
	}
	acc, err = db.GetAccount(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no provider account has the name or id %q", ref)
	}
	if err != nil {
		return nil, fmt.Errorf("load provider account %d: %w", id, err)
	}
	return acc, nil
}

func runProviderTest(ctx context.Context, out io.Writer, db *store.DB, reg *providers.Registry, publicURL string, o *providerTestOptions) error {
	acc, err := findAccount(ctx, db, o.account)
	if err != nil {
		return err
	}
	prov, err := reg.Get(acc.Kind)
	if err != nil {
		return fmt.Errorf("account %q: %w", acc.Name, err)
	}
	// As the worker does (activities.Activities.sender); without a public
	// URL nothing is pushed anywhere, which suits a one-off test.
	callbackURL := ""
	if publicURL != "" {
		callbackURL = activities.CallbackURL(publicURL, acc.Kind, acc.ID, acc.CallbackToken)
	}
	sender, err := prov.NewSender(providers.Account{ID: acc.ID, Kind: acc.Kind, Config: acc.Config, CallbackURL: callbackURL})
	if err != nil {
		return fmt.Errorf("account %q: build sender: %w", acc.Name, err)
	}

	msg := providers.Message{
		TaskID:       uuid.NewString(),
		Attempt:      1,
		Receiver:     o.receiver,
		Subject:      o.subject,
		Content:      o.content,
		ContentType:  o.contentType,
		TemplateCode: o.templateCode,
		Signature:    o.signature,
	}
	for _, kv := range o.params {
		k, v, _ := strings.Cut(kv, "=")
		msg.Params = append(msg.Params, providers.Param{Name: k, Value: v})
	}

	fmt.Fprintf(out, "account %s (id %d, %s)", acc.Name, acc.ID, acc.Kind)
	if !acc.Enabled {
		fmt.Fprint(out, ", disabled: sending anyway for the test")
	}
	fmt.Fprintf(out, "\nreceiver %s, test task %s\n", o.receiver, msg.TaskID)

	sentAt := time.Now()
	res, err := sender.Send(ctx, msg)
	if err != nil {
		pe := providers.AsError(err)
		fmt.Fprintln(out, "failed")
		fmt.Fprintf(out, "  class:       %s\n", pe.Class)
		if pe.Code != "" {
			fmt.Fprintf(out, "  code:        %s\n", pe.Code)
		}
		if pe.Message != "" {
			fmt.Fprintf(out, "  message:     %s\n", pe.Message)
		}
		if pe.RetryAfter > 0 {
			fmt.Fprintf(out, "  retry after: %s\n", pe.RetryAfter)
		}
		return fmt.Errorf("the provider refused the test message (%s)", pe.Class)
	}
	fmt.Fprintln(out, "accepted")
	if res.ProviderMessageID != "" {
		fmt.Fprintf(out, "  provider message id: %s\n", res.ProviderMessageID)
	}
	if res.Fee != 0 {
		fmt.Fprintf(out, "  fee:                 %d\n", res.Fee)
	}
	if len(res.InvalidReceivers) > 0 {
		fmt.Fprintf(out, "  invalid receivers:   %s\n", strings.Join(res.InvalidReceivers, ", "))
	}
	if res.Delivered {
		fmt.Fprintln(out, "  delivered: acceptance is final, no receipt follows")
		return nil
	}
	if o.waitReceipt <= 0 {
		return nil
	}
	checker, ok := sender.(providers.StatusChecker)
	if !ok {
		fmt.Fprintf(out, "receipt: %s accounts cannot be asked for delivery status; receipts only arrive by push\n", acc.Kind)
		return nil
	}
	q := providers.StatusQuery{TaskID: msg.TaskID, ProviderMessageID: res.ProviderMessageID, Receiver: o.receiver, SentAt: sentAt}
	rcpt, found, lastErr := waitReceipt(ctx, checker, q, o.waitReceipt)
	if !found {
		fmt.Fprintf(out, "receipt: none within %s", o.waitReceipt)
		if lastErr != nil {
			fmt.Fprintf(out, " (last status check failed: %v)", lastErr)
		}
		fmt.Fprintln(out)
		return nil
	}
	fmt.Fprintf(out, "receipt: %s", rcpt.Status)
	if rcpt.Code != "" || rcpt.Description != "" {
		fmt.Fprintf(out, " (%s)", strings.TrimSpace(rcpt.Code+" "+rcpt.Description))
	}
	if !rcpt.At.IsZero() {
		fmt.Fprintf(out, " at %s", rcpt.At.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(out)
	if rcpt.Status != providers.ReceiptDelivered {
		return fmt.Errorf("the provider reports the test message %s", rcpt.Status)
	}
	return nil
}

// waitReceipt asks the provider about the message, more slowly as time
// passes, until it reports a final state or limit is up. A failed check is
// remembered and retried: the provider may be catching up.
func waitReceipt(ctx context.Context, checker providers.StatusChecker, q providers.StatusQuery, limit time.Duration) (providers.Receipt, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	pause := 200 * time.Millisecond
	var lastErr error
	for {
		rcpt, found, err := checker.CheckStatus(ctx, q)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				lastErr = err
			}
		case found:
			return rcpt, true, nil
		}
		if sleepCtx(ctx, pause) != nil {
			return providers.Receipt{}, false, lastErr
		}
		pause = min(2*pause, 2*time.Second)
	}
}

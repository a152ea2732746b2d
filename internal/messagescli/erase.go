package messagescli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/api/admin/messages"
)

// NewEraseCommand builds `herald erase`, which erases personal data
// through the admin API. httpClient may be nil.
func NewEraseCommand(stdout io.Writer, getenv func(string) string, httpClient *http.Client) *cobra.Command {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 0}
	}
	c := &common{getenv: getenv, httpClient: httpClient}
	cmd := &cobra.Command{
		Use:   "erase",
		Short: "Erase personal data through the admin API (data subject requests); admins only",
		Long: `Erases personal data for good, through the admin API of the server you logged
in to with herald login. It needs the admin role; each erasure is recorded in
the audit log with the receiver masked. Messages past their app's
retention_days are erased by the worker on its own (see herald apps).`,
		Example: `  herald erase receiver +8613800138000 --reason "data subject request 2026-118"`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("choose what to erase: receiver (see herald erase --help)")
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&c.credentials, "credentials", "", "credentials file written by herald login (default: $HERALD_CREDENTIALS or the user config dir)")
	pf.StringVarP(&c.output, "output", "o", "table", "output: table or json")
	cmd.AddCommand(newEraseReceiverCommand(stdout, c))
	return cmd
}

// eraseReceiverOptions are the flags of `herald erase receiver`.
type eraseReceiverOptions struct {
	channelType      string
	reason           string
	keepSuppressions bool
}

func (o *eraseReceiverOptions) Validate() error {
	if strings.TrimSpace(o.reason) == "" {
		return errors.New("--reason is required: say why the data is erased (it goes to the audit log)")
	}
	return nil
}

func newEraseReceiverCommand(stdout io.Writer, c *common) *cobra.Command {
	var o eraseReceiverOptions
	cmd := &cobra.Command{
		Use:   "receiver RECEIVER",
		Short: "Erase everything Herald keeps about one receiver, in every app",
		Long: `Erases the personal data of one receiver's messages in every app: receiver,
its keyed hash, subject, content, template params, attachments and the texts
of its replies. Message rows, statuses, timestamps and statistics stay.
Messages are found by the receiver's keyed hash, never by the receiver itself;
give phone numbers as stored, in E.164 (+8613800138000).

Only finished messages are erased: messages still in flight are counted and
left alone. Run the command again once they have finished (or cancel them with
herald messages cancel first).

The receiver's opt-outs (suppressions) are deleted, so it may be sent to again;
--keep-suppressions keeps them, by keyed hash only, with their masked receiver
and reason cleared, so the opt-out still holds.

Workflow histories in Temporal cannot be edited: they keep what the payload
codec left readable until the namespace's retention removes them.`,
		Example: `  herald erase receiver +8613800138000 --reason "data subject request 2026-118"
  herald erase receiver user@example.com --channel-type email --reason "request 119" --keep-suppressions`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			req := messages.ErasureRequest{Receiver: args[0], ChannelType: o.channelType, Reason: o.reason, KeepSuppressions: o.keepSuppressions}
			var res messages.Erasure
			if err := cl.Do(cmd.Context(), http.MethodPost, "/erasures", nil, req, &res); err != nil {
				return err
			}
			if c.output == "json" {
				return writeJSON(stdout, res)
			}
			suppressions := "deleted"
			if o.keepSuppressions {
				suppressions = "kept, keyed only"
			}
			_, err = fmt.Fprintf(stdout, "receiver %s erased: %d messages, %d replies, %d opt-outs %s\n",
				res.ReceiverMasked, res.MessagesErased, res.RepliesErased, res.SuppressionsErased, suppressions)
			if err == nil && res.InFlight > 0 {
				_, err = fmt.Fprintf(stdout, "%d messages still in flight were left alone; erase again once they have finished\n", res.InFlight)
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.channelType, "channel-type", "", "erase only messages and opt-outs of this channel type (sms, email, ...); default all")
	fl.StringVar(&o.reason, "reason", "", "why the data is erased, for the audit log (required)")
	fl.BoolVar(&o.keepSuppressions, "keep-suppressions", false, "keep the receiver's opt-outs, keyed only, so they still hold")
	return cmd
}

package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/nyaruka/phonenumbers"
	"github.com/spf13/cobra"

	"github.com/heraldhq/herald/store"
)

// suppressionOptions are the flags of `herald suppression list|add|remove`.
type suppressionOptions struct {
	// action is list, add or remove; it decides which flags are required.
	action   string
	app      string
	typ      string
	receiver string
	reason   string
}

// Validate lists every missing or malformed flag.
func (o *suppressionOptions) Validate() error {
	var p []string
	if strings.TrimSpace(o.app) == "" {
		p = append(p, "--app is required")
	}
	if o.typ == "" && o.action != "list" {
		p = append(p, "--type is required")
	}
	if o.typ != "" && !slices.Contains(store.ChannelTypes, o.typ) {
		p = append(p, fmt.Sprintf("--type %q is not a channel type (one of %s)", o.typ, strings.Join(store.ChannelTypes, ", ")))
	}
	if strings.TrimSpace(o.receiver) == "" && o.action != "list" {
		p = append(p, "--receiver is required")
	}
	if o.receiver != "" && o.typ == "" {
		p = append(p, "--receiver needs --type: a receiver is keyed per channel type")
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

// receiverForm returns the receiver as the API stores it: an SMS number in
// E.164 (a number without a country code is taken as mainland China's).
func (o *suppressionOptions) receiverForm() (string, error) {
	r := strings.TrimSpace(o.receiver)
	if o.typ != store.ChannelSMS {
		return r, nil
	}
	num, err := phonenumbers.Parse(r, "CN")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", errors.New("--receiver is not a valid phone number: write it in E.164 form (+8613800138000) or as a mainland China number")
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

func newSuppressionCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "suppression",
		Short: "List, add and remove receivers who opted out of an app's messages",
		Long: `The suppression list holds, per app and channel type, the receivers who must
get no more messages: those who replied TD, T, 退订 or STOP to an SMS, and
those an operator added. A send to one of them is refused with code 10005,
except from templates of kind verification.

Receivers are stored only as a keyed hash and a masked form
(+86138****8000), so the list shows masked receivers and finds one only
when you name it. Without --database-url the dev store in --data-dir is
used; otherwise --master-key must be the store's key (receiver keys are
derived from it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("choose a suppression command: list, add or remove (see herald suppression --help)")
		},
	}
	c := newConfigured(cmd.PersistentFlags(), getenv)
	cmd.AddCommand(
		newSuppressionListCommand(stdout, c),
		newSuppressionAddCommand(stdout, c),
		newSuppressionRemoveCommand(stdout, c),
	)
	return cmd
}

func suppressionFlags(cmd *cobra.Command, o *suppressionOptions) {
	f := cmd.Flags()
	f.StringVar(&o.app, "app", "", "app id")
	f.StringVar(&o.typ, "type", "", "channel type: "+strings.Join(store.ChannelTypes, ", "))
	f.StringVar(&o.receiver, "receiver", "", "receiver: phone number, e-mail address or user id")
}

func newSuppressionListCommand(stdout io.Writer, c *configured) *cobra.Command {
	o := &suppressionOptions{action: "list"}
	cmd := &cobra.Command{
		Use:   "list --app APP [--type TYPE] [--receiver R]",
		Short: "List an app's suppressed receivers, masked",
		Example: `  herald suppression list --app shop
  herald suppression list --app shop --type sms --receiver +8613800138000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			filter := store.SuppressionFilter{AppID: o.app, ChannelType: o.typ}
			s, err := openToolStack(cmd.Context(), c, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer s.Close()
			if o.receiver != "" {
				r, err := o.receiverForm()
				if err != nil {
					return err
				}
				filter.ReceiverKey = s.receiverKeys.Key(o.typ, r)
			}
			rows, err := s.db.ListSuppressions(cmd.Context(), filter)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TYPE\tRECEIVER\tSOURCE\tREASON\tSINCE")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ChannelType, r.ReceiverMasked, r.Source, r.Reason, r.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"))
			}
			return tw.Flush()
		},
	}
	suppressionFlags(cmd, o)
	return cmd
}

func newSuppressionAddCommand(stdout io.Writer, c *configured) *cobra.Command {
	o := &suppressionOptions{action: "add"}
	cmd := &cobra.Command{
		Use:   "add --app APP --type TYPE --receiver R [--reason TEXT]",
		Short: "Stop an app's messages of one channel type to a receiver",
		Example: `  herald suppression add --app shop --type sms --receiver +8613800138000 --reason "asked by phone"
  herald suppression add --app shop --type email --receiver user@example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			r, err := o.receiverForm()
			if err != nil {
				return err
			}
			s, err := openToolStack(cmd.Context(), c, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer s.Close()
			if _, err := s.db.GetApp(cmd.Context(), o.app); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no app %q", o.app)
			} else if err != nil {
				return err
			}
			masked := store.MaskReceiver(o.typ, r)
			err = s.db.AddSuppression(cmd.Context(), &store.Suppression{
				AppID: o.app, ChannelType: o.typ, ReceiverKey: s.receiverKeys.Key(o.typ, r),
				ReceiverMasked: masked, Reason: o.reason, Source: store.SuppressionOperator,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s %s: suppressed for app %s\n", o.typ, masked, o.app)
			return nil
		},
	}
	suppressionFlags(cmd, o)
	cmd.Flags().StringVar(&o.reason, "reason", "added by an operator", "why, for the list")
	return cmd
}

func newSuppressionRemoveCommand(stdout io.Writer, c *configured) *cobra.Command {
	o := &suppressionOptions{action: "remove"}
	cmd := &cobra.Command{
		Use:     "remove --app APP --type TYPE --receiver R",
		Short:   "Let an app's messages of one channel type reach a receiver again",
		Example: `  herald suppression remove --app shop --type sms --receiver +8613800138000`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			r, err := o.receiverForm()
			if err != nil {
				return err
			}
			s, err := openToolStack(cmd.Context(), c, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer s.Close()
			masked := store.MaskReceiver(o.typ, r)
			err = s.db.RemoveSuppression(cmd.Context(), o.app, o.typ, s.receiverKeys.Key(o.typ, r))
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%s %s is not suppressed for app %s", o.typ, masked, o.app)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s %s: no longer suppressed for app %s\n", o.typ, masked, o.app)
			return nil
		},
	}
	suppressionFlags(cmd, o)
	return cmd
}

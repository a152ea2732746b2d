package resourcecli

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"
)

var kinds = []kind{
	{
		name: "apps", singular: "app", idHelp: "id", enable: true,
		short: "Manage client apps: create, change limits and grants, enable or disable, rotate secrets",
		columns: []column{
			{"ID", field("id")}, {"NAME", field("name")}, {"ENABLED", field("enabled")}, {"GRANTS", field("grants")},
			{"RATE/S", field("rate_limit_per_second")}, {"MSG/MIN", field("messages_per_minute")}, {"VERSION", field("version")},
		},
		flags: []setFlag{
			{"id", "id", "the app's id (create only)", "string"},
			{"name", "name", "display name", "string"},
			{"grants", "grants", "channels the app may use, by name", "strings"},
			{"ip-allowlist", "ip_allowlist", "IP addresses or CIDR ranges allowed to call", "strings"},
			{"rate-limit-per-second", "rate_limit_per_second", "API requests per second (0: server default)", "int"},
			{"messages-per-minute", "messages_per_minute", "accepted messages per minute (0: server default)", "int"},
			{"status-callback-url", "status_callback_url", "where status events are pushed", "string"},
			{"time-zone", "time_zone", "IANA time zone of quota periods", "string"},
			{"retention-days", "retention_days", "days the personal data of finished messages is kept (0: for ever)", "int"},
		},
		extra:   []func(io.Writer, *commonOptions, kind) *cobra.Command{newRotateSecretCommand},
		example: "  herald apps list\n  herald apps create --id shop --grants sms\n  herald apps disable shop\n  herald apps rotate-secret shop",
	},
	{
		name: "channels", singular: "channel", idHelp: "id", enable: true,
		short: "Manage channels: pools of accounts with weights, templates, quiet hours, caps",
		columns: []column{
			{"ID", field("id")}, {"NAME", field("name")}, {"TYPE", field("type")}, {"ENABLED", field("enabled")},
			{"TEMPLATE", field("template")}, {"POOL", poolText}, {"VERSION", field("version")},
		},
		flags: []setFlag{
			{"name", "name", "the channel's name (create only)", "string"},
			{"type", "type", "sms, email, wechat_work, dingtalk, feishu, webhook or push", "string"},
			{"template", "template", "default template, by name", "string"},
			{"signature-names", "signature_names", "allowed SMS signatures", "strings"},
			{"max-attempts", "max_attempts", "send attempts across accounts (0: default)", "int"},
			{"receipt-timeout-seconds", "receipt_timeout_seconds", "wait for a delivery receipt (0: default)", "int"},
			{"default-ttl-seconds", "default_ttl_seconds", "expiry of messages that set none (0: 24 hours)", "int"},
		},
		example: "  herald channels list\n  herald channels update 3 -f pool.yaml\n  herald channels disable 3",
	},
	{
		name: "accounts", singular: "account", idHelp: "id", enable: true,
		short: "Manage provider accounts; credentials are write-only and read back masked",
		columns: []column{
			{"ID", field("id")}, {"NAME", field("name")}, {"KIND", field("kind")}, {"ENABLED", field("enabled")},
			{"WEIGHT", field("weight")}, {"RATE/MIN", field("rate_limit_per_minute")}, {"VERSION", field("version")},
		},
		flags: []setFlag{
			{"name", "name", "the account's name (create only)", "string"},
			{"kind", "kind", "provider kind: aliyun, tencent, smtp, sandbox, ...", "string"},
			{"weight", "weight", "default weight in pools", "int"},
			{"rate-limit-per-minute", "rate_limit_per_minute", "sends per minute (0: the provider's cap)", "int"},
		},
		extra:   []func(io.Writer, *commonOptions, kind) *cobra.Command{newAccountTestCommand},
		example: "  herald accounts list\n  herald accounts create -f account.yaml\n  herald accounts test 2 --receiver +8613800138000 --param code=1234\n  herald accounts disable 2",
	},
	{
		name: "templates", singular: "template", idHelp: "id",
		short: "Manage message templates and how each account sends them",
		columns: []column{
			{"ID", field("id")}, {"NAME", field("name")}, {"CONTENT TYPE", field("content_type")},
			{"VARIABLES", field("variables")}, {"KIND", field("kind")}, {"VERSION", field("version")},
		},
		flags: []setFlag{
			{"name", "name", "the template's name (create only)", "string"},
			{"content-type", "content_type", "text (default), html or markdown", "string"},
			{"subject", "subject", "subject, for e-mail", "string"},
			{"content", "content", "content with {{variable}} placeholders", "string"},
			{"variables", "variables", "every variable the content uses", "strings"},
			{"description", "description", "what the template is for", "string"},
		},
		extra:   []func(io.Writer, *commonOptions, kind) *cobra.Command{newDeleteCommand},
		example: "  herald templates list\n  herald templates create --name code --content 'Code {{code}}' --variables code\n  herald templates delete 2",
	},
	{
		name: "rules", singular: "rule", idHelp: "id", enable: true,
		short: "Manage failure rules (retry, switch, fail, alert), checked by the rule engine",
		columns: []column{
			{"ID", field("id")}, {"NAME", field("name")}, {"SCENE", field("scene")}, {"PRIORITY", field("priority")},
			{"ERROR CODES", field("error_codes")}, {"ACTION", field("action")}, {"ENABLED", field("enabled")}, {"VERSION", field("version")},
		},
		flags: []setFlag{
			{"name", "name", "the rule's name (create only)", "string"},
			{"scene", "scene", "send_failure or callback_failure", "string"},
			{"priority", "priority", "evaluation order, lowest first", "int"},
			{"provider-kind", "provider_kind", "only failures of this provider kind", "string"},
			{"error-codes", "error_codes", "provider error codes the rule matches", "strings"},
			{"error-keywords", "error_keywords", "words of the error message the rule matches", "strings"},
			{"action", "action", "retry, switch, fail or alert", "string"},
			{"max-retry", "max_retry", "retries of a retry rule", "int"},
			{"delay-seconds", "delay_seconds", "delay before a retry", "int"},
			{"then-action", "then_action", "what an alert rule does next", "string"},
		},
		extra:   []func(io.Writer, *commonOptions, kind) *cobra.Command{newDeleteCommand},
		example: "  herald rules list\n  herald rules create --name throttled --scene send_failure --error-codes THROTTLED --action retry --max-retry 2\n  herald rules delete 4",
	},
}

// newRotateSecretCommand gives an app a new secret and prints it once.
func newRotateSecretCommand(stdout io.Writer, o *commonOptions, k kind) *cobra.Command {
	return &cobra.Command{
		Use:     "rotate-secret ID",
		Short:   "Give an app a new secret; it is printed once, and the old one stops working at once",
		Args:    cobra.ExactArgs(1),
		Example: "  herald apps rotate-secret shop",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			var obj map[string]any
			if err := c.Do(cmd.Context(), http.MethodPost, objectPath(k, args[0])+"/rotate-secret", nil, nil, &obj); err != nil {
				return err
			}
			return writeObject(stdout, o.output, obj)
		},
	}
}

// newDeleteCommand deletes a rule.
func newDeleteCommand(stdout io.Writer, o *commonOptions, k kind) *cobra.Command {
	return &cobra.Command{
		Use:     "delete ID",
		Short:   "Delete a " + k.singular,
		Args:    cobra.ExactArgs(1),
		Example: fmt.Sprintf("  herald %s delete 4", k.name),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), http.MethodDelete, objectPath(k, args[0]), nil, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s %s deleted\n", k.singular, args[0])
			return nil
		},
	}
}

// accountTestOptions are the flags of herald accounts test.
type accountTestOptions struct {
	receiver string
	params   map[string]string
}

// Validate checks the receiver.
func (o *accountTestOptions) Validate() error {
	if o.receiver == "" {
		return errors.New("--receiver is required: the phone number, address or target to send the test message to")
	}
	return nil
}

// newAccountTestCommand sends a test message through one account.
func newAccountTestCommand(stdout io.Writer, o *commonOptions, k kind) *cobra.Command {
	t := &accountTestOptions{}
	cmd := &cobra.Command{
		Use:   "test ID --receiver RECEIVER",
		Short: "Send a test message through one account and print its task id",
		Long: `Send a test message through one provider account on behalf of the built-in
operators' app (herald-operators) and print its task id. The message goes
through the running service like any other: it uses the first enabled
channel whose pool holds the account and whose template the --param values
fill exactly, and every attempt goes through that account only. Follow it
with: herald messages show TASK_ID.

The account must be enabled and in at least one channel's pool; add it to
a channel pool first otherwise. This is unlike herald provider test, which
calls the provider directly without the service.`,
		Args: cobra.ExactArgs(1),
		Example: `  herald accounts test 2 --receiver +8613800138000 --param code=1234
  herald accounts test 5 --receiver ops@example.com -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := t.Validate(); err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			var out map[string]any
			body := map[string]any{"receiver": t.receiver, "template_params": t.params}
			if err := c.Do(cmd.Context(), http.MethodPost, objectPath(k, args[0])+"/test", nil, body, &out); err != nil {
				return err
			}
			return writeObject(stdout, o.output, out)
		},
	}
	cmd.Flags().StringVar(&t.receiver, "receiver", "", "phone number, address or target")
	cmd.Flags().StringToStringVar(&t.params, "param", nil, "template parameter NAME=VALUE (repeatable)")
	return cmd
}

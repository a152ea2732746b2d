package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/heraldhq/herald/api/admin"
	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

// devAdminName is the user `herald dev` creates on first start.
const devAdminName = "admin"

// devAdmin is what the dev banner says about the operators' sign-in.
type devAdmin struct {
	Password string // set only when just created
	Created  bool
}

// cliActor names the operating-system user for the audit log: $USER
// (%USERNAME% on Windows), else the account the process runs as.
func cliActor(getenv func(string) string) string {
	for _, k := range []string{"USER", "USERNAME"} {
		if name := getenv(k); name != "" {
			return "cli:" + name
		}
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli:unknown"
}

// cliUsers is the user service for commands that work on the store
// directly: one hash at a time is plenty.
func cliUsers(db *store.DB) (*admin.Users, error) {
	h, err := admin.NewHasher(admin.DefaultArgon2, admin.HashLimits{Concurrency: 1, Queue: 1, Wait: time.Minute})
	if err != nil {
		return nil, err
	}
	return admin.NewUsers(db, h, nil), nil
}

// ensureDevAdmin creates the dev admin with a random password unless it
// exists.
func ensureDevAdmin(ctx context.Context, db *store.DB, actor string) (devAdmin, error) {
	_, err := db.GetAdminUserByName(ctx, devAdminName)
	if err == nil {
		return devAdmin{}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return devAdmin{}, err
	}
	password, err := randomPassword()
	if err != nil {
		return devAdmin{}, err
	}
	users, err := cliUsers(db)
	if err != nil {
		return devAdmin{}, err
	}
	if _, err := users.Create(ctx, admin.Actor{Name: actor}, devAdminName, password, adminhttp.RoleAdmin); err != nil {
		return devAdmin{}, fmt.Errorf("create dev admin: %w", err)
	}
	return devAdmin{Password: password, Created: true}, nil
}

func randomPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// passwordSource reads a password: the first line of standard input with
// --password-stdin, otherwise a prompt on the terminal that does not
// echo (twice when confirm is set).
type passwordSource struct {
	fromStdin bool
	stdin     io.Reader
	prompt    io.Writer
}

func (p passwordSource) read(confirm bool) (string, error) {
	if p.fromStdin {
		line, err := bufio.NewReader(p.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("standard input held no password")
		}
		return pw, nil
	}
	f, ok := p.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("standard input is not a terminal: pass the password on standard input with --password-stdin")
	}
	fmt.Fprint(p.prompt, "Password: ")
	raw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(p.prompt)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if confirm {
		fmt.Fprint(p.prompt, "Repeat it: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(p.prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(again) != string(raw) {
			return "", errors.New("the passwords differ")
		}
	}
	return string(raw), nil
}

func newAdminCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage the operators of the admin API directly on the store",
		Long: `Commands that work on the store directly, like herald apply, for
bootstrapping and recovery: no server and no sign-in needed, only the
database (and the master key with --database-url). Every change is
recorded in the audit log with actor cli:<os user>.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("choose an admin command: user (see herald admin --help)")
		},
	}
	c := newConfigured(cmd.PersistentFlags(), getenv)
	user := &cobra.Command{
		Use:   "user",
		Short: "Create, list, disable and enable users, and set their passwords",
		Long: `Users sign in to the operators' API (herald login, the web console). Roles:
viewer reads (receivers and contents masked), operator also changes
configuration and acts on messages, admin also manages users.

Passwords are at least 12 characters. They are read from the terminal
without echo, or from the first line of standard input with
--password-stdin.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("choose a user command: create, passwd, disable, enable or list (see herald admin user --help)")
		},
	}
	user.AddCommand(
		newAdminUserCreateCommand(stdout, c, getenv),
		newAdminUserPasswdCommand(stdout, c, getenv),
		newAdminUserStateCommand(stdout, c, getenv, true),
		newAdminUserStateCommand(stdout, c, getenv, false),
		newAdminUserListCommand(stdout, c),
	)
	cmd.AddCommand(user)
	return cmd
}

// adminUserCreateOptions are the flags of `herald admin user create`.
type adminUserCreateOptions struct {
	name          string
	role          string
	passwordStdin bool
}

// Validate says what is missing or wrong.
func (o *adminUserCreateOptions) Validate() error {
	var errs []error
	if err := admin.ValidateUsername(admin.NormalizeUsername(o.name)); err != nil {
		errs = append(errs, fmt.Errorf("NAME: %w", err))
	}
	if _, err := adminhttp.ParseRole(o.role); err != nil {
		errs = append(errs, fmt.Errorf("--role: %w", err))
	}
	return errors.Join(errs...)
}

func newAdminUserCreateCommand(stdout io.Writer, c *configured, getenv func(string) string) *cobra.Command {
	o := &adminUserCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create NAME --role viewer|operator|admin",
		Short: "Create a user",
		Example: `  herald admin user create ann --role operator
  printf '%s\n' "$PASSWORD" | herald admin user create ci --role viewer --password-stdin \
    --database-url postgres://herald@db/herald --master-key "$HERALD_MASTER_KEY"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			pw, err := passwordSource{fromStdin: o.passwordStdin, stdin: cmd.InOrStdin(), prompt: cmd.ErrOrStderr()}.read(true)
			if err != nil {
				return err
			}
			return withUsers(cmd, c, func(ctx context.Context, db *store.DB, users *admin.Users) error {
				u, err := users.Create(ctx, admin.Actor{Name: cliActor(getenv)}, o.name, pw, adminhttp.Role(o.role))
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(stdout, "created user %s (id %d, role %s)\n", u.Username, u.ID, u.Role)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&o.role, "role", "", "viewer, operator or admin")
	cmd.Flags().BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	return cmd
}

func newAdminUserPasswdCommand(stdout io.Writer, c *configured, getenv func(string) string) *cobra.Command {
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password; this ends the user's sign-ins",
		Example: `  herald admin user passwd admin
  printf '%s\n' "$PASSWORD" | herald admin user passwd admin --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := passwordSource{fromStdin: passwordStdin, stdin: cmd.InOrStdin(), prompt: cmd.ErrOrStderr()}.read(true)
			if err != nil {
				return err
			}
			return withUser(cmd, c, args[0], func(ctx context.Context, users *admin.Users, u *store.AdminUser) error {
				if _, err := users.Update(ctx, admin.Actor{Name: cliActor(getenv)}, u.ID, admin.UserPatch{Password: &pw}); err != nil {
					return err
				}
				_, err := fmt.Fprintf(stdout, "set the password of %s; its sign-ins have ended\n", u.Username)
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	return cmd
}

func newAdminUserStateCommand(stdout io.Writer, c *configured, getenv func(string) string, disable bool) *cobra.Command {
	verb, short, example := "enable", "Let a disabled user sign in again", "  herald admin user enable ann"
	if disable {
		verb, short, example = "disable", "Stop a user from signing in; this ends the user's sign-ins at once", "  herald admin user disable ann"
	}
	return &cobra.Command{
		Use:     verb + " NAME",
		Short:   short,
		Example: example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUser(cmd, c, args[0], func(ctx context.Context, users *admin.Users, u *store.AdminUser) error {
				if _, err := users.Update(ctx, admin.Actor{Name: cliActor(getenv)}, u.ID, admin.UserPatch{Disabled: &disable}); err != nil {
					return err
				}
				_, err := fmt.Fprintf(stdout, "%sd user %s\n", verb, u.Username)
				return err
			})
		},
	}
}

func newAdminUserListCommand(stdout io.Writer, c *configured) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Example: `  herald admin user list
  herald admin user list -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validateOutput(output); err != nil {
				return err
			}
			return withUsers(cmd, c, func(ctx context.Context, db *store.DB, _ *admin.Users) error {
				var all []store.AdminUser
				var after int64
				for {
					page, err := db.ListAdminUsers(ctx, store.AdminUserFilter{After: after, Limit: 500})
					if err != nil {
						return err
					}
					all = append(all, page...)
					if len(page) < 500 {
						break
					}
					after = page[len(page)-1].ID
				}
				return printUsers(stdout, all, output)
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func printUsers(w io.Writer, users []store.AdminUser, output string) error {
	if output == "json" {
		type row struct {
			ID        int64     `json:"id"`
			Username  string    `json:"username"`
			Role      string    `json:"role"`
			Disabled  bool      `json:"disabled"`
			Version   int       `json:"version"`
			CreatedAt time.Time `json:"created_at"`
		}
		rows := make([]row, 0, len(users))
		for _, u := range users {
			rows = append(rows, row{u.ID, u.Username, u.Role, u.Disabled, u.Version, u.CreatedAt.UTC()})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tROLE\tSTATE\tCREATED")
	for _, u := range users {
		state := "enabled"
		if u.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Role, state, u.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func validateOutput(o string) error {
	if o != "table" && o != "json" {
		return fmt.Errorf("-o/--output %q: use table or json", o)
	}
	return nil
}

// withUsers opens the store for a user command.
func withUsers(cmd *cobra.Command, c *configured, fn func(ctx context.Context, db *store.DB, users *admin.Users) error) error {
	s, err := openToolStack(cmd.Context(), c, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer s.Close()
	users, err := cliUsers(s.db)
	if err != nil {
		return err
	}
	return plainProblem(fn(cmd.Context(), s.db, users))
}

// plainProblem turns the user service's API errors into plain messages
// for the terminal; internal causes stay attached.
func plainProblem(err error) error {
	p, ok := adminhttp.AsProblem(err)
	if !ok {
		return err
	}
	if p.Err != nil {
		return fmt.Errorf("%s: %w", p.Message, p.Err)
	}
	return errors.New(p.Message)
}

// withUser opens the store and finds a user by name.
func withUser(cmd *cobra.Command, c *configured, name string, fn func(ctx context.Context, users *admin.Users, u *store.AdminUser) error) error {
	return withUsers(cmd, c, func(ctx context.Context, db *store.DB, users *admin.Users) error {
		u, err := db.GetAdminUserByName(ctx, admin.NormalizeUsername(name))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no user %q (see herald admin user list)", name)
		}
		if err != nil {
			return err
		}
		return fn(ctx, users, u)
	})
}

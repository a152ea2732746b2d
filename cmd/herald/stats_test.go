package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	adminstats "github.com/heraldhq/herald/api/admin/stats"
	"github.com/heraldhq/herald/internal/adminclient"
	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

// statsNow is the clock of the statistics CLI tests, server and CLI alike.
var statsNow = time.Date(2026, 12, 3, 10, 30, 0, 0, time.UTC)

// statsServer serves the statistics route over a real store holding a
// known set of messages, behind a stand-in for the admin server's
// authentication ("Bearer test-<role>"), and returns a credentials file
// for it.
func statsServer(t *testing.T) (credentials string) {
	t.Helper()
	ctx := t.Context()
	key := bytes.Repeat([]byte{7}, 32)
	c, err := store.NewCipher(key)
	require.NoError(t, err)
	db, err := store.Open(ctx, store.Options{URL: "sqlite://" + filepath.Join(t.TempDir(), "stats.db"), Cipher: c})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(ctx)
	require.NoError(t, err)

	sms := &store.Channel{Name: "sms-otp", Type: store.ChannelSMS, Enabled: true, MaxAttempts: 3}
	mail := &store.Channel{Name: "mail", Type: store.ChannelEmail, Enabled: true, MaxAttempts: 3}
	require.NoError(t, db.CreateChannel(ctx, sms))
	require.NoError(t, db.CreateChannel(ctx, mail))
	acc := &store.ProviderAccount{Name: "ali-main", Kind: "aliyun", Config: json.RawMessage(`{}`), Weight: 1, Enabled: true}
	require.NoError(t, db.CreateAccount(ctx, acc))
	sentStatus := "sent"
	send := func(task string, ch *store.Channel, at time.Time, status string, latency time.Duration) {
		m := &store.Message{TaskID: task, AppID: "shop", ChannelID: ch.ID, MessageType: ch.Type, Receiver: "+8613800000000",
			Content: "code 1234", Status: "pending", MaxAttempts: 3, CreatedAt: at}
		require.NoError(t, db.CreateMessages(ctx, []*store.Message{m}, nil))
		if status == "pending" {
			return
		}
		require.NoError(t, db.RecordAccepted(ctx, task, acc.ID, "pm-"+task, store.MessagePatch{Status: &sentStatus}, nil))
		fin := at.Add(latency)
		require.NoError(t, db.RecordMessage(ctx, task, store.MessagePatch{Status: &status, FinishedAt: &fin}, nil))
	}
	smsAt := time.Date(2026, 12, 3, 8, 10, 0, 0, time.UTC)
	for i := range 8 {
		send(fmt.Sprintf("s-%d", i), sms, smsAt, "success", time.Duration(i+1)*time.Second)
	}
	send("s-8", sms, smsAt, "failed", 30*time.Second)
	send("s-9", sms, smsAt, "pending", 0)
	mailAt := time.Date(2026, 12, 3, 9, 20, 0, 0, time.UTC)
	for i := range 3 {
		send(fmt.Sprintf("m-%d", i), mail, mailAt, "success", 2*time.Second)
	}
	send("m-3", mail, mailAt, "cancelled", 400*time.Millisecond)

	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if p, ok := adminhttp.AsProblem(err); ok {
			_ = c.JSON(p.Status, p)
			return
		}
		_ = c.JSON(500, adminhttp.Internal("request", err))
	}
	g := e.Group(adminclient.Prefix, func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if role, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer test-"); ok {
				if r, err := adminhttp.ParseRole(role); err == nil {
					adminhttp.SetPrincipal(c, adminhttp.Principal{UserID: 1, Username: role, Role: r})
				}
			}
			return next(c)
		}
	})
	adminstats.Register(g, adminstats.Deps{Store: db, Now: func() time.Time { return statsNow }})
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)

	credentials = filepath.Join(t.TempDir(), "credentials.json")
	creds := &adminclient.Credentials{URL: ts.URL, Username: "viewer", Role: "viewer", AccessToken: "test-viewer",
		AccessExpiresAt: time.Now().Add(time.Hour), RefreshToken: "unused"}
	require.NoError(t, creds.Save(credentials))
	return credentials
}

func runStats(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newStatsCommand(&out, func(k string) string { return env[k] }, func() time.Time { return statsNow }, nil)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

// requireGolden compares out with testdata/name; HERALD_UPDATE_GOLDEN=1
// rewrites the file instead.
func requireGolden(t *testing.T, name, out string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("HERALD_UPDATE_GOLDEN") != "" {
		require.NoError(t, os.MkdirAll("testdata", 0o750))
		require.NoError(t, os.WriteFile(path, []byte(out), 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), out)
}

func TestStatsCommand(t *testing.T) {
	t.Parallel()
	creds := statsServer(t)

	t.Run("TotalsByChannel", func(t *testing.T) {
		out, err := runStats(t, map[string]string{"HERALD_CREDENTIALS": creds}, "--by", "channel", "--since", "24h")
		require.NoError(t, err)
		requireGolden(t, "stats_by_channel.golden", out)
	})
	t.Run("HourlyByStatus", func(t *testing.T) {
		out, err := runStats(t, nil, "--credentials", creds, "--by", "status", "--since", "3h", "--interval", "hour")
		require.NoError(t, err)
		requireGolden(t, "stats_by_status_hourly.golden", out)
	})
	t.Run("JSON", func(t *testing.T) {
		out, err := runStats(t, nil, "--credentials", creds, "--by", "channel", "--since", "24h", "-o", "json")
		require.NoError(t, err)
		var rep struct {
			Series []struct {
				Key   string
				Name  string
				Total struct {
					Accepted    int64   `json:"accepted"`
					SuccessRate float64 `json:"success_rate"`
				}
			}
		}
		require.NoError(t, json.Unmarshal([]byte(out), &rep))
		require.Len(t, rep.Series, 2)
		require.Equal(t, "sms-otp", rep.Series[0].Name)
		require.Equal(t, int64(10), rep.Series[0].Total.Accepted)
		require.InDelta(t, 8.0/9.0, rep.Series[0].Total.SuccessRate, 1e-9)
	})
	t.Run("ErrBadFlags", func(t *testing.T) {
		_, err := runStats(t, nil, "--credentials", creds, "--by", "receiver", "--interval", "week", "-o", "xml")
		require.ErrorContains(t, err, `--by "receiver"`)
		require.ErrorContains(t, err, `--interval "week"`)
		require.ErrorContains(t, err, `-o "xml"`)
	})
	t.Run("ErrServerRefuses", func(t *testing.T) {
		_, err := runStats(t, nil, "--credentials", creds, "--since", "2000h", "--interval", "hour")
		require.ErrorContains(t, err, "field from")
		require.ErrorContains(t, err, "HTTP 400")
	})
	t.Run("ErrNotLoggedIn", func(t *testing.T) {
		_, err := runStats(t, nil, "--credentials", filepath.Join(t.TempDir(), "none.json"))
		require.ErrorIs(t, err, adminclient.ErrNotLoggedIn)
	})
	t.Run("Help", func(t *testing.T) {
		res := runCLI(t, nil, "stats", "--help")
		require.Equal(t, 0, res.code)
		require.Contains(t, res.stdout, "herald stats --by channel --since 24h")
		require.Contains(t, res.stdout, "HERALD_CREDENTIALS")
	})
}

package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

// requireRateLimited asserts a 429 with the rate-limit code, a Retry-After
// in whole seconds and a message naming the limit.
func requireRateLimited(t *testing.T, res result, limit string) {
	t.Helper()
	requireError(t, res, http.StatusTooManyRequests, CodeRateLimited)
	secs, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q", res.Header.Get("Retry-After"))
	require.Positive(t, secs)
	require.Contains(t, res.Message, limit)
}

func TestRequestRate(t *testing.T) {
	t.Parallel()
	t.Run("ErrRequestsPerMinuteWithBurst", func(t *testing.T) {
		t.Parallel()
		f := setup(t, withApp(func(a *store.App) { a.RequestsPerMinute, a.Burst = 60, 2 }))
		path := "/api/v1/messages/" + uuid.NewString()
		for range 2 {
			requireError(t, f.call(t, http.MethodGet, path, ""), http.StatusNotFound, CodeTaskNotFound)
		}
		requireRateLimited(t, f.call(t, http.MethodGet, path, ""), "60 requests per minute (burst 2)")
	})
	t.Run("ErrChannelCatalogueCounts", func(t *testing.T) {
		t.Parallel()
		f := setup(t, withApp(func(a *store.App) { a.RateLimitPerSecond = 1 }))
		decodeData(t, f.call(t, http.MethodGet, "/api/v1/channels", ""))
		requireRateLimited(t, f.call(t, http.MethodGet, fmt.Sprintf("/api/v1/channels/%d", chSMS), ""), "1 requests per second")
	})
}

func TestMessageRate(t *testing.T) {
	t.Parallel()
	batch := func(receivers ...string) string {
		raw, _ := json.Marshal(receivers)
		return `{"channel_id":3,"template_params":{"text":"hi"},"receivers":` + string(raw) + `}`
	}
	t.Run("ErrBatchCountedByReceivers", func(t *testing.T) {
		t.Parallel()
		f := setup(t, withApp(func(a *store.App) { a.MessagesPerMinute = 5 }))
		decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages/batch", batch("u1", "u2", "u3")))
		// Three more do not fit in the two left: the whole batch is refused.
		requireRateLimited(t, f.call(t, http.MethodPost, "/api/v1/messages/batch", batch("u4", "u5", "u6")), "5 messages per minute")
		require.Equal(t, 3, f.store.messageCount())
		require.Equal(t, 1, f.store.batchCount())
		// Invalid receivers are not counted: two accepted ones fit.
		decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages/batch", batch("u7", "bad id", "u8")))
		require.Equal(t, 5, f.store.messageCount())
		single := `{"channel_id":3,"receiver":"u9","template_params":{"text":"hi"}}`
		requireRateLimited(t, f.call(t, http.MethodPost, "/api/v1/messages", single), "messages per minute")
	})
	t.Run("ErrBatchLargerThanTheRate", func(t *testing.T) {
		t.Parallel()
		f := setup(t, withConfig(func(c *Config) { c.DefaultMessagesPerMinute = 2 }))
		res := f.call(t, http.MethodPost, "/api/v1/messages/batch", batch("u1", "u2", "u3"))
		requireError(t, res, http.StatusTooManyRequests, CodeRateLimited)
		require.Contains(t, res.Message, "split it")
		require.Zero(t, f.store.messageCount())
	})
	t.Run("OK_OffByDefault", func(t *testing.T) {
		t.Parallel()
		f := setup(t, withConfig(func(c *Config) { c.BatchMaxSize = 3000 }))
		receivers := make([]string, 3000)
		for i := range receivers {
			receivers[i] = "user" + strconv.Itoa(i)
		}
		data := decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages/batch", batch(receivers...)))
		require.EqualValues(t, 3000, data["success_count"])
	})
}

func TestAuthFailuresLimitedPerIP(t *testing.T) {
	t.Parallel()
	f := setup(t, withConfig(func(c *Config) {
		c.AuthFailureLimit = 3
		c.AuthFailureWindow = time.Minute
		c.TrustedProxies = []string{"127.0.0.1"}
	}))
	// A client address of its own, so no other test's failures count.
	ip := fmt.Sprintf("10.%d.%d.%d", randByte(), randByte(), randByte())
	other := fmt.Sprintf("10.%d.%d.%d", randByte(), randByte(), randByte())
	fromIP := withHeader("X-Forwarded-For", ip)
	path := "/api/v1/messages/" + uuid.NewString()

	for range 3 {
		requireError(t, f.call(t, http.MethodGet, path, "", fromIP, withSecret("wrong-secret")), http.StatusUnauthorized, CodeBadSignature)
	}
	// Now even a correctly signed request from that address is refused.
	res := f.call(t, http.MethodGet, path, "", fromIP)
	requireRateLimited(t, res, "failed authentications")
	retry, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	require.LessOrEqual(t, retry, 60)
	// Other addresses are not affected.
	requireError(t, f.call(t, http.MethodGet, path, "", withHeader("X-Forwarded-For", other)), http.StatusNotFound, CodeTaskNotFound)

	// The refusal comes before the body is read: a body that never
	// arrives does not delay it.
	body, writer := io.Pipe()
	t.Cleanup(func() { _ = writer.Close() })
	req, err := http.NewRequest(http.MethodPost, f.ts.URL+"/api/v1/messages", body)
	require.NoError(t, err)
	req.ContentLength = 1 << 20
	req.Header.Set("X-Forwarded-For", ip)
	req.Header.Set(HeaderAppID, f.app.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	require.NoError(t, err, "the server waited for the body")
	defer resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
}

func randByte() int {
	b := make([]byte, 1)
	_, _ = rand.Read(b)
	return int(b[0])
}

func TestBatchAttachmentsStoredOnce(t *testing.T) {
	t.Parallel()
	db := openTestStore(t, testPostgresURL(t))
	ctx := context.Background()
	f := setup(t, withStore(func(*fakeStore) Store { return db }))
	require.NoError(t, db.CreateApp(ctx, &store.App{ID: f.app.ID, Name: "a", Secret: f.app.Secret, Enabled: true, RateLimitPerSecond: 1000}))
	tpl := &store.Template{Name: "report", ContentType: "html", Subject: "Report {{month}}", Content: "<p>Your report for {{month}}</p>", Variables: []string{"month"}}
	require.NoError(t, db.CreateTemplate(ctx, tpl))
	ch := &store.Channel{Name: "reports", Type: store.ChannelEmail, TemplateID: &tpl.ID, Enabled: true}
	require.NoError(t, db.CreateChannel(ctx, ch))
	acc := &store.ProviderAccount{Name: "mail", Kind: providerKind, Config: json.RawMessage(`{}`), Enabled: true, Weight: 1}
	require.NoError(t, db.CreateAccount(ctx, acc))
	require.NoError(t, db.SetPoolMember(ctx, ch.ID, acc.ID, 1))
	require.NoError(t, db.GrantChannel(ctx, f.app.ID, ch.ID))

	content := make([]byte, 1<<20)
	_, err := rand.Read(content)
	require.NoError(t, err)
	receivers := make([]string, 200)
	for i := range receivers {
		receivers[i] = fmt.Sprintf("user%d@example.com", i)
	}
	rawReceivers, err := json.Marshal(receivers)
	require.NoError(t, err)
	body := fmt.Sprintf(`{"channel_id":%d,"template_params":{"month":"May"},"receivers":%s,"attachments":[{"filename":"report.bin","content_base64":"%s"}]}`,
		ch.ID, rawReceivers, base64.StdEncoding.EncodeToString(content))
	data := decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages/batch", body))
	require.EqualValues(t, 200, data["success_count"])

	batchID := data["batch_id"].(string)
	// The members as accepted, then as the batch workflow writes them.
	for _, expand := range []bool{false, true} {
		if expand {
			_, err := db.ExpandBatchMembers(ctx, batchID, 1, 0)
			require.NoError(t, err)
		}
		var messageBytes, stagedBytes, batchBytes int64
		require.NoError(t, db.Bun().NewRaw("SELECT coalesce(sum(octet_length(m::text)), 0) FROM messages m").Scan(ctx, &messageBytes))
		require.NoError(t, db.Bun().NewRaw("SELECT coalesce(sum(octet_length(r::text)), 0) FROM batch_receivers r").Scan(ctx, &stagedBytes))
		require.NoError(t, db.Bun().NewRaw("SELECT coalesce(sum(octet_length(b::text)), 0) FROM batches b").Scan(ctx, &batchBytes))
		t.Logf("request %d bytes; stored: messages %d bytes, staged %d bytes, batch %d bytes", len(body), messageBytes, stagedBytes, batchBytes)
		require.Less(t, messageBytes+stagedBytes+batchBytes, int64(2*len(body)), "a batch request writes at most a small multiple of its size")
		require.Greater(t, batchBytes, int64(len(content)), "the attachment is stored on the batch")
	}

	var withOwn int
	require.NoError(t, db.Bun().NewRaw("SELECT count(*) FROM messages WHERE attachments IS NOT NULL OR content <> ''").Scan(ctx, &withOwn))
	require.Zero(t, withOwn, "members store no attachments or content of their own")
	msgs, err := db.ListBatchMessages(ctx, batchID)
	require.NoError(t, err)
	require.Len(t, msgs, 200)
	for _, m := range msgs {
		require.NotEmpty(t, m.Attachments, "members read their batch's attachments")
	}
	b, err := db.GetBatch(ctx, batchID)
	require.NoError(t, err)
	var atts []struct {
		Filename string `json:"filename"`
		Content  []byte `json:"content"`
	}
	require.NoError(t, json.Unmarshal(b.Attachments, &atts))
	require.Len(t, atts, 1)
	require.Equal(t, "report.bin", atts[0].Filename)
	require.Equal(t, content, atts[0].Content)
}

func TestBatchFootprintBounded(t *testing.T) {
	t.Parallel()
	// 5,000 member rows of about 500 bytes are more than 4 × 64 KiB.
	f := setup(t, withConfig(func(c *Config) { c.BatchMaxSize = 5000; c.MaxBodyBytes = 64 << 10; c.BatchMaxBodyBytes = 64 << 10 }))
	receivers := make([]string, 5000)
	for i := range receivers {
		receivers[i] = "u" + strconv.Itoa(i)
	}
	raw, _ := json.Marshal(receivers)
	body := `{"channel_id":3,"template_params":{"text":"` + strings.Repeat("x", 900) + `"},"receivers":` + string(raw) + `}`
	res := f.call(t, http.MethodPost, "/api/v1/messages/batch", body)
	requireError(t, res, http.StatusBadRequest, CodeInvalidValue)
	require.Contains(t, res.Message, "fewer receivers")
	require.Zero(t, f.store.messageCount())
}

func TestLimitConfig(t *testing.T) {
	t.Parallel()
	err := Config{MaxBodyBytes: 1 << 20, MaxAttachmentBytes: 1 << 20, DefaultMessagesPerMinute: -1, AuthFailureWindow: -time.Second}.Validate()
	require.ErrorContains(t, err, "MaxAttachmentBytes (1048576) must be below MaxBodyBytes")
	require.ErrorContains(t, err, "DefaultMessagesPerMinute must not be negative")
	require.ErrorContains(t, err, "AuthFailureWindow must not be negative")

	d := Config{MaxBodyBytes: 1 << 20}.withDefaults()
	require.Equal(t, int64(3<<18), d.MaxAttachmentBytes, "the default cap fits the body once base64-encoded")
	require.Equal(t, DefaultAuthFailureLimit, d.AuthFailureLimit)
	require.Zero(t, d.DefaultMessagesPerMinute, "no message rate by default")
	require.NoError(t, Config{AuthFailureLimit: -1}.Validate(), "a negative failure limit disables it")
}

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/heraldhq/herald/api/admin"
	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/payloadcodec"
	"github.com/heraldhq/herald/providers/smtp/smtpfake"
	"github.com/heraldhq/herald/providers/tencent/tencentfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestTemporalPayloadsEncrypted sends messages down every path that could
// hand personal data to Temporal — an SMS with template parameters and its
// receipt signal, a receiver the provider refuses (a failure with the
// provider's text), a scheduled message cancelled by an update, an e-mail
// with a subject — then reads their histories and their accounts' breaker
// histories straight from the server, without the codec, and finds every
// payload and failure sealed and no receiver, content or payload text
// anywhere in the bytes. The /codec endpoint then opens those payloads for
// an admin and an operator, and refuses a viewer and an anonymous caller.
func TestTemporalPayloadsEncrypted(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	ctx := t.Context()
	suffix := fmt.Sprintf("%06d", time.Now().UnixNano()%1_000_000)

	// SMS through Tencent: template parameters, then a receipt signal.
	tc := tencentfake.New(t, tencentfake.WithTemplate("1001", 1))
	tc.AutoReceipt(50*time.Millisecond, tencentfake.Success)
	smsTpl := f.template("Your code is {{code}}", "code")
	sms := f.channel(store.ChannelSMS, smsTpl)
	tencentAcc := f.tencentAccount(sms, tc, 1)

	// A second SMS channel on the sandbox, for a scheduled message.
	laterCh := f.channel(store.ChannelSMS, f.template("See you at {{place}}", "place"))
	f.sandboxAccount(laterCh, 1)

	// E-mail: a subject and content, and a receiver the server refuses.
	mail := newSMTPFake(t)
	mailCh := f.channel(store.ChannelEmail, f.typedTemplate("html", "Statement for {{name}}", "<p>Dear {{name}}, your balance is {{amount}}.</p>", "name", "amount"),
		func(c *store.Channel) { c.MaxAttempts = 1 })
	mailAcc := f.smtpAccount(mailCh, mail, 1)
	app, c := f.app()
	// Status callbacks: an activity task (sends are local activities)
	// whose input and result go through the codec as well.
	var callbacks atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		callbacks.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)
	require.NoError(t, h.db.UpdateApp(ctx, app.ID, store.AppPatch{StatusCallbackURL: &hook.URL}))

	secrets := map[string]string{
		"sms receiver":       "+86139" + suffix + "71",
		"sms code":           "code-" + suffix + "-q",
		"scheduled receiver": "+86137" + suffix + "72",
		"scheduled place":    "Ward" + suffix + "Street",
		"mail receiver":      "ann." + suffix + "@example.org",
		"refused receiver":   "gone." + suffix + "@example.org",
		"mail name":          "Annabel" + suffix,
		"mail amount":        "EUR" + suffix + ".17",
		"mail subject":       "Private subject " + suffix,
	}
	// Herald's workflows carry ids, not receivers or contents (activities
	// read those from the store), so what reaches Temporal is error texts,
	// receipts and statuses. These texts are known to be in the payloads:
	// finding them decoded and not in the raw history shows the payloads
	// that matter are the ones sealed.
	inPayloads := []string{
		"mailbox unavailable",                 // the refusal's failure message
		"DELIVRD",                             // the receipt signal
		"cancelled before its scheduled time", // the cancel update's result
	}
	var taskIDs []string

	// 1. SMS with a template parameter and a receipt.
	res, err := c.SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: sms.ID, Receiver: secrets["sms receiver"],
		TemplateParams: map[string]string{"code": secrets["sms code"]}})
	require.NoError(t, err)
	msg := waitFinal(t, c, res.TaskID)
	require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	taskIDs = append(taskIDs, res.TaskID)

	// 2. An e-mail with its own subject.
	res, err = c.SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: mailCh.ID, Receiver: secrets["mail receiver"], Subject: secrets["mail subject"],
		TemplateParams: map[string]string{"name": secrets["mail name"], "amount": secrets["mail amount"]}})
	require.NoError(t, err)
	msg = waitFinal(t, c, res.TaskID)
	require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	taskIDs = append(taskIDs, res.TaskID)

	// 3. A receiver the mail server refuses: the failure's text names it.
	mail.FailNext(1, smtpfake.StageRcpt, 550, "5.1.1")
	res, err = c.SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: mailCh.ID, Receiver: secrets["refused receiver"],
		TemplateParams: map[string]string{"name": secrets["mail name"], "amount": secrets["mail amount"]}})
	require.NoError(t, err)
	msg = waitFinal(t, c, res.TaskID)
	require.Equal(t, workflows.StatusFailed, msg.Status)
	taskIDs = append(taskIDs, res.TaskID)

	// 4. A scheduled message, cancelled through the workflow update.
	at := time.Now().Add(time.Hour)
	res, err = c.SendMessage(ctx, apiclient.SendMessageRequest{ChannelID: laterCh.ID, Receiver: secrets["scheduled receiver"],
		TemplateParams: map[string]string{"place": secrets["scheduled place"]}, ScheduledAt: &at})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		kinds, _ := eventKinds(t, c, res.TaskID)
		return count(kinds, "scheduled") == 1
	}, 20*time.Second, 100*time.Millisecond)
	cres, err := c.CancelMessage(ctx, res.TaskID)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusCancelled, cres.Status)
	require.Equal(t, workflows.StatusCancelled, waitFinal(t, c, res.TaskID).Status)
	taskIDs = append(taskIDs, res.TaskID)

	// A raw client: no codec, so it sees what the server stores.
	raw, err := client.Dial(client.Options{HostPort: h.s.devServer.FrontendAddress(), Namespace: h.cfg.Temporal.Namespace, Logger: quietLogger{}})
	require.NoError(t, err)
	t.Cleanup(raw.Close)

	workflowIDs := append([]string{}, taskIDs...)
	// The breakers of the accounts hear of every send's outcome.
	for _, id := range []int64{tencentAcc.ID, mailAcc.ID} {
		if _, err := raw.DescribeWorkflowExecution(ctx, workflows.BreakerWorkflowID(id), ""); err == nil {
			workflowIDs = append(workflowIDs, workflows.BreakerWorkflowID(id))
		} else {
			var notFound *serviceerror.NotFound
			require.True(t, errors.As(err, &notFound), "describe breaker of account %d: %v", id, err)
		}
	}

	var sealed []*commonpb.Payload
	seen := map[string]int{}
	for _, id := range workflowIDs {
		hist := rawHistory(t, raw, h.cfg.Temporal.Namespace, id)
		histBytes, err := proto.Marshal(hist)
		require.NoError(t, err)
		// protojson too: base64 and JSON escapes hide nothing either way,
		// but a receiver in clear shows up in one or the other.
		histJSON, err := protojson.Marshal(hist)
		require.NoError(t, err)
		for what, s := range secrets {
			require.False(t, bytes.Contains(histBytes, []byte(s)), "%s %q in clear in the history of %s", what, s, id)
			require.False(t, bytes.Contains(histJSON, []byte(s)), "%s %q in clear in the history of %s", what, s, id)
		}
		for _, s := range inPayloads {
			require.False(t, bytes.Contains(histBytes, []byte(s)), "%q in clear in the history of %s", s, id)
			require.False(t, bytes.Contains(histJSON, []byte(s)), "%q in clear in the history of %s", s, id)
		}
		for _, ev := range hist.GetEvents() {
			seen[ev.GetEventType().String()]++
			// Search attributes are indexed by the server and cannot be
			// encrypted; they carry ids and statuses only (checked above).
			err := proxy.VisitPayloads(ctx, ev, proxy.VisitPayloadsOptions{
				SkipSearchAttributes: true,
				Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
					for _, p := range ps {
						if !payloadcodec.IsEncrypted(p) {
							return nil, fmt.Errorf("payload with encoding %q in clear", p.GetMetadata()[converter.MetadataEncoding])
						}
						require.Equal(t, h.s.codec.CurrentKeyID(), string(p.GetMetadata()[payloadcodec.MetadataKeyID]))
						sealed = append(sealed, p)
					}
					return ps, nil
				},
			})
			require.NoError(t, err, "event %d (%s) of %s", ev.GetEventId(), ev.GetEventType(), id)
			if f := failureOf(ev); f != nil {
				require.True(t, payloadcodec.IsEncrypted(f.GetEncodedAttributes()), "failure of event %d of %s keeps its message in clear", ev.GetEventId(), id)
				require.Equal(t, "Encoded failure", f.GetMessage())
			}
		}
	}
	// The paths the test means to cover did happen (receipts arrive as
	// updates; signals carry them only when an update cannot get through,
	// and use the same codec).
	for _, typ := range []enumspb.EventType{
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
		enumspb.EVENT_TYPE_MARKER_RECORDED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
	} {
		require.Positive(t, seen[typ.String()], "no %s event in the histories: %v", typ, seen)
	}
	require.Positive(t, callbacks.Load(), "the app heard of its messages")
	require.NotEmpty(t, sealed)

	// The decoded payloads hold what the histories hid, and /codec opens
	// them for operators and admins only.
	decoded, err := h.s.codec.Decode(sealed)
	require.NoError(t, err)
	var plainText bytes.Buffer
	for _, p := range decoded {
		plainText.Write(p.GetData())
	}
	for _, s := range inPayloads {
		require.Contains(t, plainText.String(), s, "not in any payload: the test would prove nothing about it")
	}

	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: sealed})
	require.NoError(t, err)
	hasher, err := admin.NewHasher(admin.Argon2Params{}, admin.HashLimits{})
	require.NoError(t, err)
	for _, tc := range []struct {
		role   adminhttp.Role
		status int
	}{
		{adminhttp.RoleAdmin, http.StatusOK},
		{adminhttp.RoleOperator, http.StatusOK},
		{adminhttp.RoleViewer, http.StatusForbidden},
	} {
		t.Run("Codec"+strings.ToUpper(string(tc.role[:1]))+string(tc.role[1:]), func(t *testing.T) {
			name := "codec-" + string(tc.role) + "-" + randomHex8()
			password := "pw-" + randomHex8() + randomHex8()
			hash, err := hasher.Hash(ctx, password)
			require.NoError(t, err)
			require.NoError(t, h.s.db.CreateAdminUser(ctx, &store.AdminUser{Username: name, PasswordHash: hash, Role: string(tc.role)}))
			cookie := browserLogin(t, h.apiURL, name, password)
			status, answer := postCodec(t, h.apiURL, body, cookie)
			require.Equal(t, tc.status, status, answer)
			if tc.status != http.StatusOK {
				require.Contains(t, answer, `"code":"`+adminhttp.CodeForbidden+`"`)
				require.NotContains(t, answer, secrets["sms receiver"])
				return
			}
			var out commonpb.Payloads
			require.NoError(t, protojson.Unmarshal([]byte(answer), &out))
			require.Len(t, out.GetPayloads(), len(decoded))
			for i := range decoded {
				require.True(t, proto.Equal(decoded[i], out.GetPayloads()[i]), "payload %d", i)
			}
		})
	}
	t.Run("CodecAnonymous", func(t *testing.T) {
		status, answer := postCodec(t, h.apiURL, body, nil)
		require.Equal(t, http.StatusUnauthorized, status, answer)
		require.Contains(t, answer, `"code":"`+adminhttp.CodeUnauthorized+`"`)
	})
}

// rawHistory reads a workflow's whole history with WorkflowService, as
// stored.
func rawHistory(t *testing.T, c client.Client, namespace, workflowID string) *historypb.History {
	t.Helper()
	hist := &historypb.History{}
	var token []byte
	for {
		resp, err := c.WorkflowService().GetWorkflowExecutionHistory(t.Context(), &workflowservice.GetWorkflowExecutionHistoryRequest{
			Namespace:     namespace,
			Execution:     &commonpb.WorkflowExecution{WorkflowId: workflowID},
			NextPageToken: token,
		})
		require.NoError(t, err, "history of %s", workflowID)
		hist.Events = append(hist.Events, resp.GetHistory().GetEvents()...)
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return hist
		}
	}
}

// failureOf returns the failure an event carries, if any.
func failureOf(ev *historypb.HistoryEvent) interface {
	GetMessage() string
	GetEncodedAttributes() *commonpb.Payload
} {
	switch {
	case ev.GetActivityTaskFailedEventAttributes() != nil:
		return ev.GetActivityTaskFailedEventAttributes().GetFailure()
	case ev.GetWorkflowExecutionFailedEventAttributes() != nil:
		return ev.GetWorkflowExecutionFailedEventAttributes().GetFailure()
	case ev.GetWorkflowExecutionUpdateCompletedEventAttributes().GetOutcome().GetFailure() != nil:
		return ev.GetWorkflowExecutionUpdateCompletedEventAttributes().GetOutcome().GetFailure()
	case ev.GetMarkerRecordedEventAttributes().GetFailure() != nil:
		return ev.GetMarkerRecordedEventAttributes().GetFailure()
	}
	return nil
}

// browserLogin signs in as a browser does and returns the codec cookie.
func browserLogin(t *testing.T, apiURL, username, password string) *http.Cookie {
	t.Helper()
	resp, err := http.Post(apiURL+admin.Prefix+"/auth/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, username, password)))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, ck := range resp.Cookies() {
		if ck.Name == admin.CodecCookie {
			require.Equal(t, admin.CodecPrefix, ck.Path)
			return ck
		}
	}
	t.Fatalf("login set no %s cookie", admin.CodecCookie)
	return nil
}

// postCodec posts payloads to /codec/decode as the Temporal UI does.
func postCodec(t *testing.T, apiURL string, body []byte, cookie *http.Cookie) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, apiURL+admin.CodecPrefix+"/decode?preserveStorageRefs=true", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	if cookie != nil {
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(answer)
}

// quietLogger drops the SDK client's logs.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

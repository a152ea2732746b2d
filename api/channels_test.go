package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/store"
)

func TestListChannels(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	t.Run("OK_Shape", func(t *testing.T) {
		t.Parallel()
		data := decodeData(t, f.call(t, http.MethodGet, "/api/v1/channels", ""))
		require.Equal(t, []string{"items", "page", "size", "total"}, keysOf(data))
		require.EqualValues(t, 1, data["page"])
		require.EqualValues(t, 20, data["size"])
		require.EqualValues(t, 8, data["total"], "enabled channels only")
		items := data["items"].([]any)
		require.Len(t, items, 8)
		first := items[0].(map[string]any)
		require.Equal(t, []string{"id", "message_template_id", "name", "readiness", "template_name", "type"}, keysOf(first))
		require.EqualValues(t, chWebhook, first["id"], "newest first")
		require.Equal(t, []string{"blocker_codes", "state"}, keysOf(first["readiness"].(map[string]any)))
		require.JSONEq(t, `{"state":"ready","blocker_codes":[]}`, mustJSON(t, first["readiness"]))
	})
	t.Run("OK_Readiness", func(t *testing.T) {
		t.Parallel()
		page, err := f.client().ListChannels(ctx, apiclient.ListChannelsParams{PageSize: 100})
		require.NoError(t, err)
		got := map[int64]apiclient.Readiness{}
		for _, c := range page.Items {
			got[c.ID] = c.Readiness
		}
		require.Equal(t, apiclient.Readiness{State: "ready", BlockerCodes: []string{}}, got[chSMS])
		require.Equal(t, apiclient.Readiness{State: "blocked", BlockerCodes: []string{BlockerTemplateMissing}}, got[chNoTemplate])
		require.Equal(t, apiclient.Readiness{State: "blocked", BlockerCodes: []string{BlockerTemplateVariablesInvalid}}, got[chBadTemplate])
		require.Equal(t, apiclient.Readiness{State: "blocked", BlockerCodes: []string{BlockerProviderUnavailable}}, got[chNoAccount])
		require.Equal(t, apiclient.Readiness{State: "degraded", BlockerCodes: []string{BlockerProviderUnavailable}}, got[chDegraded])
		_, listed := got[chDisabled]
		require.False(t, listed, "disabled channels are not listed")
	})
	t.Run("OK_NoTemplateFields", func(t *testing.T) {
		t.Parallel()
		data := decodeData(t, f.call(t, http.MethodGet, "/api/v1/channels?type=sms&page_size=100", ""))
		for _, it := range data["items"].([]any) {
			item := it.(map[string]any)
			if item["id"] == float64(chNoTemplate) {
				require.Nil(t, item["message_template_id"])
				require.Equal(t, "", item["template_name"])
				return
			}
		}
		t.Fatal("channel without template not listed")
	})
	t.Run("OK_TypeFilter", func(t *testing.T) {
		t.Parallel()
		page, err := f.client().ListChannels(ctx, apiclient.ListChannelsParams{Type: store.ChannelEmail})
		require.NoError(t, err)
		require.Equal(t, 1, page.Total)
		require.Equal(t, "welcome mail", page.Items[0].Name)
		require.Equal(t, "welcome", page.Items[0].TemplateName)
		require.Equal(t, tplMail, *page.Items[0].MessageTemplateID)
	})
	t.Run("OK_Paging", func(t *testing.T) {
		t.Parallel()
		page, err := f.client().ListChannels(ctx, apiclient.ListChannelsParams{Page: 2, PageSize: 3})
		require.NoError(t, err)
		require.Equal(t, 8, page.Total)
		require.Equal(t, 2, page.Page)
		require.Equal(t, 3, page.Size)
		require.Len(t, page.Items, 3)
		require.Equal(t, chBadTemplate, page.Items[0].ID, "ids 9 8 7 | 6 5 3 | 2 1")
	})
	t.Run("OK_PageSizeCapped", func(t *testing.T) {
		t.Parallel()
		data := decodeData(t, f.call(t, http.MethodGet, "/api/v1/channels?page_size=500&page=0", ""))
		require.EqualValues(t, 100, data["size"])
		require.EqualValues(t, 1, data["page"])
	})
	t.Run("OK_EmptyPageIsAList", func(t *testing.T) {
		t.Parallel()
		data := decodeData(t, f.call(t, http.MethodGet, "/api/v1/channels?page=50", ""))
		require.Equal(t, []any{}, data["items"])
	})
	t.Run("ErrInvalidType", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodGet, "/api/v1/channels?type=fax", "")
		requireError(t, res, http.StatusBadRequest, CodeInvalidValue)
		require.Contains(t, res.Message, "wechat_work")
	})
	t.Run("ErrPageNotANumber", func(t *testing.T) {
		t.Parallel()
		requireError(t, f.call(t, http.MethodGet, "/api/v1/channels?page=two", ""), http.StatusBadRequest, CodeInvalidValue)
	})
}

func TestGetChannel(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	t.Run("OK_Shape", func(t *testing.T) {
		t.Parallel()
		data := decodeData(t, f.call(t, http.MethodGet, fmt.Sprintf("/api/v1/channels/%d", chSMS), ""))
		require.Equal(t, []string{
			"id", "message_template_id", "name", "readiness", "signature_names", "signature_required",
			"template", "template_name", "type",
		}, keysOf(data))
		tpl := data["template"].(map[string]any)
		require.Equal(t, []string{"content", "content_type", "description", "id", "template_name", "variables"}, keysOf(tpl))
		require.Equal(t, "Your code is {{code}}, valid {{ minutes }} minutes", tpl["content"])
		require.Equal(t, []any{"code", "minutes"}, tpl["variables"])
		require.Equal(t, []any{"Herald", "Acme"}, data["signature_names"])
		require.Equal(t, false, data["signature_required"])
	})
	t.Run("OK_Client", func(t *testing.T) {
		t.Parallel()
		d, err := f.client().GetChannel(ctx, chDegraded)
		require.NoError(t, err)
		require.True(t, d.SignatureRequired)
		require.Equal(t, "degraded", d.Readiness.State)
		require.Equal(t, "otp", d.Template.TemplateName)
	})
	t.Run("OK_EmptyListsAreLists", func(t *testing.T) {
		t.Parallel()
		data := decodeData(t, f.call(t, http.MethodGet, fmt.Sprintf("/api/v1/channels/%d", chWebhook), ""))
		require.Equal(t, []any{}, data["signature_names"])
		require.Equal(t, []any{}, data["template"].(map[string]any)["variables"])
	})
	t.Run("OK_TemplateMissingIsNull", func(t *testing.T) {
		t.Parallel()
		res := f.call(t, http.MethodGet, fmt.Sprintf("/api/v1/channels/%d", chNoTemplate), "")
		data := decodeData(t, res)
		require.Contains(t, data, "template")
		require.Nil(t, data["template"])
		require.JSONEq(t, `{"state":"blocked","blocker_codes":["MESSAGE_TEMPLATE_MISSING"]}`, mustJSON(t, data["readiness"]))
	})
	t.Run("ErrDisabled", func(t *testing.T) {
		t.Parallel()
		requireError(t, f.call(t, http.MethodGet, fmt.Sprintf("/api/v1/channels/%d", chDisabled), ""), http.StatusForbidden, CodeChannelDisabled)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		requireError(t, f.call(t, http.MethodGet, "/api/v1/channels/404", ""), http.StatusNotFound, CodeChannelNotFound)
	})
	t.Run("ErrNotAnID", func(t *testing.T) {
		t.Parallel()
		requireError(t, f.call(t, http.MethodGet, "/api/v1/channels/abc", ""), http.StatusNotFound, CodeChannelNotFound)
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

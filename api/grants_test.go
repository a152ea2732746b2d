package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// requireLikeUnknownChannel checks that res is exactly the answer for a
// channel id that names no channel: same status, code and text (with the
// id in it), so a channel of another app cannot be told from no channel.
func requireLikeUnknownChannel(t *testing.T, unknown, res result, unknownID, id int64) {
	t.Helper()
	requireError(t, unknown, http.StatusNotFound, CodeChannelNotFound)
	require.Equal(t, unknown.Status, res.Status, "body: %s", res.Body)
	require.Equal(t, unknown.Code, res.Code, "body: %s", res.Body)
	want := strings.ReplaceAll(unknown.Message, strconv.FormatInt(unknownID, 10), strconv.FormatInt(id, 10))
	require.Equal(t, want, res.Message)
	require.NotContains(t, string(res.Body), "other", "the channel's name is not revealed")
}

func TestUngrantedChannel(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const unknownID int64 = 999

	for _, tc := range []struct {
		name string
		call func(id int64) result
	}{
		{"Send", func(id int64) result {
			return f.call(t, http.MethodPost, "/api/v1/messages", sendBody(id, testPhone, otpParamsJSON, `"signature_name":"Herald"`))
		}},
		{"Batch", func(id int64) result {
			return f.call(t, http.MethodPost, "/api/v1/messages/batch", fmt.Sprintf(`{"channel_id":%d,"template_params":%s,"receivers":[%q]}`, id, otpParamsJSON, testPhone))
		}},
		{"GetChannel", func(id int64) result {
			return f.call(t, http.MethodGet, fmt.Sprintf("/api/v1/channels/%d", id), "")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unknown := tc.call(unknownID)
			requireLikeUnknownChannel(t, unknown, tc.call(chUngranted), unknownID, chUngranted)
			// Not "disabled" (30004) either: that would tell it exists.
			requireLikeUnknownChannel(t, unknown, tc.call(chUngrantedOff), unknownID, chUngrantedOff)
		})
	}
	require.Zero(t, f.store.messageCount(), "nothing was accepted through an ungranted channel")

	t.Run("ListShowsOnlyGranted", func(t *testing.T) {
		for _, size := range []int{1, 100} {
			data := decodeData(t, f.call(t, http.MethodGet, fmt.Sprintf("/api/v1/channels?page_size=%d", size), ""))
			// The granted enabled channels: every one but chDisabled.
			require.EqualValues(t, 8, data["total"])
			for _, it := range data["items"].([]any) {
				id := int64(it.(map[string]any)["id"].(float64))
				require.NotContains(t, []int64{chUngranted, chUngrantedOff}, id)
			}
		}
		data := decodeData(t, f.call(t, http.MethodGet, "/api/v1/channels?type=sms&page_size=100", ""))
		require.EqualValues(t, 5, data["total"])
	})
}

func TestRevokedGrantHidesMessages(t *testing.T) {
	t.Parallel()
	f := setup(t)
	res := f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chSMS, testPhone, otpParamsJSON, `"signature_name":"Herald"`, fmt.Sprintf(`"scheduled_at":%q`, time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339))))
	taskID := decodeData(t, res)["task_id"].(string)
	path := "/api/v1/messages/" + taskID
	decodeData(t, f.call(t, http.MethodGet, path, ""))

	f.store.revoke(f.app.ID, chSMS)
	unknown := f.call(t, http.MethodPost, "/api/v1/messages", sendBody(999, testPhone, otpParamsJSON))
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, path},
		{http.MethodGet, path + "/events"},
		{http.MethodDelete, path},
	} {
		requireLikeUnknownChannel(t, unknown, f.call(t, c.method, c.path, ""), 999, chSMS)
	}
	m, err := f.store.GetMessage(t.Context(), taskID)
	require.NoError(t, err)
	require.Equal(t, "pending", m.Status, "the refused cancel changed nothing")

	f.store.grant(f.app.ID, chSMS)
	decodeData(t, f.call(t, http.MethodGet, path, ""))
}

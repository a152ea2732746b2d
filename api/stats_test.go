package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	adminstats "github.com/heraldhq/herald/api/admin/stats"
	"github.com/heraldhq/herald/internal/stats"
	"github.com/heraldhq/herald/store"
)

func TestGetStats(t *testing.T) {
	t.Parallel()
	f, db, chID := quotaFixture(t, 0, 0, nil)
	for i := range 3 {
		decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages",
			fmt.Sprintf(`{"channel_id":%d,"receiver":"s%d@example.com","template_params":{"name":"x"}}`, chID, i)))
	}
	// Another app's message on the same channel is not the caller's business.
	require.NoError(t, db.CreateMessages(context.Background(), []*store.Message{{TaskID: "other-1", AppID: "other", ChannelID: chID,
		MessageType: store.ChannelEmail, Receiver: "x@example.com", Status: "pending", MaxAttempts: 1}}, nil))
	msgs := []store.Message{}
	require.NoError(t, db.Bun().NewSelect().Model(&msgs).Where("app_id = ?", f.app.ID).Scan(context.Background()))
	require.NoError(t, db.UpdateMessage(context.Background(), msgs[0].TaskID, store.MessagePatch{Status: ptr("success")}))
	require.NoError(t, db.UpdateMessage(context.Background(), msgs[1].TaskID, store.MessagePatch{Status: ptr("failed")}))

	res := f.call(t, http.MethodGet, "/api/v1/stats?group_by=channel", "")
	decodeData(t, res)
	var rep stats.Report
	require.NoError(t, json.Unmarshal(res.Data, &rep))
	require.Len(t, rep.Series, 1)
	s := rep.Series[0]
	require.Equal(t, fmt.Sprint(chID), s.Key)
	require.Empty(t, s.Name, "clients get channel ids, not names")
	require.Equal(t, int64(3), s.Total.Accepted)
	require.Equal(t, int64(1), s.Total.Success)
	require.Equal(t, int64(1), s.Total.Failed)
	require.Equal(t, int64(1), s.Total.Pending)
	require.InDelta(t, 0.5, *s.Total.SuccessRate, 1e-9)
	require.Equal(t, int64(2), s.Total.FinalLatency.Count)

	for query, want := range map[string]string{
		"group_by=account": "group_by",
		"group_by=app":     "group_by",
		"interval=second":  "interval",
		"from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z": "from",
	} {
		res := f.call(t, http.MethodGet, "/api/v1/stats?"+query, "")
		require.Equal(t, http.StatusBadRequest, res.Status, query)
		require.Equal(t, CodeInvalidValue, res.Code, query)
		require.Contains(t, res.Message, want, query)
	}
	res = f.call(t, http.MethodGet, "/api/v1/stats", "", withoutAuth())
	require.Equal(t, http.StatusUnauthorized, res.Status)
}

// TestStatsSchemasShared keeps the client document's statistics schemas
// the same as the operators' API's, since both routes answer one shape.
func TestStatsSchemasShared(t *testing.T) {
	t.Parallel()
	type doc struct {
		Components struct {
			Schemas map[string]any `yaml:"schemas"`
		} `yaml:"components"`
	}
	var client, admin doc
	require.NoError(t, yaml.Unmarshal(openAPIDocument, &client))
	require.NoError(t, yaml.Unmarshal(adminstats.OpenAPI, &admin))
	require.NotEmpty(t, admin.Components.Schemas)
	for name, schema := range admin.Components.Schemas {
		require.Equal(t, schema, client.Components.Schemas[name], "schema %s", name)
	}
}

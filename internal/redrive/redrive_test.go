package redrive

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

func TestStatusesAgree(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{store.RedriveRunning, store.RedrivePaused, store.RedriveCancelled, store.RedriveDone},
		[]string{workflows.RedriveRunning, workflows.RedrivePaused, workflows.RedriveCancelled, workflows.RedriveDone})
}

func TestFilterRoundTrip(t *testing.T) {
	t.Parallel()
	f := store.MessageFilter{
		AppID: "a", ChannelID: 2, Statuses: []string{"failed"}, ProviderKind: "aliyun", AccountID: 3,
		Since: time.Unix(1, 0).UTC(), Until: time.Unix(2, 0).UTC(), ReceiverKeys: []string{"k"},
		After: &store.MessageCursor{CreatedAt: time.Unix(3, 0).UTC(), TaskID: "t"}, Limit: 7,
	}
	require.Equal(t, f, StoreFilter(WorkflowFilter(f)))
}

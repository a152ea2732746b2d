package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/providers/dingtalk/dingtalkfake"
	"github.com/heraldhq/herald/providers/smtp/smtpfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestBatchAttachmentsReachEveryReceiver sends an e-mail batch with an
// attachment: the batch stores it once, and every message's send loads it
// from there and delivers it.
func TestBatchAttachmentsReachEveryReceiver(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := newSMTPFake(t)
	ch := f.channel(store.ChannelEmail, f.typedTemplate("html", "Report {{month}}", "<p>Report for {{month}}</p>", "month"))
	f.smtpAccount(ch, fake, 1)
	_, c := f.app()
	content := []byte(strings.Repeat("report line\n", 1000))
	receivers := []string{"a@example.org", "b@example.org", "c@example.org"}
	res, err := c.SendBatch(context.Background(), apiclient.SendBatchRequest{
		ChannelID: ch.ID, Receivers: receivers, TemplateParams: map[string]string{"month": "May"},
		Attachments: []apiclient.Attachment{{Filename: "report.txt", ContentType: "text/plain", ContentBase64: base64.StdEncoding.EncodeToString(content)}},
	})
	require.NoError(t, err)
	require.Len(t, res.Tasks, 3)
	for _, task := range res.Tasks {
		msg := waitFinal(t, c, task.TaskID)
		require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	}
	sent := fake.Sent()
	require.Len(t, sent, 3)
	for _, m := range sent {
		require.Equal(t, []smtpfake.Attachment{{Filename: "report.txt", ContentType: "text/plain", Content: content}}, m.Attachments)
	}
	// Reads fill a member's attachments in from its batch; the rows
	// themselves hold none.
	stored, err := h.s.db.Bun().NewSelect().Table("messages").
		Where("batch_id = ?", res.BatchID).Where("attachments IS NOT NULL AND attachments <> ''").Count(context.Background())
	require.NoError(t, err)
	require.Zero(t, stored, "the batch holds the attachments, not each message")
}

// TestParametersCannotMentionEveryone sends a DingTalk markdown message
// whose parameter tries to mention everyone and add a link: the robot
// receives them as text.
func TestParametersCannotMentionEveryone(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	fake := dingtalkfake.New(t)
	ch := f.channel(store.ChannelDingTalk, f.typedTemplate("markdown", "", "### Build\n{{result}}", "result"))
	f.dingTalkAccount(ch, fake, 1)
	_, c := f.app()
	taskID := sendOne(t, c, apiclient.SendMessageRequest{
		ChannelID: ch.ID, Receiver: "-",
		TemplateParams: map[string]string{"result": "failed @all [fix it](https://evil.example) @13800138000"},
	})
	msg := waitFinal(t, c, taskID)
	require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	sent := fake.Sent()
	require.Len(t, sent, 1)
	require.False(t, sent[0].IsAtAll)
	require.Empty(t, sent[0].AtMobiles)
	body := strings.TrimPrefix(sent[0].Text, "### Build\n")
	for _, markup := range []string{"@", "[", "]"} {
		require.NotContains(t, body, markup, fmt.Sprintf("robot text %q", sent[0].Text))
	}
	require.Contains(t, body, "＠all")
}

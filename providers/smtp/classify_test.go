package smtp

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code     int
		enhanced string
		class    providers.Class
	}{
		// 4xx: try again later.
		{421, "", providers.ClassTransient},
		{421, "4.7.0", providers.ClassTransient},
		{421, "4.3.2", providers.ClassTransient},
		{432, "4.7.12", providers.ClassTransient},
		{450, "", providers.ClassTransient},
		{450, "4.2.1", providers.ClassTransient},
		{451, "", providers.ClassTransient},
		{451, "4.3.0", providers.ClassTransient},
		{451, "4.7.1", providers.ClassTransient},
		{452, "", providers.ClassTransient},
		{452, "4.5.3", providers.ClassTransient},
		{454, "4.7.0", providers.ClassTransient},
		// A 5xx reply whose enhanced code says 4 is read as transient.
		{550, "4.2.0", providers.ClassTransient},
		// Not a refusal at all.
		{250, "2.0.0", providers.ClassTransient},
		{0, "", providers.ClassTransient},

		// The message or the receiver is bad.
		{500, "", providers.ClassPermanent},
		{500, "5.5.1", providers.ClassPermanent},
		{501, "5.5.2", providers.ClassPermanent},
		{502, "5.5.1", providers.ClassPermanent},
		{503, "5.5.1", providers.ClassPermanent},
		{504, "5.5.4", providers.ClassPermanent},
		{550, "", providers.ClassPermanent},
		{550, "5.1.1", providers.ClassPermanent},
		{550, "5.1.2", providers.ClassPermanent},
		{550, "5.1.10", providers.ClassPermanent},
		{550, "5.2.1", providers.ClassPermanent},
		{551, "", providers.ClassPermanent},
		{551, "5.1.6", providers.ClassPermanent},
		{552, "", providers.ClassPermanent},
		{552, "5.2.2", providers.ClassPermanent},
		{552, "5.3.4", providers.ClassPermanent},
		{553, "", providers.ClassPermanent},
		{553, "5.1.3", providers.ClassPermanent},
		{554, "", providers.ClassPermanent},
		{554, "5.0.0", providers.ClassPermanent},
		{554, "5.6.0", providers.ClassPermanent},
		{554, "5.4.4", providers.ClassPermanent},

		// The account's setup: authentication, encryption, the sender.
		{530, "", providers.ClassConfig},
		{530, "5.7.0", providers.ClassConfig},
		{534, "5.7.9", providers.ClassConfig},
		{538, "5.7.11", providers.ClassConfig},
		{523, "5.7.10", providers.ClassConfig},
		{550, "5.1.7", providers.ClassConfig},
		{553, "5.1.8", providers.ClassConfig},

		// The account itself: credentials, policy, reputation.
		{535, "", providers.ClassAccount},
		{535, "5.7.8", providers.ClassAccount},
		{535, "5.7.0", providers.ClassAccount},
		{550, "5.7.1", providers.ClassAccount},
		{554, "5.7.1", providers.ClassAccount},
		{554, "5.7.0", providers.ClassAccount},
		{550, "5.7.13", providers.ClassAccount},
		{502, "5.7.0", providers.ClassAccount},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d_%s", tc.code, tc.enhanced), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.class, Classify(tc.code, tc.enhanced))
		})
	}
}

func TestReplyError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		phase    phase
		code     int
		enhanced string
		class    providers.Class
		errCode  string
	}{
		{"SessionPermanentIsAccount", phaseSession, 554, "", providers.ClassAccount, "SMTP_554"},
		{"SessionTransient", phaseSession, 421, "4.3.2", providers.ClassTransient, "SMTP_421_4.3.2"},
		{"SessionAuth", phaseSession, 535, "5.7.8", providers.ClassAccount, "SMTP_535_5.7.8"},
		{"MailPermanentIsConfig", phaseMail, 553, "5.1.0", providers.ClassConfig, "SMTP_553_5.1.0"},
		{"MailSizeStaysPermanent", phaseMail, 552, "5.3.4", providers.ClassPermanent, "SMTP_552_5.3.4"},
		{"MailPolicyIsAccount", phaseMail, 550, "5.7.1", providers.ClassAccount, "SMTP_550_5.7.1"},
		{"RcptPermanent", phaseRcpt, 550, "5.1.1", providers.ClassPermanent, "SMTP_550_5.1.1"},
		{"DataPermanent", phaseData, 554, "5.6.0", providers.ClassPermanent, "SMTP_554_5.6.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pe := replyError(tc.phase, tc.code, tc.enhanced, fmt.Sprintf("%d %s for <bob@example.org>", tc.code, tc.enhanced))
			require.Equal(t, tc.class, pe.Class)
			require.Equal(t, tc.errCode, pe.Code)
			require.NotContains(t, pe.Message, "bob@example.org")
			require.Contains(t, pe.Message, "[address]")
		})
	}
}

func TestEnhancedFromText(t *testing.T) {
	t.Parallel()
	require.Equal(t, "5.7.8", enhancedFromText("5.7.8 Authentication failed"))
	require.Equal(t, "4.7.0", enhancedFromText("4.7.0"))
	require.Empty(t, enhancedFromText("Authentication failed 5.7.8"))
	require.Empty(t, enhancedFromText("5.7 nope"))
	require.Empty(t, enhancedFromText("3.1.1 not a class"))
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	require.Equal(t, "550 5.1.1 <[address]>: Recipient address rejected",
		summarize("550 5.1.1 <bob@example.org>: Recipient address rejected"))
	require.Equal(t, "one line", summarize("one\nline"))

	long := summarize(strings.Repeat("x", 400))
	require.Equal(t, strings.Repeat("x", maxSummary)+"...", long)
	// The cut never splits a character.
	cut := summarize("a" + strings.Repeat("é", 200))
	require.True(t, utf8.ValidString(cut))
	require.Len(t, cut, maxSummary-1+len("..."))
}

func TestIsHardBounce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want bool
	}{
		{"SMTP_550_5.1.1", true},
		{"SMTP_550_5.1.0", true},
		{"SMTP_550_5.1.2", true},
		{"SMTP_553_5.1.3", true},
		{"SMTP_551_5.1.6", true},
		{"SMTP_556_5.1.10", true},
		{"SMTP_554_5.1.1", true},

		// The sender's address, not the receiver's.
		{"SMTP_550_5.1.7", false},
		{"SMTP_553_5.1.8", false},
		// Policy and spam refusals, and other permanent failures.
		{"SMTP_550_5.7.1", false},
		{"SMTP_554_5.7.0", false},
		{"SMTP_552_5.2.2", false},
		{"SMTP_550_5.2.1", false},
		{"SMTP_554_5.0.0", false},
		// No enhanced code: too vague.
		{"SMTP_550", false},
		// Transient.
		{"SMTP_450_4.1.1", false},
		{"SMTP_450_5.1.1", false},
		{"SMTP_550_4.1.1", false},
		// Not a reply, or not well formed.
		{CodeTimeout, false},
		{CodeInvalidReceiver, false},
		{"", false},
		{"SMTP_", false},
		{"SMTP_5x0_5.1.1", false},
		{"SMTP_5500_5.1.1", false},
		{"SMTP_550_5.1", false},
		{"SMTP_550_5.1.1.1", false},
		{"smtp_550_5.1.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, IsHardBounce(tt.code))
			require.Equal(t, tt.want, New().HardBounce(tt.code))
		})
	}
}

// TestIsHardBouncePermanent checks that every hard bounce is also a
// permanent failure, so a send the activities record as a bounce has
// ended for good.
func TestIsHardBouncePermanent(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		code     int
		enhanced string
	}{{550, "5.1.1"}, {550, "5.1.0"}, {550, "5.1.2"}, {556, "5.1.10"}, {553, "5.1.3"}} {
		pe := replyError(phaseRcpt, c.code, c.enhanced, "refused")
		require.True(t, IsHardBounce(pe.Code), pe.Code)
		require.Equal(t, providers.ClassPermanent, pe.Class, pe.Code)
	}
}

package main

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers/tencent/tencentfake"
)

func TestProviderTest(t *testing.T) {
	t.Parallel()

	t.Run("Sandbox", func(t *testing.T) {
		t.Parallel()
		s := newApplyStore(t)
		s.mustApply(nil, `
accounts:
  - name: sbx
    kind: sandbox
    config: {latency_ms: 1, receipt_delay_ms: 10}
  - name: sbx-off
    kind: sandbox
    enabled: false
    config: {latency_ms: 1}
`)
		test := func(args ...string) cliResult {
			return runCLI(t, nil, s.args(append([]string{"provider", "test"}, args...)...)...)
		}

		t.Run("Accepted", func(t *testing.T) {
			res := test("sbx", "--receiver", "+86 138 0013 8000", "--content", "hello", "--wait-receipt", "5s")
			require.Equal(t, 0, res.code, res.stderr)
			require.Contains(t, res.stdout, "account sbx (id 1, sandbox)\nreceiver +86 138 0013 8000, test task ")
			require.Regexp(t, `(?m)^accepted\n  provider message id: sbx-[0-9a-f]{24}\nreceipt: delivered `, res.stdout)
		})

		t.Run("ByIDAndDisabled", func(t *testing.T) {
			res := test("2", "--receiver", "+8613800138000")
			require.Equal(t, 0, res.code, res.stderr)
			require.Contains(t, res.stdout, "account sbx-off (id 2, sandbox), disabled: sending anyway for the test\n")
			require.Contains(t, res.stdout, "accepted\n")
			require.NotContains(t, res.stdout, "receipt:")
		})

		t.Run("PermanentFailure", func(t *testing.T) {
			res := test("sbx", "--receiver", "+8613800134000")
			require.Equal(t, 1, res.code)
			require.Contains(t, res.stdout, "failed\n  class:       permanent\n  code:        ")
			require.Contains(t, res.stdout, "  message:     the sandbox rejects this receiver\n")
			require.Contains(t, res.stderr, "herald: the provider refused the test message (permanent)")
		})

		t.Run("Throttled", func(t *testing.T) {
			res := test("sbx", "--receiver", "+8613800134002")
			require.Equal(t, 1, res.code)
			require.Contains(t, res.stdout, "  class:       throttled\n")
			require.Regexp(t, `(?m)^  retry after: \S+$`, res.stdout)
		})

		t.Run("ReceiptUndelivered", func(t *testing.T) {
			res := test("sbx", "--receiver", "+8613800134004", "--wait-receipt", "5s")
			require.Equal(t, 1, res.code)
			require.Contains(t, res.stdout, "accepted\n")
			require.Contains(t, res.stdout, "receipt: failed")
			require.Contains(t, res.stderr, "the provider reports the test message failed")
		})

		t.Run("UnknownAccount", func(t *testing.T) {
			res := test("nope", "--receiver", "+8613800138000")
			require.Equal(t, 1, res.code)
			require.Contains(t, res.stderr, `no provider account is named "nope"`)
			res = test("99", "--receiver", "+8613800138000")
			require.Equal(t, 1, res.code)
			require.Contains(t, res.stderr, `no provider account has the name or id "99"`)
		})

		t.Run("BadFlags", func(t *testing.T) {
			res := test("sbx", "--param", "novalue")
			require.Equal(t, 1, res.code)
			require.Contains(t, res.stderr, "--receiver is required")
			require.Contains(t, res.stderr, `--param "novalue" must look like name=value`)
		})
	})

	t.Run("Tencent", func(t *testing.T) {
		t.Parallel()
		fake := tencentfake.New(t)
		fake.AutoReceipt(0, tencentfake.Success)
		s := newApplyStore(t)
		s.mustApply(nil, fmt.Sprintf(`
accounts:
  - name: tc
    kind: tencent
    config:
      secret_id: %s
      secret_key: %s
      sdk_app_id: "%s"
      sign_name: Herald
      endpoint: %s
      scheme: http
      timeout_seconds: 5
`, tencentfake.DefaultSecretID, tencentfake.DefaultSecretKey, tencentfake.DefaultSdkAppID, fake.Endpoint()))
		test := func(args ...string) cliResult {
			return runCLI(t, nil, s.args(append([]string{"provider", "test", "tc"}, args...)...)...)
		}

		t.Run("Accepted", func(t *testing.T) {
			res := test("--receiver", "+8613800138000", "--template-code", "1001", "--param", "code=123456", "--param", "minutes=5", "--wait-receipt", "10s")
			require.Equal(t, 0, res.code, "stderr: %s\nstdout: %s", res.stderr, res.stdout)
			m := regexp.MustCompile(`(?m)^  provider message id: (\S+)$`).FindStringSubmatch(res.stdout)
			require.NotNil(t, m, res.stdout)
			require.Contains(t, res.stdout, "  fee:                 1\n")
			require.Contains(t, res.stdout, "receipt: delivered")
			sent := fake.Sent()
			require.Len(t, sent, 1)
			require.Equal(t, m[1], sent[0].SerialNo)
			require.Equal(t, "1001", sent[0].TemplateID)
			require.Equal(t, []string{"123456", "5"}, sent[0].TemplateParams)
			require.Equal(t, "Herald", sent[0].SignName)
		})

		t.Run("PermanentFailure", func(t *testing.T) {
			fake.PerNumberCode("+8613800138001", "FailedOperation.PhoneNumberInBlacklist")
			res := test("--receiver", "+8613800138001", "--template-code", "1001", "--param", "code=1")
			require.Equal(t, 1, res.code, res.stdout)
			require.Contains(t, res.stdout, "  class:       permanent\n  code:        FailedOperation.PhoneNumberInBlacklist\n")
			require.Contains(t, res.stderr, "(permanent)")
		})

		t.Run("NoTemplateCode", func(t *testing.T) {
			res := test("--receiver", "+8613800138000")
			require.Equal(t, 1, res.code)
			require.Contains(t, res.stdout, "  class:       config\n")
		})
	})
}

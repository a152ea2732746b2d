package resources

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

// OperatorsAppID is the built-in app that account tests are sent on
// behalf of. Its secret is random and never shown, so no client signs as
// it; the operators' API refuses to create, change or re-key it.
const OperatorsAppID = "herald-operators"

// refuseBuiltIn answers 409 for writes to the operators' built-in app.
func refuseBuiltIn(id string) error {
	if id != OperatorsAppID {
		return nil
	}
	return adminhttp.Conflict("app " + OperatorsAppID + " is Herald's built-in operators' app (account tests): it cannot be created, changed or given a known secret; only enable and disable apply")
}

// AccountTester sends a test message through one provider account, on
// behalf of the operators' built-in app, and returns the message's task
// id (followed like any other message). The send path implements it:
// the message's workflow must use that account and no other.
type AccountTester interface {
	TestAccount(ctx context.Context, t AccountTest) (taskID string, err error)
}

// AccountTest is one test message.
type AccountTest struct {
	Account *store.ProviderAccount
	// Receiver is a phone number, an address or a robot's target, as the
	// account's provider takes it.
	Receiver string
	// TemplateParams fill the test template's placeholders.
	TemplateParams map[string]string
	// Actor is who asked ("user:<name>").
	Actor string
}

type accountTestRequest struct {
	Receiver       string            `json:"receiver"`
	TemplateParams map[string]string `json:"template_params"`
}

// maskedReceiver masks a receiver for the audit log.
func maskedReceiver(r string) string {
	if strings.Contains(r, "@") {
		return store.MaskReceiver(store.ChannelEmail, r)
	}
	return store.MaskReceiver(store.ChannelSMS, r)
}

// testAccount sends a test message through the account and answers its
// task id (202: the message is on its way, not yet delivered).
func (h *handler) testAccount(c echo.Context) error {
	id, err := pathID(c, "account")
	if err != nil {
		return err
	}
	var req accountTestRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	req.Receiver = strings.TrimSpace(req.Receiver)
	if req.Receiver == "" {
		return adminhttp.Invalid("receiver", "is required: the phone number, address or target to send the test message to")
	}
	ctx := c.Request().Context()
	acc, err := h.db.GetAccount(ctx, id)
	if err != nil {
		return problem("account", strconv.FormatInt(id, 10), err)
	}
	p, _ := adminhttp.PrincipalFrom(c)
	taskID, err := h.tester.TestAccount(ctx, AccountTest{Account: acc, Receiver: req.Receiver, TemplateParams: req.TemplateParams, Actor: p.Actor()})
	if err != nil {
		var prob *adminhttp.Problem
		if errors.As(err, &prob) {
			return prob
		}
		return adminhttp.Internal("send a test message through account "+strconv.FormatInt(id, 10), err)
	}
	rec := adminhttp.AuditFor(c, "account.test", "account", strconv.FormatInt(id, 10), map[string]any{
		"receiver": []any{nil, maskedReceiver(req.Receiver)}, "task_id": []any{nil, taskID},
	})
	if err := h.db.InsertAudit(ctx, rec); err != nil {
		return adminhttp.Internal("record the test message", err)
	}
	return c.JSON(http.StatusAccepted, map[string]string{"task_id": taskID})
}

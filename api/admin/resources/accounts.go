package resources

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/resources"
	"github.com/heraldhq/herald/store"
)

// accountView is a provider account as the API shows it. Credentials are
// write-only: every text setting of the config is masked, and the
// callback token shows only whether it is set (in full once, in the
// answer to the change that generated it).
type accountView struct {
	resources.Account
	ID            int64          `json:"id"`
	Version       int64          `json:"version"`
	Config        map[string]any `json:"config"`
	CallbackToken string         `json:"callback_token"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// maskConfig masks every text value of a provider config: long ones keep
// their last four characters ("****abcd"), short ones only say they are
// set. Numbers and switches are not secret and stay.
func maskConfig(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return map[string]any{}
	}
	for k, v := range m {
		m[k] = maskValue(v)
	}
	return m
}

func maskValue(v any) any {
	switch x := v.(type) {
	case string:
		if x == "" {
			return ""
		}
		if r := []rune(x); len(r) >= 12 {
			return "****" + string(r[len(r)-4:])
		}
		return "set"
	case map[string]any:
		for k, e := range x {
			x[k] = maskValue(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = maskValue(e)
		}
		return x
	}
	return v
}

func newAccountView(acc *store.ProviderAccount) accountView {
	v := accountView{Account: resources.AccountSpec(acc), ID: acc.ID, Version: acc.Version,
		Config: maskConfig(acc.Config), CreatedAt: acc.CreatedAt, UpdatedAt: acc.UpdatedAt}
	v.ConfigJSON = nil
	if acc.CallbackToken != "" {
		v.CallbackToken = "set"
	}
	return v
}

func (h *handler) listAccounts(c echo.Context) error {
	accs, err := h.db.ListAccounts(c.Request().Context())
	if err != nil {
		return adminhttp.Internal("list accounts", err)
	}
	p, err := page(c, accs, func(a store.ProviderAccount) string { return strconv.FormatInt(a.ID, 10) })
	if err != nil {
		return err
	}
	out := listPage[accountView]{Items: make([]accountView, 0, len(p.Items)), NextCursor: p.NextCursor}
	for i := range p.Items {
		out.Items = append(out.Items, newAccountView(&p.Items[i]))
	}
	return c.JSON(http.StatusOK, out)
}

func (h *handler) getAccount(c echo.Context) error {
	id, err := pathID(c, "account")
	if err != nil {
		return err
	}
	return h.answerAccount(c, http.StatusOK, id, nil)
}

func (h *handler) answerAccount(c echo.Context, status int, id int64, res *resources.Result) error {
	acc, err := h.db.GetAccount(c.Request().Context(), id)
	if err != nil {
		return problem("account", strconv.FormatInt(id, 10), err)
	}
	v := newAccountView(acc)
	if t := generated(res, "callback_token"); t != "" {
		v.CallbackToken = t
	}
	setETag(c, v.Version)
	return c.JSON(status, v)
}

func (h *handler) createAccount(c echo.Context) error {
	var spec resources.Account
	if err := decode(c, &spec); err != nil {
		return err
	}
	if spec.Version != 0 {
		return adminhttp.Invalid("version", "must be absent when creating")
	}
	if spec.ConfigJSON == nil {
		spec.ConfigJSON = json.RawMessage(`{}`)
	}
	res, err := h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
		if spec.Name != "" {
			if _, err := tx.FindAccountByName(ctx, spec.Name); err == nil {
				return nil, adminhttp.Conflict("an account named " + strconv.Quote(spec.Name) + " already exists: update it, or pick another name")
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		return &resources.Set{Accounts: []resources.Account{spec}}, nil
	})
	if err != nil {
		return problem("account", strconv.Quote(spec.Name), err)
	}
	acc, err := h.db.FindAccountByName(c.Request().Context(), spec.Name)
	if err != nil {
		return adminhttp.Internal("read the new account", err)
	}
	return h.answerAccount(c, http.StatusCreated, acc.ID, res)
}

func (h *handler) replaceAccount(c echo.Context) error { return h.updateAccount(c, false) }
func (h *handler) patchAccount(c echo.Context) error   { return h.updateAccount(c, true) }

// updateAccount replaces the account's description (PUT) or changes the
// fields the body names (PATCH). A config given replaces the whole
// config; none keeps the stored one, which reads never show.
func (h *handler) updateAccount(c echo.Context, merge bool) error {
	id, err := pathID(c, "account")
	if err != nil {
		return err
	}
	raw, err := readBody(c)
	if err != nil {
		return err
	}
	res, err := h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
		acc, err := tx.GetAccount(ctx, id)
		if err != nil {
			return nil, err
		}
		var spec resources.Account
		if merge {
			spec = resources.AccountSpec(acc)
			spec.ConfigJSON = nil
		}
		if err := decodeInto(raw, &spec); err != nil {
			return nil, err
		}
		if err := sameName(spec.Name, acc.Name); err != nil {
			return nil, err
		}
		spec.Name = acc.Name
		if spec.Kind == "" {
			spec.Kind = acc.Kind
		}
		if spec.ConfigJSON == nil {
			spec.ConfigJSON = acc.Config
		}
		if spec.Version, err = requireVersion(c, spec.Version); err != nil {
			return nil, err
		}
		return &resources.Set{Accounts: []resources.Account{spec}}, nil
	})
	if err != nil {
		return problem("account", strconv.FormatInt(id, 10), err)
	}
	return h.answerAccount(c, http.StatusOK, id, res)
}

func (h *handler) enableAccount(on bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c, "account")
		if err != nil {
			return err
		}
		res, err := h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
			acc, err := tx.GetAccount(ctx, id)
			if err != nil {
				return nil, err
			}
			spec := resources.AccountSpec(acc)
			spec.Enabled, spec.Version = &on, acc.Version
			return &resources.Set{Accounts: []resources.Account{spec}}, nil
		})
		if err != nil {
			return problem("account", strconv.FormatInt(id, 10), err)
		}
		return h.answerAccount(c, http.StatusOK, id, res)
	}
}

package resources

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/resources"
	"github.com/heraldhq/herald/store"
)

// appView is an app as the API shows it: its description with grants and
// quotas, secrets reduced to whether they are set. A secret appears in
// full only in the answer to the change that generated it.
type appView struct {
	resources.App
	Version        int64     `json:"version"`
	Secret         string    `json:"secret"`
	CallbackSecret string    `json:"callback_secret"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// appSpec describes the stored app with its grants and quotas.
func appSpec(ctx context.Context, tx *store.DB, app *store.App, channelNames map[int64]string) (resources.App, error) {
	spec := resources.AppSpec(app)
	ids, err := tx.AppGrants(ctx, app.ID)
	if err != nil {
		return spec, err
	}
	grants := make([]string, 0, len(ids))
	for _, id := range ids {
		grants = append(grants, channelNames[id])
	}
	sort.Strings(grants)
	spec.Grants = &grants
	quotas, err := tx.ListQuotas(ctx, app.ID)
	if err != nil {
		return spec, err
	}
	if len(quotas) > 0 {
		q := &resources.Quota{Channels: map[string]resources.QuotaLimit{}}
		for _, row := range quotas {
			if row.ChannelID == 0 {
				q.Daily, q.Monthly = row.Daily, row.Monthly
				continue
			}
			q.Channels[channelNames[row.ChannelID]] = resources.QuotaLimit{Daily: row.Daily, Monthly: row.Monthly}
		}
		spec.Quota = q
	}
	return spec, nil
}

func channelNames(ctx context.Context, tx *store.DB) (map[int64]string, error) {
	chs, _, err := tx.ListChannels(ctx, store.ChannelFilter{})
	if err != nil {
		return nil, err
	}
	names := make(map[int64]string, len(chs))
	for _, ch := range chs {
		names[ch.ID] = ch.Name
	}
	return names, nil
}

func newAppView(app *store.App, spec resources.App) appView {
	v := appView{App: spec, Version: app.Version, CreatedAt: app.CreatedAt, UpdatedAt: app.UpdatedAt}
	v.Secret = "set"
	if app.CallbackSecret != "" {
		v.CallbackSecret = "set"
	}
	return v
}

// loadApp reads an app and its view.
func (h *handler) loadApp(ctx context.Context, tx *store.DB, id string) (appView, error) {
	app, err := tx.GetApp(ctx, id)
	if err != nil {
		return appView{}, problem("app", id, err)
	}
	names, err := channelNames(ctx, tx)
	if err != nil {
		return appView{}, adminhttp.Internal("read channels", err)
	}
	spec, err := appSpec(ctx, tx, app, names)
	if err != nil {
		return appView{}, adminhttp.Internal("read app "+id, err)
	}
	return newAppView(app, spec), nil
}

func (h *handler) listApps(c echo.Context) error {
	ctx := c.Request().Context()
	apps, err := h.db.ListApps(ctx)
	if err != nil {
		return adminhttp.Internal("list apps", err)
	}
	names, err := channelNames(ctx, h.db)
	if err != nil {
		return adminhttp.Internal("list channels", err)
	}
	p, err := page(c, apps, func(a store.App) string { return a.ID })
	if err != nil {
		return err
	}
	out := listPage[appView]{Items: make([]appView, 0, len(p.Items)), NextCursor: p.NextCursor}
	for i := range p.Items {
		spec, err := appSpec(ctx, h.db, &p.Items[i], names)
		if err != nil {
			return adminhttp.Internal("list apps", err)
		}
		out.Items = append(out.Items, newAppView(&p.Items[i], spec))
	}
	return c.JSON(http.StatusOK, out)
}

func (h *handler) getApp(c echo.Context) error {
	return h.answerApp(c, http.StatusOK, c.Param("id"), nil)
}

func (h *handler) createApp(c echo.Context) error {
	var spec resources.App
	if err := decode(c, &spec); err != nil {
		return err
	}
	if spec.Version != 0 {
		return adminhttp.Invalid("version", "must be absent when creating")
	}
	if err := refuseBuiltIn(spec.ID); err != nil {
		return err
	}
	res, err := h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
		if spec.ID != "" {
			if _, err := tx.GetApp(ctx, spec.ID); err == nil {
				return nil, adminhttp.Conflict("app " + spec.ID + " already exists: update it, or pick another id")
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		return &resources.Set{Apps: []resources.App{spec}}, nil
	})
	if err != nil {
		return problem("app", spec.ID, err)
	}
	return h.answerApp(c, http.StatusCreated, spec.ID, res)
}

// answerApp answers a change with the app as it now is, and the secrets
// the change generated, shown this once.
func (h *handler) answerApp(c echo.Context, status int, id string, res *resources.Result) error {
	v, err := h.loadApp(c.Request().Context(), h.db, id)
	if err != nil {
		return err
	}
	if s := generated(res, "secret"); s != "" {
		v.Secret = s
	}
	if s := generated(res, "callback_secret"); s != "" {
		v.CallbackSecret = s
	}
	setETag(c, v.Version)
	return c.JSON(status, v)
}

func (h *handler) replaceApp(c echo.Context) error { return h.updateApp(c, false) }
func (h *handler) patchApp(c echo.Context) error   { return h.updateApp(c, true) }

// updateApp replaces the app's description with the body (PUT) or
// changes the fields the body names (PATCH).
func (h *handler) updateApp(c echo.Context, merge bool) error {
	id := c.Param("id")
	if err := refuseBuiltIn(id); err != nil {
		return err
	}
	raw, err := readBody(c)
	if err != nil {
		return err
	}
	res, err := h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
		app, err := tx.GetApp(ctx, id)
		if err != nil {
			return nil, err
		}
		var spec resources.App
		if merge {
			names, err := channelNames(ctx, tx)
			if err != nil {
				return nil, err
			}
			if spec, err = appSpec(ctx, tx, app, names); err != nil {
				return nil, err
			}
		}
		if err := decodeInto(raw, &spec); err != nil {
			return nil, err
		}
		if spec.ID != "" && spec.ID != id {
			return nil, adminhttp.Invalid("id", "cannot change (it is "+id+"): create a new app instead")
		}
		spec.ID = id
		if spec.Version, err = requireVersion(c, spec.Version); err != nil {
			return nil, err
		}
		return &resources.Set{Apps: []resources.App{spec}}, nil
	})
	if err != nil {
		return problem("app", id, err)
	}
	return h.answerApp(c, http.StatusOK, id, res)
}

// enableApp turns an app on or off: the quick answer to a leaked secret.
// It needs no version; it changes one field and leaves the rest as read.
func (h *handler) enableApp(on bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		res, err := h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
			app, err := tx.GetApp(ctx, id)
			if err != nil {
				return nil, err
			}
			spec := resources.AppSpec(app)
			spec.Enabled, spec.Version = &on, app.Version
			return &resources.Set{Apps: []resources.App{spec}}, nil
		})
		if err != nil {
			return problem("app", id, err)
		}
		return h.answerApp(c, http.StatusOK, id, res)
	}
}

// rotateAppSecret gives the app a new secret, shown once in the answer;
// the old one stops working at once.
func (h *handler) rotateAppSecret(c echo.Context) error {
	id := c.Param("id")
	if err := refuseBuiltIn(id); err != nil {
		return err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return adminhttp.Internal("generate a secret", err)
	}
	secret := hex.EncodeToString(b)
	res, err := h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
		app, err := tx.GetApp(ctx, id)
		if err != nil {
			return nil, err
		}
		spec := resources.AppSpec(app)
		spec.Secret, spec.Version = secret, app.Version
		return &resources.Set{Apps: []resources.App{spec}}, nil
	})
	if err != nil {
		return problem("app", id, err)
	}
	res.Generated = append(res.Generated, resources.Secret{Object: "app", ID: id, Kind: "secret", Value: secret})
	return h.answerApp(c, http.StatusOK, id, res)
}

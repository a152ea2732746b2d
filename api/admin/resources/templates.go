package resources

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/render"
	"github.com/heraldhq/herald/internal/resources"
	"github.com/heraldhq/herald/store"
)

// templateView is a template as the API shows it, with how each account
// sends it.
type templateView struct {
	resources.Template
	ID        int64     `json:"id"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func templateSpec(ctx context.Context, tx *store.DB, t *store.Template) (resources.Template, error) {
	ms, err := tx.TemplateMappings(ctx, t.ID)
	if err != nil {
		return resources.Template{}, err
	}
	mappings := []resources.Mapping{}
	if len(ms) > 0 {
		accs, err := tx.ListAccounts(ctx)
		if err != nil {
			return resources.Template{}, err
		}
		names := map[int64]string{}
		for _, a := range accs {
			names[a.ID] = a.Name
		}
		for _, m := range ms {
			mappings = append(mappings, resources.Mapping{Account: names[m.AccountID], ProviderCode: m.ProviderCode, ParamOrder: m.ParamOrder, ParamNames: m.ParamNames})
		}
	}
	return resources.TemplateSpec(t, mappings), nil
}

func (h *handler) loadTemplate(ctx context.Context, tx *store.DB, id int64) (templateView, error) {
	t, err := tx.GetTemplate(ctx, id)
	if err != nil {
		return templateView{}, problem("template", strconv.FormatInt(id, 10), err)
	}
	spec, err := templateSpec(ctx, tx, t)
	if err != nil {
		return templateView{}, adminhttp.Internal("read template", err)
	}
	return templateView{Template: spec, ID: t.ID, Version: t.Version, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}, nil
}

func (h *handler) listTemplates(c echo.Context) error {
	ctx := c.Request().Context()
	ts, err := h.db.ListTemplates(ctx)
	if err != nil {
		return adminhttp.Internal("list templates", err)
	}
	p, err := page(c, ts, func(t store.Template) string { return strconv.FormatInt(t.ID, 10) })
	if err != nil {
		return err
	}
	out := listPage[templateView]{Items: make([]templateView, 0, len(p.Items)), NextCursor: p.NextCursor}
	for i := range p.Items {
		t := &p.Items[i]
		spec, err := templateSpec(ctx, h.db, t)
		if err != nil {
			return adminhttp.Internal("list templates", err)
		}
		out.Items = append(out.Items, templateView{Template: spec, ID: t.ID, Version: t.Version, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt})
	}
	return c.JSON(http.StatusOK, out)
}

func (h *handler) getTemplate(c echo.Context) error {
	id, err := pathID(c, "template")
	if err != nil {
		return err
	}
	return h.answerTemplate(c, http.StatusOK, id)
}

func (h *handler) answerTemplate(c echo.Context, status int, id int64) error {
	v, err := h.loadTemplate(c.Request().Context(), h.db, id)
	if err != nil {
		return err
	}
	setETag(c, v.Version)
	return c.JSON(status, v)
}

func (h *handler) createTemplate(c echo.Context) error {
	var spec resources.Template
	if err := decode(c, &spec); err != nil {
		return err
	}
	if spec.Version != 0 {
		return adminhttp.Invalid("version", "must be absent when creating")
	}
	_, err := h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
		if spec.Name != "" {
			if _, err := tx.FindTemplateByName(ctx, spec.Name); err == nil {
				return nil, adminhttp.Conflict("a template named " + strconv.Quote(spec.Name) + " already exists: update it, or pick another name")
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		return &resources.Set{Templates: []resources.Template{spec}}, nil
	})
	if err != nil {
		return problem("template", strconv.Quote(spec.Name), err)
	}
	t, err := h.db.FindTemplateByName(c.Request().Context(), spec.Name)
	if err != nil {
		return adminhttp.Internal("read the new template", err)
	}
	return h.answerTemplate(c, http.StatusCreated, t.ID)
}

func (h *handler) replaceTemplate(c echo.Context) error { return h.updateTemplate(c, false) }
func (h *handler) patchTemplate(c echo.Context) error   { return h.updateTemplate(c, true) }

// updateTemplate replaces the template's description (PUT) or changes
// the fields the body names (PATCH). Mappings given are created or
// updated; mappings not given stay.
func (h *handler) updateTemplate(c echo.Context, merge bool) error {
	id, err := pathID(c, "template")
	if err != nil {
		return err
	}
	raw, err := readBody(c)
	if err != nil {
		return err
	}
	_, err = h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
		t, err := tx.GetTemplate(ctx, id)
		if err != nil {
			return nil, err
		}
		var spec resources.Template
		if merge {
			if spec, err = templateSpec(ctx, tx, t); err != nil {
				return nil, err
			}
		}
		if err := decodeInto(raw, &spec); err != nil {
			return nil, err
		}
		if err := sameName(spec.Name, t.Name); err != nil {
			return nil, err
		}
		spec.Name = t.Name
		if spec.Version, err = requireVersion(c, spec.Version); err != nil {
			return nil, err
		}
		return &resources.Set{Templates: []resources.Template{spec}}, nil
	})
	if err != nil {
		return problem("template", strconv.FormatInt(id, 10), err)
	}
	return h.answerTemplate(c, http.StatusOK, id)
}

// previewRequest is a template to render: a stored one (template_id) or
// a draft (subject and content), with sample parameters.
type previewRequest struct {
	TemplateID  int64             `json:"template_id"`
	Subject     string            `json:"subject"`
	Content     string            `json:"content"`
	ContentType string            `json:"content_type"`
	Variables   []string          `json:"variables"`
	ChannelType string            `json:"channel_type"`
	Params      map[string]string `json:"params"`
}

type previewAnswer struct {
	Subject string `json:"subject"`
	Content string `json:"content"`
	// Missing are variables the template uses that the parameters lack;
	// they are left as placeholders.
	Missing []string `json:"missing"`
	// Unknown are parameters the template does not use.
	Unknown []string `json:"unknown"`
}

// previewTemplate renders a template with sample parameters, changing
// nothing.
func (h *handler) previewTemplate(c echo.Context) error {
	var req previewRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.TemplateID != 0 {
		t, err := h.db.GetTemplate(c.Request().Context(), req.TemplateID)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return adminhttp.Invalid("template_id", "no template has this id")
			}
			return adminhttp.Internal("read template", err)
		}
		req.Subject, req.Content, req.ContentType, req.Variables = t.Subject, t.Content, t.ContentType, t.Variables
	}
	if req.Content == "" {
		return adminhttp.Invalid("content", "is required (or give template_id)")
	}
	if req.ChannelType != "" && !slices.Contains(store.ChannelTypes, req.ChannelType) {
		return adminhttp.Invalid("channel_type", "must be one of the channel types (sms, email, ...)")
	}
	used := render.Placeholders(req.Subject, req.Content)
	for _, v := range req.Variables {
		used[v] = true
	}
	ans := previewAnswer{Missing: []string{}, Unknown: []string{}}
	for v := range used {
		if _, ok := req.Params[v]; !ok {
			ans.Missing = append(ans.Missing, v)
		}
	}
	for p := range req.Params {
		if !used[p] {
			ans.Unknown = append(ans.Unknown, p)
		}
	}
	sort.Strings(ans.Missing)
	sort.Strings(ans.Unknown)
	esc := render.For(req.ChannelType, req.ContentType)
	ans.Subject = render.Text(req.Subject, req.Params, esc)
	ans.Content = render.Text(req.Content, req.Params, esc)
	return c.JSON(http.StatusOK, ans)
}

// deleteTemplate removes a template no channel uses. If-Match is honoured
// when given.
func (h *handler) deleteTemplate(c echo.Context) error {
	id, err := pathID(c, "template")
	if err != nil {
		return err
	}
	var version int64
	if c.Request().Header.Get("If-Match") != "" {
		if version, err = requireVersion(c, 0); err != nil {
			return err
		}
	}
	p, _ := adminhttp.PrincipalFrom(c)
	err = h.db.RunInTx(c.Request().Context(), func(ctx context.Context, tx *store.DB) error {
		return resources.DeleteTemplate(ctx, tx, id, version, resources.Options{Actor: p.Actor(), ClientIP: c.RealIP()})
	})
	if err != nil {
		return problem("template", strconv.FormatInt(id, 10), err)
	}
	return c.NoContent(http.StatusNoContent)
}

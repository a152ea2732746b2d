package resources

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/resources"
	"github.com/heraldhq/herald/store"
)

// ruleView is a rule as the API shows it.
type ruleView struct {
	resources.Rule
	ID        int64     `json:"id"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newRuleView(r *store.Rule) ruleView {
	return ruleView{Rule: resources.RuleSpec(r), ID: r.ID, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func (h *handler) listRules(c echo.Context) error {
	rs, err := h.db.ListAllRules(c.Request().Context())
	if err != nil {
		return adminhttp.Internal("list rules", err)
	}
	p, err := page(c, rs, func(r store.Rule) string { return strconv.FormatInt(r.ID, 10) })
	if err != nil {
		return err
	}
	out := listPage[ruleView]{Items: make([]ruleView, 0, len(p.Items)), NextCursor: p.NextCursor}
	for i := range p.Items {
		out.Items = append(out.Items, newRuleView(&p.Items[i]))
	}
	return c.JSON(http.StatusOK, out)
}

func (h *handler) getRule(c echo.Context) error {
	id, err := pathID(c, "rule")
	if err != nil {
		return err
	}
	return h.answerRule(c, http.StatusOK, id)
}

func (h *handler) answerRule(c echo.Context, status int, id int64) error {
	r, err := h.db.GetRule(c.Request().Context(), id)
	if err != nil {
		return problem("rule", strconv.FormatInt(id, 10), err)
	}
	setETag(c, r.Version)
	return c.JSON(status, newRuleView(r))
}

// ruleByName finds the one rule of a name.
func ruleByName(ctx context.Context, tx *store.DB, name string) (*store.Rule, error) {
	all, err := tx.ListAllRules(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Name == name {
			return &all[i], nil
		}
	}
	return nil, store.ErrNotFound
}

func (h *handler) createRule(c echo.Context) error {
	var spec resources.Rule
	if err := decode(c, &spec); err != nil {
		return err
	}
	if spec.Version != 0 {
		return adminhttp.Invalid("version", "must be absent when creating")
	}
	// herald apply matches rules by name, so an API rule needs one.
	if spec.Name == "" {
		return adminhttp.Invalid("name", "is required: rules are known by name (also in herald apply files)")
	}
	_, err := h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
		if _, err := ruleByName(ctx, tx, spec.Name); err == nil {
			return nil, adminhttp.Conflict("a rule named " + strconv.Quote(spec.Name) + " already exists: update it, or pick another name")
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return &resources.Set{Rules: []resources.Rule{spec}}, nil
	})
	if err != nil {
		return problem("rule", strconv.Quote(spec.Name), err)
	}
	r, err := ruleByName(c.Request().Context(), h.db, spec.Name)
	if err != nil {
		return adminhttp.Internal("read the new rule", err)
	}
	return h.answerRule(c, http.StatusCreated, r.ID)
}

func (h *handler) replaceRule(c echo.Context) error { return h.updateRule(c, false) }
func (h *handler) patchRule(c echo.Context) error   { return h.updateRule(c, true) }

// updateRule replaces the rule (PUT) or changes the fields the body
// names (PATCH); the rule engine checks the result.
func (h *handler) updateRule(c echo.Context, merge bool) error {
	id, err := pathID(c, "rule")
	if err != nil {
		return err
	}
	raw, err := readBody(c)
	if err != nil {
		return err
	}
	_, err = h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
		r, err := tx.GetRule(ctx, id)
		if err != nil {
			return nil, err
		}
		if r.Name == "" {
			return nil, adminhttp.Conflict("this rule has no name, so it cannot be changed by name: give it one in a herald apply file")
		}
		var spec resources.Rule
		if merge {
			spec = resources.RuleSpec(r)
		}
		if err := decodeInto(raw, &spec); err != nil {
			return nil, err
		}
		if err := sameName(spec.Name, r.Name); err != nil {
			return nil, err
		}
		spec.Name = r.Name
		if spec.Version, err = requireVersion(c, spec.Version); err != nil {
			return nil, err
		}
		return &resources.Set{Rules: []resources.Rule{spec}}, nil
	})
	if err != nil {
		return problem("rule", strconv.FormatInt(id, 10), err)
	}
	return h.answerRule(c, http.StatusOK, id)
}

func (h *handler) enableRule(on bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c, "rule")
		if err != nil {
			return err
		}
		_, err = h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
			r, err := tx.GetRule(ctx, id)
			if err != nil {
				return nil, err
			}
			if r.Name == "" {
				return nil, adminhttp.Conflict("this rule has no name, so it cannot be changed by name: give it one in a herald apply file")
			}
			spec := resources.RuleSpec(r)
			spec.Enabled, spec.Version = &on, r.Version
			return &resources.Set{Rules: []resources.Rule{spec}}, nil
		})
		if err != nil {
			return problem("rule", strconv.FormatInt(id, 10), err)
		}
		return h.answerRule(c, http.StatusOK, id)
	}
}

// deleteRule removes a rule. If-Match is honoured when given.
func (h *handler) deleteRule(c echo.Context) error {
	id, err := pathID(c, "rule")
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
		return resources.DeleteRule(ctx, tx, id, version, resources.Options{Actor: p.Actor(), ClientIP: c.RealIP()})
	})
	if err != nil {
		return problem("rule", strconv.FormatInt(id, 10), err)
	}
	return c.NoContent(http.StatusNoContent)
}

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

// channelView is a channel as the API shows it: its description, pool
// included, with its id and version.
type channelView struct {
	resources.Channel
	ID        int64     `json:"id"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// channelSpec describes a stored channel with its template and pool.
func channelSpec(ctx context.Context, tx *store.DB, ch *store.Channel) (resources.Channel, error) {
	var tplName string
	if ch.TemplateID != nil {
		tpl, err := tx.GetTemplate(ctx, *ch.TemplateID)
		if err != nil {
			return resources.Channel{}, err
		}
		tplName = tpl.Name
	}
	pool, err := tx.ChannelPool(ctx, ch.ID)
	if err != nil {
		return resources.Channel{}, err
	}
	return resources.ChannelSpec(ch, tplName, pool), nil
}

func (h *handler) loadChannel(ctx context.Context, tx *store.DB, id int64) (channelView, error) {
	ch, err := tx.GetChannel(ctx, id)
	if err != nil {
		return channelView{}, problem("channel", strconv.FormatInt(id, 10), err)
	}
	spec, err := channelSpec(ctx, tx, ch)
	if err != nil {
		return channelView{}, adminhttp.Internal("read channel", err)
	}
	return channelView{Channel: spec, ID: ch.ID, Version: ch.Version, CreatedAt: ch.CreatedAt, UpdatedAt: ch.UpdatedAt}, nil
}

func (h *handler) listChannels(c echo.Context) error {
	ctx := c.Request().Context()
	chs, _, err := h.db.ListChannels(ctx, store.ChannelFilter{})
	if err != nil {
		return adminhttp.Internal("list channels", err)
	}
	// The store lists newest first; the API lists by id.
	for i, j := 0, len(chs)-1; i < j; i, j = i+1, j-1 {
		chs[i], chs[j] = chs[j], chs[i]
	}
	p, err := page(c, chs, func(ch store.Channel) string { return strconv.FormatInt(ch.ID, 10) })
	if err != nil {
		return err
	}
	out := listPage[channelView]{Items: make([]channelView, 0, len(p.Items)), NextCursor: p.NextCursor}
	for i := range p.Items {
		ch := &p.Items[i]
		spec, err := channelSpec(ctx, h.db, ch)
		if err != nil {
			return adminhttp.Internal("list channels", err)
		}
		out.Items = append(out.Items, channelView{Channel: spec, ID: ch.ID, Version: ch.Version, CreatedAt: ch.CreatedAt, UpdatedAt: ch.UpdatedAt})
	}
	return c.JSON(http.StatusOK, out)
}

func (h *handler) getChannel(c echo.Context) error {
	id, err := pathID(c, "channel")
	if err != nil {
		return err
	}
	return h.answerChannel(c, http.StatusOK, id)
}

func (h *handler) answerChannel(c echo.Context, status int, id int64) error {
	v, err := h.loadChannel(c.Request().Context(), h.db, id)
	if err != nil {
		return err
	}
	setETag(c, v.Version)
	return c.JSON(status, v)
}

func (h *handler) createChannel(c echo.Context) error {
	var spec resources.Channel
	if err := decode(c, &spec); err != nil {
		return err
	}
	if spec.Version != 0 {
		return adminhttp.Invalid("version", "must be absent when creating")
	}
	var id int64
	_, err := h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
		if spec.Name != "" {
			if _, err := tx.FindChannelByName(ctx, spec.Name); err == nil {
				return nil, adminhttp.Conflict("a channel named " + strconv.Quote(spec.Name) + " already exists: update it, or pick another name")
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		return &resources.Set{Channels: []resources.Channel{spec}}, nil
	})
	if err != nil {
		return problem("channel", strconv.Quote(spec.Name), err)
	}
	ch, err := h.db.FindChannelByName(c.Request().Context(), spec.Name)
	if err != nil {
		return adminhttp.Internal("read the new channel", err)
	}
	id = ch.ID
	return h.answerChannel(c, http.StatusCreated, id)
}

func (h *handler) replaceChannel(c echo.Context) error { return h.updateChannel(c, false) }
func (h *handler) patchChannel(c echo.Context) error   { return h.updateChannel(c, true) }

// updateChannel replaces the channel's description (PUT: a pool absent
// from the body is emptied) or changes the fields the body names (PATCH;
// a pool given replaces the pool).
func (h *handler) updateChannel(c echo.Context, merge bool) error {
	id, err := pathID(c, "channel")
	if err != nil {
		return err
	}
	raw, err := readBody(c)
	if err != nil {
		return err
	}
	_, err = h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
		ch, err := tx.GetChannel(ctx, id)
		if err != nil {
			return nil, err
		}
		var spec resources.Channel
		if merge {
			if spec, err = channelSpec(ctx, tx, ch); err != nil {
				return nil, err
			}
		}
		if err := decodeInto(raw, &spec); err != nil {
			return nil, err
		}
		if err := sameName(spec.Name, ch.Name); err != nil {
			return nil, err
		}
		spec.Name = ch.Name
		if spec.Version, err = requireVersion(c, spec.Version); err != nil {
			return nil, err
		}
		return &resources.Set{Channels: []resources.Channel{spec}}, nil
	})
	if err != nil {
		return problem("channel", strconv.FormatInt(id, 10), err)
	}
	return h.answerChannel(c, http.StatusOK, id)
}

func (h *handler) enableChannel(on bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c, "channel")
		if err != nil {
			return err
		}
		_, err = h.change(c, func(ctx context.Context, tx *store.DB) (*resources.Set, error) {
			ch, err := tx.GetChannel(ctx, id)
			if err != nil {
				return nil, err
			}
			spec, err := channelSpec(ctx, tx, ch)
			if err != nil {
				return nil, err
			}
			spec.Enabled, spec.Version = &on, ch.Version
			return &resources.Set{Channels: []resources.Channel{spec}}, nil
		})
		if err != nil {
			return problem("channel", strconv.FormatInt(id, 10), err)
		}
		return h.answerChannel(c, http.StatusOK, id)
	}
}

package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/store"
)

// Readiness states and blocker codes of a channel.
const (
	ReadinessReady    = "ready"
	ReadinessDegraded = "degraded"
	ReadinessBlocked  = "blocked"

	BlockerTemplateMissing          = "MESSAGE_TEMPLATE_MISSING"
	BlockerTemplateVariablesInvalid = "MESSAGE_TEMPLATE_VARIABLES_INVALID"
	BlockerProviderUnavailable      = "PROVIDER_ACCOUNT_UNAVAILABLE"
)

// Channel listing bounds.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

type readinessView struct {
	State        string   `json:"state"`
	BlockerCodes []string `json:"blocker_codes"`
}

// channelItem is one channel in GET /api/v1/channels.
type channelItem struct {
	ID                int64         `json:"id"`
	Name              string        `json:"name"`
	Type              string        `json:"type"`
	MessageTemplateID *int64        `json:"message_template_id"`
	TemplateName      string        `json:"template_name"`
	Readiness         readinessView `json:"readiness"`
}

type templateView struct {
	ID           int64    `json:"id"`
	TemplateName string   `json:"template_name"`
	ContentType  string   `json:"content_type"`
	Content      string   `json:"content"`
	Variables    []string `json:"variables"`
	Description  string   `json:"description"`
}

// channelDetail is the data of GET /api/v1/channels/{id}.
type channelDetail struct {
	channelItem
	Template          *templateView `json:"template"`
	SignatureRequired bool          `json:"signature_required"`
	SignatureNames    []string      `json:"signature_names"`
}

type channelPage struct {
	Items []channelItem `json:"items"`
	Total int           `json:"total"`
	Page  int           `json:"page"`
	Size  int           `json:"size"`
}

// readiness judges whether a channel can send: a missing or inconsistent
// template blocks it; disabled accounts degrade it, and block it when none
// is left.
func readiness(tpl *store.Template, pool []store.PoolMember) readinessView {
	blocked, degraded := false, false
	codes := []string{}
	if tpl == nil {
		blocked = true
		codes = append(codes, BlockerTemplateMissing)
	} else if !templateVariablesValid(tpl) {
		blocked = true
		codes = append(codes, BlockerTemplateVariablesInvalid)
	}
	enabled := enabledAccounts(pool)
	switch {
	case enabled == 0:
		blocked = true
		codes = append(codes, BlockerProviderUnavailable)
	case enabled < len(pool):
		degraded = true
		codes = append(codes, BlockerProviderUnavailable)
	}
	state := ReadinessReady
	if blocked {
		state = ReadinessBlocked
	} else if degraded {
		state = ReadinessDegraded
	}
	return readinessView{State: state, BlockerCodes: codes}
}

func (s *Server) describeChannel(ctx context.Context, ch *store.Channel) (channelItem, *store.Template, error) {
	tpl, err := s.channelTemplate(ctx, ch)
	if err != nil {
		return channelItem{}, nil, err
	}
	pool, err := s.store.ChannelPool(ctx, ch.ID)
	if err != nil {
		return channelItem{}, nil, errDatabase("load channel pool", err)
	}
	item := channelItem{
		ID:                ch.ID,
		Name:              ch.Name,
		Type:              ch.Type,
		MessageTemplateID: ch.TemplateID,
		Readiness:         readiness(tpl, pool),
	}
	if tpl != nil {
		item.TemplateName = tpl.Name
	}
	return item, tpl, nil
}

func (s *Server) listChannels(c echo.Context) error {
	q := c.QueryParams()
	page, err := pageParam(q.Get("page"), "page", 1)
	if err != nil {
		return err
	}
	size, err := pageParam(q.Get("page_size"), "page_size", defaultPageSize)
	if err != nil {
		return err
	}
	size = min(size, maxPageSize)
	appID := appFrom(c).ID
	filter := store.ChannelFilter{EnabledOnly: true, AppID: &appID, Offset: (page - 1) * size, Limit: size}
	if t := q.Get("type"); t != "" {
		if !slices.Contains(store.ChannelTypes, t) {
			return errInvalidValue("type must be one of %s", quoteList(store.ChannelTypes))
		}
		filter.Type = &t
	}
	ctx := c.Request().Context()
	channels, total, err := s.store.ListChannels(ctx, filter)
	if err != nil {
		return errDatabase("list channels", err)
	}
	items := make([]channelItem, 0, len(channels))
	for i := range channels {
		item, _, err := s.describeChannel(ctx, &channels[i])
		if err != nil {
			return err
		}
		items = append(items, item)
	}
	return success(c, channelPage{Items: items, Total: total, Page: page, Size: size})
}

// errChannelNotFound answers for a channel id that names no channel, and
// for a channel the app holds no grant for: the same status, code and
// text, so an app cannot learn which channels exist beyond its own.
func errChannelNotFound(id int64) error {
	return NewError(http.StatusNotFound, CodeChannelNotFound, "channel %d not found", id)
}

// grantedChannel loads a channel the app is granted. The grant is looked
// up first, so an unknown channel and one of another app take the same
// path and the same answer.
func (s *Server) grantedChannel(ctx context.Context, appID string, id int64) (*store.Channel, error) {
	granted, err := s.store.ChannelGranted(ctx, appID, id)
	if err != nil {
		return nil, errDatabase("load channel grant", err)
	}
	if !granted {
		return nil, errChannelNotFound(id)
	}
	ch, err := s.store.GetChannel(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errChannelNotFound(id)
	}
	if err != nil {
		return nil, errDatabase("load channel", err)
	}
	return ch, nil
}

// pageParam reads a positive integer query parameter. Absent, zero and
// negative values take the default, as the clients in the field expect;
// text that is not an integer is refused.
func pageParam(raw, name string, def int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, errInvalidValue("%s must be an integer", name)
	}
	if n < 1 {
		return def, nil
	}
	// Keep offsets far from overflow.
	return min(n, 1<<20), nil
}

func (s *Server) getChannel(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := strconv.ParseInt(pathParam(c, "id"), 10, 64)
	if err != nil {
		return NewError(http.StatusNotFound, CodeChannelNotFound, "channel not found: id must be an integer")
	}
	ch, err := s.grantedChannel(ctx, appFrom(c).ID, id)
	if err != nil {
		return err
	}
	if !ch.Enabled {
		return errForbidden(CodeChannelDisabled, "channel %d is disabled", id)
	}
	item, tpl, err := s.describeChannel(ctx, ch)
	if err != nil {
		return err
	}
	detail := channelDetail{
		channelItem:       item,
		SignatureRequired: ch.SignatureRequired,
		SignatureNames:    nonNil(slices.Clone(ch.SignatureNames)),
	}
	if tpl != nil {
		detail.Template = &templateView{
			ID:           tpl.ID,
			TemplateName: tpl.Name,
			ContentType:  tpl.ContentType,
			Content:      tpl.Content,
			Variables:    nonNil(slices.Clone(tpl.Variables)),
			Description:  tpl.Description,
		}
	}
	return success(c, detail)
}

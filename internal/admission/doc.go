// Package admission decides, at accept time, which receivers of a send
// request Herald takes. Both the single-send and the batch path of the API
// call one Service with the request's app, channel, template, normalised
// receivers and priority, and get one verdict per receiver: accepted, or
// refused with the wire code, HTTP status, Retry-After and a message that
// names the rule.
//
// The checks, cheapest first, each skipping receivers already refused:
//
//   - countries: an SMS receiver whose country no enabled account of the
//     channel reaches, or that the channel's allowed_countries leave out,
//     is refused with 10005;
//   - suppression: a receiver who opted out of the channel type from the
//     app is refused with 10005, unless the template is a verification
//     template (one query for the whole request);
//   - receiver caps: at most N messages to one receiver per minute, hour
//     and day, per channel and per template, counted in Redis under the
//     receiver key (never the receiver) in fixed windows, checked and
//     counted for the whole request in one Lua script; over a cap is 429
//     with 30001 and Retry-After until the window ends.
//   - message rate: the receivers admitted so far are taken from the app's
//     messages_per_minute (GCRA in Redis) together; when they do not fit
//     the whole request is refused (*RateLimitedError, 429 with 30001)
//     and the receiver caps it counted are given back, so a refused
//     receiver or request uses up no budget.
//
// Message quotas (30002) are the last check of admission but not part of
// this service: the decision must be taken in the transaction that stores
// the messages, so it is a conditional update there (store.CreateMessages
// returns a *store.QuotaExceededError), which no pre-check here could make
// safer and which costs no round trip of its own.
//
// Redis or the store being unreachable fails the request closed: the
// caller answers 503 with Retry-After, because a cap that cannot be
// counted cannot protect anyone.
//
// Usage:
//
//	svc := admission.New(admission.Config{}, admission.Deps{Store: db, Redis: rdb, Keys: keys, Providers: reg})
//	verdicts, err := svc.Admit(ctx, admission.Request{AppID: app.ID, Channel: ch, Template: tpl, Pool: pool, Receivers: rs})
package admission

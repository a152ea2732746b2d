// Package api is Herald's HTTP API: the signed /api/v1 surface that the
// predecessor's client libraries speak, GET /health, and the receipt and
// reply callbacks providers push to.
//
//	srv, err := api.New(api.Config{TrustedProxies: []string{"10.0.0.0/8"}}, api.Deps{
//		Store:     db,                         // *store.DB
//		Engine:    workflows.NewClient(tc),    // Temporal-backed
//		Redis:     rdb,                        // nonces and rate limits
//		Providers: registry,                   // receipt and reply handlers
//		Logger:    logger,
//	})
//	if err != nil {
//		return err
//	}
//	httpServer := &http.Server{Addr: ":8080", Handler: srv.Handler()}
//
// # Wire contract
//
// Every response is the envelope {"code", "message", "data"}; code 0 is
// success (HTTP 200), any other code comes with a matching HTTP status.
// Handlers return *Error values and one error handler renders them, so no
// internal error text reaches a client.
//
// Every /api/v1 request carries X-App-Id, X-Timestamp (Unix seconds),
// X-Nonce and X-Signature, the lowercase hex HMAC-SHA256 of
// METHOD + path + canonical params + timestamp + nonce under the app's
// secret. The canonical params are "" without a body, else the body with
// sorted keys and no whitespace in either the Go client's or the PHP
// client's JSON dialect (see package api/internal/signing). The checks run in
// this order: failed authentications of the client IP under the limit (429,
// 30001, before the body is read), headers (20001), timestamp window
// (20004), app (20002), body size (413, 10001) and JSON (10002), signature
// (20003), app enabled (20006), IP allowlist (20005), nonce not seen before
// (20007, a clearer code than the predecessor's 20003), then the per-app
// request rate (30001, HTTP 429 with Retry-After) on every endpoint, the
// channel catalogue included. Sends also take from the app's message rate,
// when it has one, a batch counting its accepted receivers. Nonces and rate
// state live in Redis so every replica sees them.
//
// A dependency that cannot be reached answers 503 with Retry-After and its
// code (40002 database, 40003 Redis, 40004 workflow engine); a dependency
// answering with an error a retry will not fix answers 500.
//
// # Choices where the contract is silent
//
//   - Members the API does not know are ignored (but still signed).
//   - channel_id may also be a decimal string; template_params values may be
//     numbers or booleans, which are kept as their JSON text ("42",
//     "true"); an empty JSON array stands for an empty template_params, as a
//     PHP client encodes it.
//   - A template whose placeholders differ from its declared variables makes
//     sends answer 503 with 30005: the channel is blocked until fixed.
//   - Sends accepted with an Idempotency-Key answer a repeat with the first
//     response and the header Idempotent-Replayed: true.
//   - Times are RFC 3339 in UTC, to the second.
//   - Channel paging treats page or page_size below 1 as the default and caps
//     page_size at 100; "size" in the answer is the page size used.
//   - DELETE of an already cancelled task answers success again.
//   - An app sees only the channels it is granted: sending, batching,
//     listing or reading any other channel, or a message of one, answers
//     404 with 30003 exactly as for a channel id that names nothing.
//
// # Provider callbacks
//
// A callback authenticates by the token of the account its URL names.
// Every failure (unknown or malformed account, other provider kind, wrong
// token) answers the same 404 and counts as a failed authentication of the
// client IP, with the signed API's failures; past Config.AuthFailureLimit
// within Config.AuthFailureWindow it answers 429 with Retry-After.
// Authenticated pushes are never counted nor refused, even from an address
// over the limit. A receipt applies only to a send
// the account accepted (see bindReceipts).
package api

// Package sandbox is the "sandbox" provider kind: a simulated SMS-like
// provider for demos, tests and benchmarks. It sends nothing anywhere. It
// waits a configurable latency, accepts or fails each message, and pushes
// delivery receipts to Herald's callback URL over HTTP, asynchronously and
// with retries, the way a real provider does.
//
// # Account config
//
// Every field is optional:
//
//	{
//	  "latency_ms": 20,              // how long Send takes
//	  "failure_rate": 0.1,           // chance (0..1) that a send fails ...
//	  "failure_class": "transient",  // ... with this class ...
//	  "failure_code": "SANDBOX_FAILURE", // ... and this code
//	  "receipt_delay_ms": 100,       // acceptance to receipt push
//	  "receipt_failure_rate": 0.05,  // chance an accepted message's receipt says UNDELIV
//	  "no_receipt_rate": 0.01,       // chance an accepted message gets no receipt
//	  "seed": 42                     // reproducible randomness for this account
//	}
//
// With a seed, one account's outcomes depend only on the order of its
// sends (concurrent sends draw in whatever order they run).
//
// # Magic receivers
//
// A receiver whose digits end in one of these gets a fixed outcome,
// whatever the rates say, for example "+8613800004000" or
// "qa+4004@example.com":
//
//	4000  MagicInvalidReceiver   permanent, SANDBOX_INVALID_RECEIVER
//	4001  MagicTransient         transient, SANDBOX_TEMPORARY_FAILURE
//	4002  MagicThrottled         throttled, SANDBOX_THROTTLED, RetryAfter 1s
//	4003  MagicAccountSuspended  account, SANDBOX_ACCOUNT_SUSPENDED
//	4004  MagicUndelivered       accepted; the receipt says UNDELIV
//	4005  MagicNoReceipt         accepted; no receipt ever; CheckStatus says delivered
//	4006  MagicUnknownOutcome    recorded as delivered, but Send returns unknown_outcome
//	                             (SANDBOX_TIMEOUT); no receipt; CheckStatus by task id
//	                             says delivered
//	4007  MagicFailFirstAttempt  transient on Attempt 1, delivered on later attempts
//
// # Receipts
//
// An accepted message gets a ProviderMessageID "sbx-<hex>". After
// receipt_delay_ms the Provider POSTs a JSON array of Report to the
// account's CallbackURL (which carries Herald's token), retrying up to 5
// times with back-off on a non-2xx answer or a connection error:
//
//	[{"message_id":"sbx-…","task_id":"…","receiver":"…","status":"DELIVERED",
//	  "code":"DELIVRD","description":"delivered","delivered_at":"2026-03-01T12:00:00Z"}]
//
// The Provider owns the push goroutines; Close cancels pending pushes and
// waits for them. Senders also implement providers.StatusChecker from the
// Provider's memory of what it accepted.
//
// # Usage
//
//	p := sandbox.New(sandbox.WithLogger(logger))
//	defer p.Close()
//	sender, err := p.NewSender(providers.Account{
//		ID:          3,
//		Kind:        sandbox.Kind,
//		Config:      json.RawMessage(`{"latency_ms":5,"seed":1}`),
//		CallbackURL: "https://herald.example/v1/receipts/3?token=…",
//	})
//	if err != nil {
//		return err
//	}
//	res, err := sender.Send(ctx, providers.Message{TaskID: id, Attempt: 1, Receiver: "+8613800004004"})
//	// res.ProviderMessageID is "sbx-…"; an UNDELIV receipt follows.
//
// On the receiving side, p.ReceiptHandler() parses the push and answers it.
package sandbox

// Package webhook is the "webhook" provider kind, which delivers a message
// by POSTing it as JSON to an HTTP endpoint, and the Standard Webhooks v1
// signing (HMAC-SHA256) that Herald also uses for its own status
// notifications.
//
// # Account config
//
//	{
//	  "url": "https://example.com/herald",         // required, http or https
//	  "secret": "whsec_...",                        // required, see GenerateSecret
//	  "timeout_ms": 10000,                          // default 10000, at most 60000
//	  "headers": {"Authorization": "Bearer ..."},   // optional static headers
//	  "on_unknown_outcome": "resend"                // or "fail"; default "resend"
//	}
//
// Every request carries webhook-id (the message's IdempotencyKey, the same
// on every try of one attempt, so the endpoint can drop duplicates),
// webhook-timestamp and webhook-signature. The body is a Payload of type
// "message.send". Any 2xx answer is delivery; a JSON "id" in the answer is
// kept as the provider message id. Redirects are not followed. Attachments
// are not sent.
//
// A send whose answer was lost (a timeout after the request was written)
// has an unknown outcome and no status query to settle it. With
// on_unknown_outcome "resend" (the default) Herald sends it again with the
// same webhook-id, so the endpoint gets it at least once and can drop the
// duplicate; with "fail" the message fails and the endpoint gets it at most
// once.
//
// # Sending
//
//	p := webhook.New()
//	sender, err := p.NewSender(providers.Account{ID: 7, Kind: webhook.Kind, Config: cfgJSON})
//	if err != nil {
//		return err
//	}
//	res, err := sender.Send(ctx, providers.Message{TaskID: id, Attempt: 1, Receiver: "ops", Content: "disk full"})
//	if err != nil {
//		pe := providers.AsError(err) // pe.Class drives the retry rules
//		...
//	}
//
// # Verifying, on the receiving side
//
//	signer, err := webhook.NewSigner(secret)
//	...
//	body, _ := io.ReadAll(r.Body)
//	if err := signer.Verify(r.Header, body, time.Now(), webhook.DefaultTolerance); err != nil {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
//	var p webhook.Payload
//	_ = json.Unmarshal(body, &p)
//
// To rotate a secret, a sender lists both signatures in one
// webhook-signature header (space-separated); Verify accepts the message if
// any one matches.
package webhook

// Package tencent sends SMS through Tencent Cloud SMS (API 3.0, version
// 2021-01-11) with the official Go SDK, classifies Tencent's error codes,
// looks up delivery status, and parses Tencent's delivery-status pushes.
//
// An account's config is JSON:
//
//	{
//	  "secret_id": "AKID...",
//	  "secret_key": "...",
//	  "sdk_app_id": "1400006666",
//	  "sign_name": "Herald",        // used when a message brings no signature
//	  "region": "ap-guangzhou",     // default
//	  "endpoint": "",               // host[:port] override, e.g. a regional host
//	  "scheme": "https",            // or "http"
//	  "timeout_seconds": 10         // default
//	}
//
// Sending one message:
//
//	p := tencent.New()
//	sender, err := p.NewSender(providers.Account{ID: 1, Kind: tencent.Kind, Config: raw})
//	if err != nil {
//		return err
//	}
//	res, err := sender.Send(ctx, providers.Message{
//		TaskID:       taskID,
//		Receiver:     "+8613711112222",
//		TemplateCode: "1234567",
//		Params:       []providers.Param{{Name: "code", Value: "4711"}},
//	})
//	if pe := providers.AsError(err); pe != nil {
//		// pe.Class says what kind of failure it was; pe.Code is Tencent's.
//	}
//	// res.ProviderMessageID is the SerialNo that receipts carry as sid.
//
// The message's TaskID travels as SessionContext, so a send whose answer was
// lost (ClassUnknownOutcome) can still be found by the sender's CheckStatus,
// and receipts carry it back as ext when Tencent has enabled that for the
// account.
//
// The sender is also a providers.BatchSender: SendBatch puts up to 200
// numbers that share template, signature and parameters in one SendSms.
// Such a request has no SessionContext (it would name one task for every
// number); its receipts are matched by SerialNo and CheckStatus finds it by
// number and time when the query says it was batched.
//
// Receipts arrive at the URL set in the Tencent console, unsigned: protect it
// with a secret path and Tencent's published source addresses. Handle them
// with the provider's ReceiptHandler:
//
//	h := p.ReceiptHandler()
//	receipts, err := h.ParseReceipts(r)
//	// ... store them ...
//	h.Acknowledge(w, err == nil) // a refusal makes Tencent push again
//
// Package tencentfake runs a local Tencent SMS API for tests.
package tencent

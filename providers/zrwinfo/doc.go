// Package zrwinfo sends SMS through Zrwinfo (掌榕网, www.zrwinfo.com), whose
// HTTP API is served from api.1cloudsp.com (the same platform is sold as
// 创瑞云 / cryun.com). It sends single messages and batches with plain
// form-encoded POSTs, classifies Zrwinfo's result codes, looks up delivery
// status with the status pull, and parses Zrwinfo's status-report pushes.
// Only Chinese mainland mobile numbers are supported: international SMS
// goes through another Zrwinfo API this package does not use.
//
// # Account configuration
//
//	{
//	  "access_key": "...",                     // required
//	  "secret": "...",                         // required
//	  "sign_name": "Herald",                   // optional
//	  "base_url": "https://api.1cloudsp.com",  // optional
//	  "timeout_seconds": 10,                   // optional
//	  "batch_size": 100,                       // optional
//	  "on_unknown_outcome": "fail",            // optional
//	  "code_classes": {"9001": "account"}      // optional
//	}
//
// The fields:
//
//   - access_key (required): the accesskey shown under 我的秘钥 in the
//     Zrwinfo console.
//   - secret (required): the matching secret. Zrwinfo takes it in plain
//     text in every request body, which is why base_url defaults to HTTPS.
//   - sign_name (optional): the approved signature used when a message has
//     none, as text ("Herald" or "【Herald】") or as Zrwinfo's numeric
//     signature id. Text is sent in 【】; an id is sent as it is. Zrwinfo
//     requires a signature on every message.
//   - base_url (optional): the API root, default https://api.1cloudsp.com.
//   - timeout_seconds (optional): the timeout of one request, 1 to 120
//     (default 10).
//   - batch_size (optional): the most numbers one batch send carries, 1 to
//     1000 (default 100). Zrwinfo publishes no limit.
//   - on_unknown_outcome (optional): "fail" (default) or "resend", what
//     Herald does after a batch send whose outcome is unknown. The status
//     pull settles single sends, but not a batch (see Status checks), and
//     a second batch request bills and delivers every number again.
//   - code_classes (optional): failure classes (transient, throttled,
//     account, permanent, config, unknown_outcome) for Zrwinfo result
//     codes, overriding Classify. Zrwinfo publishes no code list: only 9006
//     (超频, throttled) is known, and every other code is transient until
//     mapped here.
//
// # Sending
//
//	p := zrwinfo.New()
//	sender, err := p.NewSender(providers.Account{ID: 1, Kind: zrwinfo.Kind, Config: raw})
//	if err != nil {
//		return err
//	}
//	res, err := sender.Send(ctx, providers.Message{
//		TaskID:       taskID,
//		Receiver:     "+8613711112222",
//		TemplateCode: "44341",
//		Params:       []providers.Param{{Name: "name", Value: "王先生"}, {Name: "time", Value: "9:40"}},
//	})
//	if pe := providers.AsError(err); pe != nil {
//		// pe.Class says what kind of failure it was; pe.Code is Zrwinfo's.
//	}
//	// res.ProviderMessageID is the smUuid that receipts carry.
//
// A receiver is one mainland mobile number in any usual form (+86..., 86...,
// or the bare 11 digits); it is sent as the 11 digits. TemplateCode is the
// approved Zrwinfo template id. The template's variables {1}{2}... are
// message.Params in order, joined with "##" into Zrwinfo's content
// parameter; a value containing "##" or "$$" is refused (CodeInvalidParam),
// since Zrwinfo would split it. Zrwinfo has no field for a caller
// reference, so the task id does not travel.
//
// The sender is a providers.BatchSender too: SendBatch sends up to
// batch_size messages of one template and signature in one request, as a
// number list with one content when every message has the same variables
// and as the data parameter (number → variables) otherwise. Zrwinfo answers
// a batch with a batchId only, and its reports carry smUuid, batchId and
// mobile, so the ProviderMessageID of each batch message is
// BatchMessageID(batchId, mobile) = "<batchId>:<11-digit mobile>".
//
// A request that could not be sent is transient; one that was sent but got
// no readable answer (timeout, broken connection, HTTP 5xx other than 503,
// HTTP 200 without Zrwinfo's JSON) is unknown_outcome, to be settled with
// CheckStatus rather than sent again.
//
// # Status checks
//
// The sender is a providers.StatusChecker using Zrwinfo's status pull
// (/report/status), which works only when 主动获取 (active fetch) is switched
// on in the Zrwinfo console. The pull is a queue of all the account's
// reports: a report pulled once is never returned again. CheckStatus keeps
// what it pulls (per Zrwinfo account, in memory, for 72 hours) for the
// checks still to come, and WithPulledReceipts hands every pulled report to
// the application, so reports of other messages are not lost. Without a
// ProviderMessageID (the send's answer was lost) a report is matched by the
// receiver's number and the send time. Whether pulling also keeps Zrwinfo
// from pushing a report is not documented.
//
// # Receipts
//
// Set the status-report push (状态报告推送) URL in the Zrwinfo console to
//
//	https://<public-url>/callbacks/zrwinfo/<account-id>?token=<callback-token>
//
// Zrwinfo does not sign its pushes; the token is the only check. Zrwinfo has
// no reply push (uplink messages are only pulled), so there is no replies
// URL. Handle pushes with the provider's ReceiptHandler:
//
//	h := p.ReceiptHandler()
//	receipts, err := h.ParseReceipts(r)
//	// ... store them ...
//	h.Acknowledge(w, err == nil) // HTTP 200 {"code":"0","msg":"SUCCESS"}; a refusal is HTTP 500
//
// A report has smUuid, mobile, batchId (batch sends), deliverResult
// (DELIVRD = delivered, REJECTD = rejected, any other carrier code =
// failed, kept in Receipt.Code) and deliverTime ("yyyy-MM-dd HH:mm:ss",
// China time). A report with a batchId is keyed BatchMessageID(batchId,
// mobile), one without by smUuid.
//
// What is not documented by Zrwinfo, and how this package copes:
//
//   - The push's encoding: integrators report form fields, declared as
//     "application/form-data;charset=utf-8", and an older JSON form. The
//     handler reads any of them by the body's shape (URL-encoded or
//     multipart form, JSON object, JSON array, {"data": [...]}, or the query
//     string when the body is empty), so no setting is needed. The fake
//     pushes form fields; zrwinfofake.DefaultPushFormat is the one constant
//     to change if Zrwinfo turns out to push JSON.
//   - The expected answer: integrators answer HTTP 200 with
//     {"code":"0","msg":"SUCCESS"}; the answers are the ack constants in
//     receipt.go.
//   - Whether single-send reports carry a batchId: in case they do, a report
//     with both a batchId and an smUuid yields two receipts, one per key,
//     and Herald skips the one whose key it does not know. The constant
//     matchBySmUUIDToo in receipt.go turns that off.
//   - The error codes, batch size and rate limits: see code_classes and
//     batch_size above.
//
// Package zrwinfofake runs a local Zrwinfo API for tests.
package zrwinfo

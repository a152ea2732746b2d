// Package aliyun sends SMS through Aliyun SMS (Dysmsapi, API version
// 2017-05-25) with the official Go SDK, classifies Aliyun's error codes,
// looks up delivery status with QuerySendDetails, and parses Aliyun's
// SmsReport (delivery receipt) and SmsUp (reply) HTTP batch pushes.
//
// # Account configuration
//
// An account's config is JSON; unknown keys are refused.
//
//	{
//	  "access_key_id": "LTAI...",        // required
//	  "access_key_secret": "...",        // required, never logged
//	  "sign_name": "Herald",             // optional: the signature when a message brings none
//	  "region": "ap-southeast-1",        // optional: a regional API host the SDK knows
//	  "endpoint": "",                    // optional: API host[:port] override
//	  "protocol": "https",               // optional: "https" (default) or "http"
//	  "timeout_seconds": 10              // optional: per request, default 10, at most 120
//	}
//
//	| field             | required | meaning                                                              |
//	|-------------------|----------|----------------------------------------------------------------------|
//	| access_key_id     | yes      | AccessKey ID of a RAM user allowed to call dysmsapi                  |
//	| access_key_secret | yes      | its AccessKey secret                                                 |
//	| sign_name         | no       | approved signature name used when the message has no Signature;      |
//	|                   |          | Aliyun requires one on every send                                    |
//	| region            | no       | ap-southeast-1, ap-southeast-5, cn-beijing, cn-hongkong,             |
//	|                   |          | eu-central-1 or us-east-1 pick that host; any other region, or none, |
//	|                   |          | uses the central host dysmsapi.aliyuncs.com                          |
//	| endpoint          | no       | host or host:port, without protocol or path; wins over region        |
//	| protocol          | no       | https (default) or http                                              |
//	| timeout_seconds   | no       | whole-request timeout (connect, send, answer); default 10            |
//
// # Sending
//
//	p := aliyun.New()
//	sender, err := p.NewSender(providers.Account{ID: 1, Kind: aliyun.Kind, Config: raw})
//	if err != nil {
//		return err
//	}
//	res, err := sender.Send(ctx, providers.Message{
//		TaskID:       taskID,
//		Receiver:     "+8613711112222",
//		TemplateCode: "SMS_153055065",
//		Params:       []providers.Param{{Name: "code", Value: "4711"}},
//	})
//	if pe := providers.AsError(err); pe != nil {
//		// pe.Class says what kind of failure it was; pe.Code is Aliyun's.
//	}
//	// res.ProviderMessageID is "<BizId>:<number>", e.g. "700000000000000000^0:13711112222".
//
// A message maps to SendSms like this:
//   - Receiver is one phone number: E.164 ("+8613711112222",
//     "+85291234567") or a bare mainland number ("13711112222"). It is sent
//     as the 11-digit number for the mainland and as country code plus
//     number elsewhere, as Dysmsapi documents.
//   - TemplateCode is the account's approved template code (SMS_...).
//   - Params become TemplateParam, a JSON object of names to string values;
//     every parameter needs a distinct name matching a ${variable} of the
//     template. Content and Subject are not sent: Aliyun renders the
//     approved template itself.
//   - Signature, or else the account's sign_name, is SignName.
//   - TaskID is OutId, so receipts (out_id) and QuerySendDetails (OutId)
//     carry it back, and a send whose answer was lost can still be found.
//
// Dysmsapi gives one BizId per request and its receipts name a message by
// biz_id and phone_number, so the provider message id is the pair. Sending
// is not idempotent at Aliyun: a ClassUnknownOutcome error (timeout or
// connection lost after the request was written, unreadable answer) must be
// settled with CheckStatus, not by sending again.
//
// The SDK takes no context. Send returns as soon as ctx ends and reports
// ClassUnknownOutcome if the request was under way; the request itself runs
// on until timeout_seconds. The SDK also owns its HTTP transport, so there
// is no transport option; it honours HTTP_PROXY/HTTPS_PROXY. Never run with
// DEBUG=tea in production: the SDK then logs every request, phone numbers
// included.
//
// # Batches
//
// The sender is a providers.BatchSender: SendBatch sends up to 100 messages
// that share one TemplateCode with one SendBatchSms request, each with its
// own signature and parameters. The request has one OutId, so none is sent;
// each message's ProviderMessageID ("<BizId>:<number>") is what its
// receipt maps back to. A number that appears twice is sent on its own with
// SendSms, and so is a batch of one. When Aliyun refuses the whole batch
// for a reason that may belong to one message (a bad number, parameter,
// signature or template, per-number flow control), nothing was sent, and
// each message is then sent on its own so that each gets its own outcome.
//
// # Status
//
// The sender is a providers.StatusChecker. CheckStatus calls
// QuerySendDetails for the receiver on the send date (China time, 30 days
// back at most), narrowed to the BizId when a ProviderMessageID is known,
// else matching OutId to the task id. SendStatus 3 is delivered, 2 failed;
// 1 (waiting for the receipt) is reported as not found. A receipt found by
// task id has no ProviderMessageID: the query does not return the BizId.
//
// # Errors
//
// Business codes come inside an HTTP 200 (Code other than "OK"); gateway
// codes (SignatureDoesNotMatch, InvalidAccessKeyId.NotFound,
// Throttling.User, InternalError, ...) with an HTTP 4xx/5xx status. Both go
// through Classify and are kept in providers.Error.Code:
// isv.BUSINESS_LIMIT_CONTROL and Throttling* are throttled (RetryAfter from
// the window Aliyun names: a minute, an hour, or until midnight China time);
// balance, caps, subscription, RAM and credential codes are account;
// template and signature codes are config; number, parameter and content
// codes are permanent; isp.* and 5xx are transient, and so is an unknown
// code. Refused connections and DNS failures are transient.
//
// Failures that carry no Aliyun code get the codes every HTTP provider
// uses (package httpsend), so that a rule's error_codes match them here
// too: TIMEOUT, CONNECT_FAILED, DNS_FAILED, TLS_FAILED, CONNECTION_LOST and
// CANCELLED for the transport, HTTP_<status> (HTTP_502) for a gateway
// answer without a Code, and BAD_ANSWER for an answer that cannot be read.
// Once the request may have reached Aliyun (TIMEOUT after it was written,
// CONNECTION_LOST, HTTP_<status>, BAD_ANSWER) the outcome is unknown and is
// settled with CheckStatus.
//
// # Receipts
//
// Delivery receipts (SmsReport) and replies (SmsUp) arrive by Aliyun's
// "HTTP batch push", which is not signed: Herald's URL token is the check.
// In the SMS console, under the general settings for receipts, choose HTTP
// batch push and set
//
//	SmsReport (delivery receipts): https://<public-url>/callbacks/aliyun/<account-id>?token=<callback-token>
//	SmsUp (replies):               https://<public-url>/callbacks/aliyun/<account-id>/replies?token=<callback-token>
//
// The setting takes a few minutes to apply. Herald answers HTTP 200 with
// {"code":0,"msg":"接收成功"} when it took a push and HTTP 500 otherwise,
// after which Aliyun pushes again (after 1, 5 and 10 minutes). Pushes may
// repeat; a receipt is identified by (biz_id, phone_number).
//
//	h := p.ReceiptHandler()
//	receipts, err := h.ParseReceipts(r)
//	// ... store them ...
//	h.Acknowledge(w, err == nil)
//
// Not confirmed against the live service, and made to fail loudly if wrong:
// the form of phone_number in receipts for numbers outside the mainland
// (ids are built from digits only, with a leading 86 dropped from 13-digit
// mainland numbers, so "+86", "86" and "0086" forms all meet); the
// flow-control window wording parsed for RetryAfter (an unknown wording
// gives one minute); the exact HTTP status of gateway errors (only the code
// is used for classification). A push that is not a JSON array of reports
// with biz_id, phone_number and success is refused with an error naming the
// field, and Aliyun pushes it again.
//
// Package aliyunfake runs a local Dysmsapi server for tests.
package aliyun

// Package dingtalk posts messages to a DingTalk (钉钉) group through a
// custom group robot (自定义机器人): the "dingtalk" provider kind. One
// account is one robot, and every message goes to the robot's group.
//
// # Sending
//
//	p := dingtalk.New()
//	sender, err := p.NewSender(providers.Account{ID: 3, Kind: dingtalk.Kind, Config: raw})
//	if err != nil {
//		return err
//	}
//	res, err := sender.Send(ctx, providers.Message{
//		TaskID:      taskID,
//		Attempt:     1,
//		Receiver:    "@13800000000,@13900000000",
//		Subject:     "Deploy finished",
//		Content:     "### Deploy finished\n- service: api\n- version: 1.4.2",
//		ContentType: "markdown",
//	})
//	if pe := providers.AsError(err); pe != nil {
//		// pe.Class drives the retry rules; pe.Code is DingTalk's errcode.
//	}
//	// res.Delivered is true: a robot has no receipts.
//
// The message's ContentType picks the msgtype:
//
//	"text" (or "" or "text/plain")  text: Content
//	"markdown" (or "text/markdown") markdown: title = Subject, text = Content
//	"action_card"                   actionCard: title = Subject, text = Content
//	                                (markdown), one button: singleTitle = Params
//	                                "btn_title" (default "View details"),
//	                                singleURL = Params "url" (required)
//
// Any other content type is refused as permanent before anything is sent.
// Without a Subject, the title is the first line of the content.
//
// # Receivers
//
// A robot has no receiver of its own: it posts to its group. The receiver
// string only says whom to @-mention, as comma-separated items:
//
//	"-" or ""                     no mention
//	"@all"                        everyone (at.isAtAll)
//	"@13800000000,@13900000000"   these members, by mobile (at.atMobiles)
//	"@id:manager01"               this member, by DingTalk user id (at.atUserIds)
//
// DingTalk only highlights a mention whose "@<mobile>" (or "@<userid>")
// also appears in the text, so the sender appends those the content does
// not already hold. Action cards cannot mention anyone: a mention receiver
// with an action_card template is refused as permanent (code
// MENTION_UNSUPPORTED).
//
// # Account configuration
//
//	{
//	  "access_token": "5f1e...",   // the robot's access_token, or:
//	  "webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=5f1e...",
//	  "secret": "SEC...",          // the "sign" (加签) secret, if set
//	  "base_url": "",              // API host override, with access_token only
//	  "timeout_ms": 10000,         // default 10000, at most 60000
//	  "on_unknown_outcome": "fail" // or "resend"; default "fail"
//	}
//
//	field               required              meaning
//	access_token        one of these two      the access_token of the robot's webhook URL
//	webhook_url         one of these two      the robot's whole webhook URL (with access_token)
//	secret              when the robot signs  "SEC..." secret of the robot's "sign" security setting
//	base_url            no                    replaces https://oapi.dingtalk.com (a proxy, a test fake)
//	timeout_ms          no                    bound on one send, default 10000, at most 60000
//	on_unknown_outcome  no                    "resend" or "fail" (default) after a send whose
//	                                          outcome is unknown (see Receipts)
//
// At least one security setting is mandatory on a DingTalk robot. With
// "sign", set secret: each request then carries timestamp (milliseconds)
// and sign = URL-encoded Base64(HMAC-SHA256(key = secret, message =
// timestamp + "\n" + secret)), and the host's clock must be within an hour
// of DingTalk's. With "custom keywords", every template must contain one
// of the keywords. With "IP allowlist", list Herald's egress addresses.
// A failed check is errcode 310000, classified config.
//
// # Rate
//
// DingTalk takes at most 20 messages a minute from one robot and blocks it
// for ten minutes when a 21st comes. The provider implements
// providers.Paced with that rate, so Herald queues sends instead of
// tripping the block; a 130101 answer is throttled with RetryAfter ten
// minutes, and the message waits.
//
// # Receipts
//
// None. A robot's answer is final: an accepted message is Delivered, and
// there is no message id, no callback URL to configure and no status
// query. A send whose answer was lost (unknown_outcome) cannot be checked;
// re-sending it may post it twice, so by default it fails, and the sender
// is told; on_unknown_outcome "resend" posts it again instead.
//
// # Errors
//
// Classify maps DingTalk's errcodes to classes: -1 (busy) transient;
// 130101 and 410100 throttled; 310000 (security check) config; an unknown
// token (300001, 300005), a dissolved group (400013), a missing token
// (400101) or a stopped robot (400102) account; a missing parameter
// (40035), a GET (43002) and unsafe content (430101-430104) permanent.
// The reference facts behind it are confirmed for 0, -1, 130101 and
// 310000; the 4xxxxx robot codes are listed there as unconfirmed, and
// 300005, 40035 and 43002 are the live service's answers as reported by
// third parties. Any other errcode is treated as transient and its message
// says the code is not recognised, so it is noticed and added.
//
// Package dingtalkfake runs a local robot endpoint for tests.
package dingtalk

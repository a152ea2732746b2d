// Package wechatwork sends messages through WeChat Work (WeCom, 企业微信)
// and holds two provider kinds:
//
//   - "wechatwork" (Provider, Sender): application messages (应用消息),
//     sent by one WeCom application to members, departments and tags with
//     gettoken + message/send.
//   - "wechatwork_robot" (RobotProvider, RobotSender): group robot
//     messages (群机器人), posted to one group chat through the robot's
//     webhook.
//
// There is no official Go SDK for WeCom; both kinds speak the HTTP API
// directly.
//
// # Account configuration
//
// "wechatwork" accounts:
//
//	{
//	  "corp_id": "ww0fa4e0c1d2b3a4f5",   // required: enterprise id (企业ID)
//	  "corp_secret": "...",              // required: the application's Secret
//	  "agent_id": 1000002,               // required: the application's AgentId (number or "1000002")
//	  "base_url": "",                    // optional: default https://qyapi.weixin.qq.com
//	  "timeout_seconds": 10,             // optional: per request, 1..60, default 10
//	  "enable_duplicate_check": true,    // optional: default false
//	  "duplicate_check_interval": 1800   // optional: seconds, 1..14400, default WeCom's 1800
//	}
//
//	field                     required  meaning
//	corp_id                   yes       enterprise id, My Company > Company Information
//	corp_secret               yes       the application's Secret (never logged)
//	agent_id                  yes       the application's AgentId
//	base_url                  no        API base address, for a proxy or a test server
//	timeout_seconds           no        bound on each HTTP request (default 10, at most 60)
//	enable_duplicate_check    no        ask WeCom to drop a message identical to one sent
//	                                    within duplicate_check_interval (default false)
//	duplicate_check_interval  no        that window in seconds, at most 14400 (4 hours);
//	                                    unset leaves WeCom's 1800; an error without
//	                                    enable_duplicate_check: true
//	on_unknown_outcome        no        "resend" or "fail" after a send whose outcome is
//	                                    unknown; default "resend" with enable_duplicate_check
//	                                    (WeCom drops the second copy), "fail" without
//
// Applications created after 2022-06-20 must list the addresses Herald
// calls from as trusted IPs (企业可信IP); otherwise every send fails with
// 60020 (class account).
//
// "wechatwork_robot" accounts give the robot's key, or its whole webhook
// address as the group settings show it, not both:
//
//	{"key": "693a91f6-7e6f-4bc4-97a0-0ec2sifa5aaa"}
//	{"webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-..."}
//
//	field               required        meaning
//	key                 one of the two  the robot's webhook key (never logged)
//	webhook_url         one of the two  the full webhook address, carrying ?key=
//	base_url            no              API base address with key (default https://qyapi.weixin.qq.com)
//	timeout_seconds     no              bound on each HTTP request (default 10, at most 60)
//	on_unknown_outcome  no              "resend" or "fail" (default) after a send whose
//	                                    outcome is unknown: a robot cannot deduplicate
//
// # Receivers
//
// An application message's receiver string (ParseReceiver) is a list of
// segments separated by ";", each a "|"-separated list of ids:
//
//	zhangsan|lisi          members by userid (touser); "user:" prefix optional
//	@all                   every member in the application's visible range
//	party:2|3              departments by id (toparty)
//	tag:5                  tags by id (totag)
//	zhangsan;party:2|3     any combination
//
// At most 1000 users, 100 departments and 100 tags. When WeCom accepts the
// message but refuses some receivers (unknown, out of the application's
// range, or members without a licence), they are listed in
// Result.InvalidReceivers in the same syntax ("lisi", "party:3", "tag:5";
// WeCom lowercases userids). When every receiver is refused the send fails
// with 81013, class permanent.
//
// A robot message needs no receiver: it goes to the robot's group. Its
// receiver string (ParseMentions) lists who to @-mention, separated by ","
// or "|": mobile numbers ("13800000000", as registered in WeCom), userids,
// or "@all"; a leading "@" is dropped, so "@13800000000,@all" works. Text
// messages carry them as mentioned_mobile_list / mentioned_list; markdown
// messages can only mention userids and get "<@userid>" appended.
//
// # Message types
//
// The template's content type chooses the WeCom message type:
//
//	content type        application message                  robot
//	"text" or ""        text: Content                        text: Content + mentions
//	"markdown"          markdown: Content                    markdown: Content
//	"textcard"          textcard: title Subject,             not supported
//	                    description Content, url from the
//	                    parameter "url" (required), btntxt
//	                    from "btntxt" (optional)
//
// Anything else fails with UNSUPPORTED_CONTENT_TYPE (permanent). Content is
// not shortened: WeCom's own limits apply (text and app markdown 2048
// bytes, robot markdown 4096 bytes; textcard title 128 and description 512
// bytes, which are unconfirmed). Markdown is shown only in the WeCom
// client, not in WeChat.
//
// # Sending
//
//	p := wechatwork.New() // one per process: it caches access tokens
//	sender, err := p.NewSender(providers.Account{ID: 5, Kind: wechatwork.Kind, Config: raw})
//	if err != nil {
//		return err
//	}
//	res, err := sender.Send(ctx, providers.Message{
//		TaskID:      taskID,
//		Attempt:     1,
//		Receiver:    "zhangsan;party:2",
//		Subject:     "Leave approved",
//		Content:     "Your leave for 3 March was approved.",
//		ContentType: "textcard",
//		Params:      []providers.Param{{Name: "url", Value: "https://hr.example.com/leave/42"}},
//	})
//	if pe := providers.AsError(err); pe != nil {
//		// pe.Class says what kind of failure it was; pe.Code is WeCom's errcode.
//	}
//	// res.InvalidReceivers lists the receivers WeCom refused.
//
// The access token is fetched with gettoken, cached per application (the
// Provider shares it across its senders) and given up five minutes before
// WeCom says it expires. When message/send refuses it (40014, 42001, or
// 40001), one new token is fetched for all concurrent sends and each send
// is tried exactly once more. Result.ProviderMessageID is WeCom's msgid,
// which serves only to recall a message.
//
// # Errors
//
// WeCom answers errors with HTTP 200 and an errcode; Classify maps each
// errcode to a class and the errcode is kept in providers.Error.Code:
// -1 transient; 45009 (frequency limit, RetryAfter one minute) and 45033
// throttled; credential, agentid, application-state, trusted-IP and robot
// key codes (40001, 40013, 40056, 48002, 60020, 301002, 93000, ...)
// account; receiver, type and content codes (40003, 81013, 40008, 44004,
// ...) permanent; unknown codes transient. Failures found before any
// request (INVALID_RECEIVER, INVALID_MESSAGE, UNSUPPORTED_CONTENT_TYPE) are
// permanent. A request that could not be sent is transient; a send whose
// request was written but got no readable answer (a timeout, a dropped
// connection, a gateway error page) is unknown_outcome, because WeCom may
// have delivered it. A failing gettoken never sends anything, so its
// failures are never unknown_outcome.
//
// # Sending rate
//
// Both providers implement providers.Paced. Application accounts default
// to AppMessagesPerMinute (30 a minute), WeCom's cap per member per
// application, over which messages are dropped without an error; robots
// default to RobotMessagesPerMinute (20 a minute), WeCom's cap per robot.
// An account that sends all its messages to one member for a long time
// should set its own rate of 16 a minute to stay under WeCom's 1000 an hour
// per member. WeCom also advises against sending at :00 and :30 of each
// hour.
//
// # Receipts
//
// Neither kind has delivery receipts: ReceiptHandler returns nil, there is
// no callback URL to configure at WeCom, and an accepted send is final
// (Result.Delivered).
//
// # Unconfirmed wire facts
//
// These are taken from secondary sources and fail loudly if wrong: the
// robot over-limit errcode 45009 (a different code is classified as
// transient and keeps its errcode in Code, so a rule can match it); the
// textcard byte limits (WeCom, not Herald, enforces them); the meaning of
// 45033 for message/send. message/send answers are decoded leniently
// (invaliduser and friends as "a|b", an array or a number; msgid as a
// string or a number), so an accepted send is never reported as failed
// because of a field's shape.
//
// Package wechatworkfake runs a local WeCom API (gettoken, message/send,
// webhook/send) for tests.
package wechatwork

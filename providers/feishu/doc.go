// Package feishu posts messages to a Feishu (飞书) or Lark group through a
// custom bot (自定义机器人) webhook: the "feishu" provider kind. One
// account is one bot, and every message goes to the bot's group.
//
// # Sending
//
//	p := feishu.New()
//	sender, err := p.NewSender(providers.Account{ID: 4, Kind: feishu.Kind, Config: raw})
//	if err != nil {
//		return err
//	}
//	res, err := sender.Send(ctx, providers.Message{
//		TaskID:      taskID,
//		Attempt:     1,
//		Receiver:    "@all",
//		Subject:     "Deploy finished",
//		Content:     "**api** 1.4.2 is live",
//		ContentType: "interactive",
//		Params:      []providers.Param{{Name: "url", Value: "https://ci.example.com/runs/81"}},
//	})
//	if pe := providers.AsError(err); pe != nil {
//		// pe.Class drives the retry rules; pe.Code is Feishu's code.
//	}
//	// res.Delivered is true: a bot has no receipts.
//
// The message's ContentType picks the msg_type:
//
//	"text" (or "" or "text/plain")  text: Content as is (no markdown)
//	"post"                          post (rich text), locale zh_cn: title = Subject,
//	                                one paragraph per line of Content
//	"interactive" (or "markdown",   interactive card: header = Subject (none when
//	"text/markdown", "action_card") empty), Content as one lark_md block
//
// With Params "url", a post ends with a link and a card with a button to
// that URL, labelled Params "btn_title" (default "View details"). Any other
// content type is refused as permanent before anything is sent, and so is
// a body over Feishu's 20 KB (code 9499, as Feishu would answer).
//
// # Receivers
//
// A custom bot has no receiver of its own: it posts to its group. The
// receiver string only says whom to @-mention, as comma-separated items:
//
//	"-" or ""                     no mention
//	"@all"                        everyone
//	"@ou_84aad35d084aa403a838cf73ee18467"   this member, by open_id (or user_id)
//
// Mentions are added as <at user_id="..."></at> tags to a text, as "at"
// elements in a last paragraph of a post, and as <at id=...></at> in a
// card's markdown. That an empty tag body shows the member's name, and
// the card's <at id=...> form, are not confirmed by the reference.
//
// # Account configuration
//
//	{
//	  "webhook_url": "https://open.feishu.cn/open-apis/bot/v2/hook/2f7c...",  // or:
//	  "hook_id": "2f7c...",
//	  "secret": "...",          // the bot's signing secret, if set
//	  "base_url": "",           // https://open.larksuite.com for Lark; with hook_id only
//	  "timeout_ms": 10000,      // default 10000, at most 60000
//	  "on_unknown_outcome": "fail" // or "resend"; default "fail"
//	}
//
//	field               required            meaning
//	webhook_url         one of these two    the bot's whole webhook URL
//	hook_id             one of these two    the last segment of the webhook URL
//	secret              when the bot signs  the secret of the bot's "signature" (签名校验) security setting
//	base_url            no                  replaces https://open.feishu.cn: https://open.larksuite.com
//	                                        for Lark, or a proxy or test fake
//	timeout_ms          no                  bound on one send, default 10000, at most 60000
//	on_unknown_outcome  no                  "resend" or "fail" (default) after a send whose
//	                                        outcome is unknown (see Receipts)
//
// With the "signature" security setting, set secret: each body then carries
// "timestamp" (seconds, as a string) and "sign" = Base64(HMAC-SHA256(key =
// timestamp + "\n" + secret, message = empty)), and the host's clock must
// be within an hour of Feishu's. This is not DingTalk's scheme. With
// "custom keywords", every template must contain one of the keywords. With
// "IP allowlist", list Herald's egress addresses. A failed check is 19021,
// 19024 or 19022, all classified config.
//
// # Rate
//
// Feishu takes at most 100 messages a minute and 5 a second from one bot.
// The provider implements providers.Paced with 5 every 3 seconds, which
// keeps both; an 11232 answer is throttled, and the message waits. Feishu
// also advises against sending on the hour and half hour, when it is
// busiest.
//
// # Receipts
//
// None. A bot's answer is final: an accepted message is Delivered, and
// there is no message id, no callback URL to configure and no status
// query. A send whose answer was lost (unknown_outcome) cannot be checked;
// re-sending it may post it twice, so by default it fails, and the sender
// is told; on_unknown_outcome "resend" posts it again instead.
//
// # Errors
//
// Classify maps Feishu's codes to classes: 9499 (bad request) permanent;
// 11232 and the gateway's 99991400 throttled (with the
// x-ogw-ratelimit-reset hint when given); 19021, 19022 and 19024 config;
// 19001 (unknown hook id: the bot was removed, from third-party reports of
// the live service) account.
// Success is {"code":0,...}, or {"StatusCode":0,...} from older bots. Any
// other code is treated as transient and its message says the code is not
// recognised, so it is noticed and added.
//
// Package feishufake runs a local bot endpoint for tests.
package feishu

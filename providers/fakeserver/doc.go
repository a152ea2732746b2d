// Package fakeserver is the machinery the vendor fakes (aliyunfake,
// tencentfake, zrwinfofake, dingtalkfake, feishufake) have in common, so
// each fake holds only what its vendor's protocol makes its own.
//
// Faults holds the faults a test injects into a fake: a queue of failure
// codes (FailNext, and Throttle on top of it), requests to take and never
// answer (Hang) or to take and cut off (Drop), and the down switch
// (Down, Up). Withhold carries out a Hang or a Drop in a handler.
//
// Pusher posts receipts to a callback URL as a vendor does: retried a
// fixed number of times a fixed interval apart until the receiver accepts,
// every attempt logged for the test to inspect. Background runs delayed
// work, such as automatic receipts, until the fake closes, and Close waits
// for it.
//
//	type Server struct {
//		faults fakeserver.Faults[string]
//		life   *fakeserver.Background
//		pusher *fakeserver.Pusher
//	}
//
//	func (s *Server) Hang(n int) { s.faults.Hang(n) }
package fakeserver

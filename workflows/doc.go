// Package workflows holds Herald's send workflow, one per message
// (SendWorkflow), the circuit breaker workflow, one per provider account
// (BreakerWorkflow), and the names clients and workers share.
//
// # Versioning
//
// Workflows run for as long as a message waits (a schedule up to 30 days
// ahead, throttling up to a day), so a deployment meets workflows started
// by older code, and Temporal replays their history against the new code.
// The rules:
//
//   - Any change to the sequence of commands a workflow issues (activities,
//     local activities, timers, signals, search attribute upserts, in their
//     order) for a history that older code could have produced goes behind
//     workflow.GetVersion with a named change id: a constant in the code
//     ("receipt-bound-to-accepted-send"), never reused, with the old branch
//     kept until no workflow started before the change can still run.
//   - Call GetVersion where the behaviour diverges, and only on the paths
//     where old and new code would act differently, so that unaffected
//     sends record no marker (see send.receiptApplies).
//   - A new field in a recorded payload (the plan, an activity result) must
//     mean the old behaviour at its zero value, since recorded payloads
//     replay without it (activities.PlanAccount.SendTimeout,
//     FailOnUnknownOutcome, SendInput.ExpiresAt, activities.Plan.QuietUntil).
//     Such changes need no version.
//   - Activity, workflow, signal, query and update names never change.
//   - testdata/histories holds recorded histories of every path the
//     end-to-end tests take (task test:record-histories); TestReplayHistories
//     replays them all and must keep passing. Histories are re-recorded only
//     to add paths, never to make a change that breaks replay pass.
package workflows

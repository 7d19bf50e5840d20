// Package decide holds the manager's decisions as a pure state machine,
// beside actors.Pool: which pool serves an identity (spawning it on first
// use), when its route to callers is published and withdrawn, whether a
// pool may retire (the sent/seen agreement), the MaxTotal permit book with
// its stealing, fill permits and withdrawn requests, and Close. It has no goroutines, no I/O and
// no clock; time comes in with each Step and effects go out.
//
// The manager actor (package manager) drives it in production and
// sim/virtual drives it in the simulation: both run these decisions, and
// neither keeps a copy of them.
//
// # The driver loop
//
// It is the loop of actors.Pool, with one addition: an effect may ask the
// driver for a fact only the driver can read (how many acquires callers have
// sent over a route), which goes back in as a follow-up input before the next
// outside input:
//
//	m := decide.New(cfg)
//	for in := range inputs {
//		m.Step(now(), in)
//		for {
//			var next []decide.Input
//			for _, e := range m.Ready() {
//				next = append(next, carryOut(e)...) // must not call m.Step
//			}
//			m.Advance()
//			if len(next) == 0 {
//				break
//			}
//			for _, f := range next {
//				m.Step(now(), f)
//			}
//		}
//	}
//
// # What the driver does with each effect
//
// Pools and routes:
//   - EffSpawn: start a pool driver for Pool with Config and deliver its
//     actors.Start before anything else can reach it (the manager actor
//     sends the new pool actor an actors.Init, whose handling steps Start).
//   - EffPublish: publish Pool's route for Disc, so callers send to it
//     directly. It always follows the EffSpawn of that pool.
//   - EffForward: count the acquire in Pool's route (sent) and deliver it to
//     Pool.
//   - EffFailClosed: answer the acquire with actors.ErrClosed.
//   - EffCloseRoute: close Pool's route to direct sends, then read how many
//     acquires have been sent over it and step RouteClosed{Pool, Sent}.
//     Closing first is the whole point: a caller counts itself in sent and
//     then reads closed, so either it sees the route closed (and comes to
//     the manager) or the manager's read of sent sees it (and the pool
//     stays).
//   - EffReopenRoute: the retirement was refused; open the route again.
//   - EffWithdraw: remove Pool's route for Disc from the table. The route
//     stays closed, for callers that read it just before.
//   - EffClosePool: deliver actors.Close to Pool (Retire says it retires
//     rather than closes with the manager).
//   - EffForceClose: deliver actors.ForceClose to Pool.
//   - EffStop: stop Pool's driver; nothing can reach it any more.
//   - EffClosed: every pool has drained after Close.
//
// Permits under MaxTotal (answers to a pool's EffRequestPermit):
//   - EffGrantPermit: deliver actors.PermitGranted to Pool.
//   - EffRefuseFill: deliver actors.PermitRefused to Pool.
//   - EffDenyPermit: deliver actors.PermitDenied to Pool.
//   - EffSteal: deliver actors.StealIdle to Pool.
//   - EffPermitWithdrawn: answer a pool's WithdrawPermit: deliver
//     actors.PermitWithdrawn{Removed} to Pool, after every answer sent to it
//     before (a grant that crossed the withdrawal must arrive first).
//   - EffCancelSteal: deliver actors.StealCancelled to Pool: a steal asked
//     of it is no longer needed (the request it was for was withdrawn, or
//     served by a permit that paid no steal).
package decide

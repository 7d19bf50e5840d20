// Package actors holds the pool: a pure, deterministic state machine (Pool)
// that decides everything about one pool key, and the protoactor actor that
// feeds it messages and carries out the effects it asks for.
//
// The state machine is modelled on etcd-io/raft's RawNode: it does no I/O,
// starts no goroutine and never reads the clock. It has one entry point,
// Step, which takes the current time and one Input (a sealed type: one
// struct per kind of event), and two shortcuts for the hit path, StepHit
// and StepHitRelease, which a driver may offer an Acquire or a Release
// first: they decide exactly as Step would when the step is a plain hit,
// and change nothing otherwise (see hit.go). The effects it decides on are
// handed out by Ready and handed back by Advance; a Step in between panics,
// so a driver can never have the list it is carrying out overwritten under
// it.
//
// # The driver loop
//
// Every driver (the pool actor in actor.go, the test harness, sim/virtual)
// runs this loop, one input at a time:
//
//	p := actors.New(cfg)
//	in := actors.Input(actors.Start{})
//	for {
//		p.Step(now(), in)
//		for _, e := range p.Ready() {
//			carryOut(e) // must not call p.Step
//		}
//		p.Advance()
//		in = <-inputs // a caller, a result, a timer or the manager
//	}
//
// Several Steps may precede one Ready: their effects accumulate in order.
//
// The pool actor's loop, and sim/virtual's, offer an Acquire to StepHit,
// and a Release to StepHitRelease, before Step (the test harness's
// reference pool uses Step alone):
//
//	if g, ok := p.StepHit(now(), acq); ok {
//		answer(acq, g) // the grant Ready would have held as its one EffGrant
//	} else {
//		p.Step(now(), acq) // then Ready, carry out, Advance as above
//	}
//
// # What the driver does with each effect
//
// Answers to a caller (exactly one per Acquire, identified by AcquireID and
// ReplyTo as the Acquire gave them):
//   - EffGrant: give the caller Resource, named Conn; its Release names Conn.
//   - EffFail: give the caller Err.
//   - EffCancelled: tell the caller its Cancel withdrew it (Err is its
//     timeout error, saying what it waited on; Waiters the queue it left).
//
// Work off the mailbox, each reported back as the Input named:
//   - EffDial: open one connection, logging in with Token if the pool uses
//     tokens; report DialDone, also on failure.
//   - EffMint: get a token from the identity's source; report MintDone.
//   - EffValidate: health-check Resource; report ValidateDone{Conn, OK}.
//   - EffClose: close Resource (Reason says why, for logs and stats); report
//     CloseDone{Conn} when the close has finished, whatever its error. The
//     slot counts against MaxSize until then. A forced close (ReasonForced,
//     with Holder) waits, after the cut, for the holder's operation still
//     inside Resource (see Effect.Holder).
//   - EffWake: deliver Tick at At, replacing any earlier request.
//   - EffEvicted: send one value on Evicted (the Done of an Evict input):
//     every connection of before that Evict has finished closing.
//
// A driver records Pool.Epoch when it starts a dial and hands it back in
// DialDone.Epoch, so that a connection dialed before an Evict is not used.
//
// Messages to the manager (sim/virtual plays the manager itself):
//   - EffRequestPermit: ask for a permit under the global cap (Fill: only
//     for MinSize). The manager answers PermitGranted, PermitRefused (a fill
//     at the cap) or PermitDenied (it is closing).
//   - EffReturnPermit: hand one permit back.
//   - EffStealRefused: answer a StealIdle the pool could not honour.
//     The manager may later call off a StealIdle with StealCancelled.
//   - EffWithdrawPermit: take one of the pool's queued permit requests back
//     (no waiter needs it any more). The manager answers PermitWithdrawn,
//     after any answer it sent for the pool's requests before.
//   - EffRetire: ask to be retired; Seen is how many Acquires the pool has
//     had, for the manager's sent-versus-seen check. The manager answers
//     Close (retirement agreed) or nothing (refused; the pool asks again).
//   - EffDrained: a closing pool has closed everything; the manager may stop
//     the driver once no acquire can still reach it.
//
// The actor does the blocking work in goroutines that report by message, so
// its Receive never blocks; the simulation schedules the same work as
// events on a virtual clock.
package actors

// Package actors holds the pool: a pure, deterministic state machine (Pool)
// that decides everything about one pool key, and the protoactor actor that
// feeds it messages and carries out the effects it asks for.
//
// The state machine is modelled on etcd-io/raft's RawNode: it does no I/O,
// starts no goroutine and never reads the clock. Each call to Step takes the
// current time and one input and returns the effects to perform (grant this
// waiter that connection, dial with this token, close these connections, wake
// me at T). The actor performs them: replies go out on the caller's buffered
// channel, and every blocking call (dial, token mint, ping, close) runs in a
// goroutine that reports back to the actor's mailbox. The simulation harness
// drives the same state machine directly under a virtual clock.
package actors

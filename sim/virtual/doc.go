// Package virtual runs a workload against idpool's pool state machine
// (actors.Pool) under a virtual clock: a discrete-event simulation with no
// goroutines and no real time, seeded and reproducible.
//
// It plays every part around the state machines the way the real system
// does: the manager (one Pool per identity, created on first acquire, the
// retirement handshake that agrees only when no acquire is in flight), the
// pool actors' effect handling (dials, token mints, health checks, closes
// and timers become events that complete after a drawn latency), the
// callers (arrivals, hold times, queries, deadlines and Cancel), a server
// (sessions that can be killed, logins that can be refused, slow or fail,
// tokens enforced to their real expiry), a token endpoint that caches,
// rotates and has outages, and an optional global connection cap.
//
// After every step (every call into a state machine) it runs
// Pool.CheckInvariants and its own checker, which watches only what the
// effects show: who holds which connection, how many each pool has open or
// dialing, which identity a connection logged in as, when its token really
// expires, whether every acquire got exactly one answer by its deadline, the
// order waiters were served in, and what is still open after Close.
package virtual

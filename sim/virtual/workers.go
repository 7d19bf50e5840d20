package virtual

import (
	"fmt"
	"time"

	"github.com/idpool/idpool/sim/workload"
)

// answered marks r answered and takes it off its pool's queue.
func (e *engine) answered(r *request) {
	r.answered = true
	e.dequeue(r)
}

// dequeue takes r off its pool's queue: the pool has answered it.
func (e *engine) dequeue(r *request) {
	if r.queued {
		r.queued = false
		e.waiting--
		p := r.pool
		for p.head < len(p.queue) && !p.queue[p.head].queued {
			p.queue[p.head] = nil
			p.head++
		}
		if p.head > 256 && p.head*2 > len(p.queue) {
			n := copy(p.queue, p.queue[p.head:])
			clear(p.queue[n:])
			p.queue = p.queue[:n]
			p.head = 0
			for i, q := range p.queue {
				q.queueIdx = i
			}
		}
	}
}

// startOp is the worker using its lease: every statement checks the
// session's identity (SELECT SUSER_SNAME()), that it is alive and that its
// token has not expired.
func (e *engine) startOp(r *request) {
	e.res.Ops[r.op.String()]++
	if !e.use(r) {
		e.endOp(r)
		return
	}
	var d time.Duration
	switch r.op {
	case workload.OpSlow:
		d = e.cfg.SlowQuery
	default:
		d = e.cfg.Hold.Sample(e.rOp)
	}
	e.schedule(event{at: e.at(d), kind: evOpEnd, req: r})
}

// use runs one statement on r's connection; false means it failed and the
// connection is broken.
func (e *engine) use(r *request) bool {
	c := r.use
	if c == r.conn && c.holder != r {
		holder := "nobody (idle)"
		if c.holder != nil {
			holder = fmt.Sprintf("acquire %d", c.holder.h.id)
		}
		e.checks.violation(&e.res.Violations.StaleLeaseUse, "stale lease use: acquire %d of %s reached session %d after its release; the session is held by %s",
			r.h.id, r.ident.name, c.id, holder)
		e.opError(r, "stale_lease")
		return false
	}
	if c.ident != r.ident {
		e.checks.violation(&e.res.Violations.CrossIdentity, "cross identity: %s was handed session %d logged in as %s", r.ident.name, c.id, c.ident.name)
		e.opError(r, "wrong_identity")
		return false
	}
	if !c.open {
		e.opError(r, "session_closed")
		return false
	}
	if c.dead {
		e.opError(r, "session_killed")
		return false
	}
	if c.realExpiry != 0 && e.now >= c.realExpiry {
		e.checks.violation(&e.res.Violations.ExpiredTokenUse, "expired token use: session %d of %s used %s after its token expired",
			c.id, c.ident.name, time.Duration(e.now-c.realExpiry))
		e.opError(r, "token_expired")
		return false
	}
	return true
}

func (e *engine) opError(r *request, kind string) {
	r.broken = true
	e.res.ErrorsByKind[kind]++
	e.res.Errors++
}

// opEnd: the last statement (COMMIT, or the ROLLBACK the release does for
// an abandoned transaction) runs, then the worker releases.
func (e *engine) opEnd(r *request) {
	if !r.broken && (r.op == workload.OpCommit || r.op == workload.OpAbandon || r.op == workload.OpSlow) {
		e.use(r)
	}
	e.endOp(r)
}

// endOp releases r's connection and lets the worker go on.
func (e *engine) endOp(r *request) {
	if r.conn.holder == r {
		r.conn.holder = nil
	}
	r.pool.busy--
	e.schedule(event{at: e.at(e.cfg.Latency.Mailbox), kind: evDeliverRelease, req: r})
	e.bugStaleUse(r)
	e.next(r)
}

// next schedules r's worker's next acquire.
func (e *engine) next(r *request) {
	if r.w != nil && !e.stopping {
		e.schedule(event{at: e.at(e.cfg.Think.Sample(e.rArrive)), kind: evArrive, w: r.w})
	}
}

// finishRequest: r is done (failed, timed out, or released).
func (e *engine) finishRequest(r *request) {
	if !r.finished {
		r.finished = true
		e.inflight--
	}
}

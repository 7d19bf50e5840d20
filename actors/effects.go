package actors

import "sync"

// A pool's effect list is lent to it from the first effect a Step decides
// until Advance, not kept. Keeping it cost every idle pool its capacity, at
// least one 160-byte Effect, for as long as it sat idle: with thousands of
// identity pools, most idle, that was a tenth of an idle pool. Lists come
// from a sync.Pool, so a busy pool still allocates none per step (a Get and
// a Put, tens of nanoseconds, against a 160-byte allocation).
var effectLists = sync.Pool{New: func() any { return new([]Effect) }}

// maxLentEffects bounds the capacity of a list given back for reuse: a rare
// step that decided hundreds of effects (Close of a large pool) should not
// leave a list that large behind.
const maxLentEffects = 64

// emit appends e to the effects of the current Steps.
func (p *Pool) emit(e Effect) {
	if p.out == nil {
		p.out = effectLists.Get().(*[]Effect)
	}
	*p.out = append(*p.out, e)
}

// effects returns the effects of the Steps since the last Advance.
func (p *Pool) effects() []Effect {
	if p.out == nil {
		return nil
	}
	return *p.out
}

// returnEffects gives the list back once its effects are carried out.
func (p *Pool) returnEffects() {
	if p.out == nil {
		return
	}
	clear(*p.out) // drop references to connections and reply channels
	*p.out = (*p.out)[:0]
	if cap(*p.out) <= maxLentEffects {
		effectLists.Put(p.out)
	}
	p.out = nil
}

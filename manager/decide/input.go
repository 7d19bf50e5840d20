package decide

// PoolID names one pool the manager spawned; it is never reused.
type PoolID uint64

// Input is one thing that happens to the manager. It is sealed: only this
// package defines inputs.
type Input interface{ isInput() }

// Acquire is an acquire that reached the manager: the identity Disc has no
// published route, or its route was closed when the caller looked.
type Acquire struct {
	Disc string
	// UsesToken says whether the identity logs in with a token (for the
	// pool's configuration, should one be spawned).
	UsesToken bool
}

// RetireRequest is a pool's EffRetire: it has been idle for RetireAfter and
// has received Seen acquires.
type RetireRequest struct {
	Pool PoolID
	Seen uint64
}

// RouteClosed answers EffCloseRoute: Sent acquires have been sent over the
// route, read after it was closed.
type RouteClosed struct {
	Pool PoolID
	Sent uint64
}

// Drained is a pool's EffDrained: it has closed everything after receiving
// Seen acquires, while Sent were sent to it (read after its route closed).
type Drained struct {
	Pool       PoolID
	Seen, Sent uint64
}

// PermitRequest is a pool's EffRequestPermit; Fill: only for MinSize.
type PermitRequest struct {
	Pool PoolID
	Fill bool
}

// PermitReturn is a pool's EffReturnPermit. The pool may have stopped since.
type PermitReturn struct{ Pool PoolID }

// StealRefused is a pool's EffStealRefused.
type StealRefused struct{ Pool PoolID }

// WithdrawPermit is a pool's EffWithdrawPermit: it no longer needs one of
// its queued permit requests.
type WithdrawPermit struct{ Pool PoolID }

// Close closes the manager: every pool closes, queued permit requests are
// denied, later acquires fail.
type Close struct{}

// ForceClose asks every closing pool to close what is still leased out.
type ForceClose struct{}

func (Acquire) isInput()        {}
func (RetireRequest) isInput()  {}
func (RouteClosed) isInput()    {}
func (Drained) isInput()        {}
func (PermitRequest) isInput()  {}
func (PermitReturn) isInput()   {}
func (StealRefused) isInput()   {}
func (WithdrawPermit) isInput() {}
func (Close) isInput()          {}
func (ForceClose) isInput()     {}

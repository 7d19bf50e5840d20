package messages

// PoolStats is a snapshot of one pool.
type PoolStats struct {
	// Closing: the pool is retiring or closing, and has not drained yet.
	Closing bool
	Key     string // redacted pool key: server, identity kind and a short hash
	// Discriminator is the identity part of the key in full. It holds no
	// secret but may hold client ids: keep it out of logs and metrics.
	Discriminator string
	MaxSize       int
	// Gauges.
	Open, Idle, Busy, Dialing, Waiters int
	// AwaitingPermit counts dials waiting for a global-cap permit; Owed
	// counts connections promised to the manager for another pool.
	AwaitingPermit, Owed int
	// ClosingConns counts connections the pool has decided to close whose
	// close has not finished: they are still sessions at the server and
	// count against MaxSize. A connection closed by force waits here while
	// an operation of its lease is still inside it (see manager's
	// Manager.Close). Checking counts connections in a health or
	// token check; Minting is 1 while a token mint is in flight.
	ClosingConns, Checking, Minting int
	// Counters since the pool started. Acquires counts every acquire the
	// pool received, including those it refused (closing, exhausted, a
	// blocking period) or failed later. Each grant counts once, in Hits
	// when the connection had been leased before and in Misses when it was
	// just dialed. Timeouts counts queued acquires failed at their deadline
	// (AcquireTimeout, or the caller's ctx deadline), Cancels those
	// withdrawn because the caller's ctx was cancelled, and Exhausted those
	// refused at MaxWaiters. A grant that crosses the caller's withdrawal
	// (the pool granted before it saw the Cancel) counts as a hit or a
	// miss, not as a timeout or a cancel, although the caller gets a
	// *TimeoutError and the connection goes back unused: the pool decided
	// to grant, and the counters record the pool's decisions.
	Acquires, Hits, Misses, Timeouts, Cancels, Exhausted uint64
	Opens, DialFailures, TokenMints, MintFailures        uint64
	Rotations, StaleDrained, ExpiredClosed               uint64
	// Refreshes counts background mints ahead of expiry (actors'
	// PoolConfig.RefreshAhead, manager's Config.TokenRefreshAhead).
	Refreshes uint64
	// Evictions counts Evicts (Manager.Evict, Manager.Reset) the pool took;
	// the connections they dropped are in Closes["evicted"].
	// CredentialChanges counts acquires that brought a credential other than
	// the pool's (the newest wins), and CredentialRetries the mints that
	// failed with an older credential and were retried with the newer one.
	Evictions, CredentialChanges, CredentialRetries uint64
	// BlockedPeriods counts blocking periods begun after failed dials, and
	// BlockedFails the acquires failed fast during them.
	BlockedPeriods, BlockedFails uint64
	Closes                       map[string]uint64 // by reason
	// Wait counts how long acquires waited (zero for a pool hit).
	Wait WaitHistogram
}

// ManagerStats is the manager's part of a Stats answer.
type ManagerStats struct {
	Pools int
	// Snapshots is how many PoolStats will arrive: live pools plus those
	// still draining after retirement or Close.
	Snapshots    int
	PoolsCreated uint64
	PoolsRetired uint64
	// PoolStats will carry one snapshot per pool in Pools.
	PoolStats chan PoolStats
	// PermitsInUse and PermitWaiters describe the global cap (zero when off).
	PermitsInUse, PermitWaiters int
	// Gone sums the counters of pools that retired or closed.
	Gone PoolStats
	// GoneByKind is Gone split by identity kind (tokens.Kind's String).
	GoneByKind map[string]PoolStats
}

package messages

// Some messages may reach a pool actor that has just stopped: its timer's
// Tick, a late Release after a forced Close, a StealIdle, StealCancelled,
// PermitWithdrawn or Cancel racing its retirement. Those are expected and
// harmless, so they are marked for protoactor not to log them (which would
// also start its dead-letter throttle goroutine). The marker method is the only behaviour any message
// has.

// IgnoreDeadLetterLogging implements actor.IgnoreDeadLetterLogging.
func (*Tick) IgnoreDeadLetterLogging() {}

// IgnoreDeadLetterLogging implements actor.IgnoreDeadLetterLogging.
func (*Release) IgnoreDeadLetterLogging() {}

// IgnoreDeadLetterLogging implements actor.IgnoreDeadLetterLogging.
func (*StealIdle) IgnoreDeadLetterLogging() {}

// IgnoreDeadLetterLogging implements actor.IgnoreDeadLetterLogging.
func (*Cancel) IgnoreDeadLetterLogging() {}

// IgnoreDeadLetterLogging implements actor.IgnoreDeadLetterLogging.
func (*StealCancelled) IgnoreDeadLetterLogging() {}

// IgnoreDeadLetterLogging implements actor.IgnoreDeadLetterLogging.
func (*PermitWithdrawn) IgnoreDeadLetterLogging() {}

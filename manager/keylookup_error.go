package manager

// keyLookupError is a *TimeoutError of an acquire that ran out of time while
// its identity learned its key, with the lookup's own error beneath it: it
// matches ErrAcquireTimeout and the ctx's error as every acquire timeout does
// (errors.As finds the *TimeoutError), and errors.Is reaches what the token
// source said.
type keyLookupError struct {
	*TimeoutError
	cause error
}

// Error says the acquire timed out learning the key, then the cause.
func (e *keyLookupError) Error() string {
	return e.TimeoutError.Error() + ": " + e.cause.Error()
}

// Unwrap returns both: errors.As finds the *TimeoutError, errors.Is the
// cause's errors too.
func (e *keyLookupError) Unwrap() []error { return []error{e.TimeoutError, e.cause} }

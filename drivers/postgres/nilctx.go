package postgres

import "github.com/idpool/idpool/manager"

// nilContextError is the refusal of a call given a nil ctx: it matches
// manager.ErrNilContext and names the call (Type.Method). The Pool's,
// Lease's and transaction's calls refuse a nil ctx first, before a lease
// is taken or the guard entered, rather than panic with a bare nil pointer
// part-way through; a transaction's Commit or Rollback refused so leaves
// it open, to be ended with a ctx. A string, so the refusal allocates
// nothing.
type nilContextError string

func (e nilContextError) Error() string {
	return "postgres: " + string(e) + ": nil Context (pass context.Background() or context.TODO(), not nil)"
}

// Is makes the error match manager.ErrNilContext.
func (e nilContextError) Is(target error) bool { return target == manager.ErrNilContext }

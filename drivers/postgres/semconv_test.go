package postgres

import "github.com/idpool/idpool/manager"

// The spans of a manager over this Dialer name the database as the
// semantic conventions do.
var _ manager.DBSystemNamer = (*Dialer)(nil)

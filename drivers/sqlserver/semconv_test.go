package sqlserver_test

import (
	"github.com/idpool/idpool/drivers/sqlserver"
	"github.com/idpool/idpool/manager"
)

// The spans of a manager over this Dialer name the database as the
// semantic conventions do.
var _ manager.DBSystemNamer = (*sqlserver.Dialer)(nil)

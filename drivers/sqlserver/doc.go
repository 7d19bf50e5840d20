// Package sqlserver dials SQL Server and Azure SQL connections for idpool
// with github.com/microsoft/go-mssqldb.
//
// A Dialer parses its DSN once. A connection of a token identity logs in with
// the FEDAUTH security-token extension and exactly the token the pool minted
// for that connection; the dialer never mints one itself. A SQL-login
// connection logs in with the DSN's own user and password (and its "change
// password", which go-mssqldb sends in every SQL login; a token login sends
// none of the three). No error, String or log value of this package contains
// the DSN's password, its change password or a token.
//
// A DSN must name its server: go-mssqldb takes one that names none (an
// empty DSN, an unknown key such as "host=") as localhost:1433, where a
// token login would hand its token to whatever listens; NewDialer, OpenDB
// and ServerKey refuse it. Name localhost to mean it.
//
// Dial returns once its ctx ends, at any step of the login (go-mssqldb alone
// would wait out a server that stops answering during PRELOGIN or TLS), and
// closes the connection it had opened; see loginGuard.
//
// A Dialer is a manager.Aborter: it keeps the network connection under each
// connection it opened, until go-mssqldb closes it, so that the pool can cut
// a call still running manager.Config.CancelGrace after its ctx ended
// (go-mssqldb would wait up to 5 s, twice, for a server that stopped
// answering to confirm the cancel), and the Close of a result set or the
// rollback of a transaction left open still running CancelGrace after
// Release began it, whatever its ctx (go-mssqldb would wait for good under
// context.Background()).
//
// A Dialer is also a manager.ConnCloser: the pool closes every connection
// it opened through CloseConn, whatever the reason and whatever CancelGrace,
// which closes the network connection and never calls go-mssqldb's
// Conn.Close (but on a connection go-mssqldb dialed over a protocol of its
// own, named pipes or shared memory, which has no socket to close). That Close gives the connection's buffer back to a pool every
// connection in the process shares, then closes the socket, while a
// response reader go-mssqldb left blocked on the socket (a call cancelled on
// a server that never confirmed) may still read into that buffer, over TLS
// even after its socket read returned; never handed on, the buffer cannot
// reach another connection, perhaps another identity's.
//
// A Dialer is also a manager.ResetTracker: go-mssqldb's ResetSession only
// flags the connection for a reset the next request carries, and a call
// that fails in the driver before sending anything has cleared the flag;
// the Dialer flags it again when nothing was written since the reset, so
// that the last lease's session state never reaches the next lease's calls.
//
// A Dialer is also a manager.TxReporter: a transaction begun as SQL (BEGIN
// TRAN in a batch), which Release cannot roll back, would wait for that
// reset, open with its locks, while the connection sat idle in the pool;
// the Dialer reports it (from go-mssqldb's transaction descriptor, read
// without I/O) and the pool closes the connection instead.
package sqlserver
